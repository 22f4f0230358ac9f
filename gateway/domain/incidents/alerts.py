"""Alerts: listing and lookup, always inside one workspace. (Writing alerts is ingestion's job.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.errors import NotFound
from gateway.domain.listing import EQ, IN, TEXT, Condition, Listing
from gateway.domain.pagination import Page, PageArgs, SortKey, apply_keyset, make_page
from gateway.domain.storage.models import Alert
from gateway.domain.storage.rows import counts_per_parent, limited_per_parent

ALERT_SORT = SortKey(Alert.received_at, Alert.id, descending=True, attribute="received_at")


@dataclass(frozen=True)
class AlertFilter:
    status: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    source: str | None = None
    incident_id: str | None = None
    query: str | None = None


NO_FILTER = AlertFilter()

# Alerts of a workspace, newest first: what `AlertFilter` can ask for. The list functions below
# and the cached plans (schema/plan) both build their SQL from it.
ALERTS = Listing(
    Alert, Alert.workspace_id, {"received_at:desc": ALERT_SORT}, "received_at:desc",
    conditions=(
        Condition("status", IN, (Alert.status,)),
        Condition("severity", IN, (Alert.severity,)),
        Condition("source", EQ, (Alert.source,)),
        Condition("incident_id", EQ, (Alert.incident_id,)),
        Condition("query", TEXT, (Alert.title, Alert.description)),
    ),
)


def _filtered(workspace_id: str, flt: AlertFilter) -> Select[Any]:
    return ALERTS.select(workspace_id, flt)


async def list_alerts(
    session: AsyncSession, workspace_id: str, flt: AlertFilter, args: PageArgs
) -> Page[Alert]:
    stmt = apply_keyset(_filtered(workspace_id, flt), ALERT_SORT, args)
    rows = (await session.execute(stmt)).scalars().all()
    return make_page(rows, ALERT_SORT, args)


async def count_alerts(session: AsyncSession, workspace_id: str, flt: AlertFilter) -> int:
    stmt = select(func.count()).select_from(_filtered(workspace_id, flt).subquery())
    return int((await session.execute(stmt)).scalar_one())


async def alerts_by_ids(
    session: AsyncSession, workspace_id: str, wanted: list[str]
) -> dict[str, Alert]:
    if not wanted:
        return {}
    stmt = select(Alert).where(
        col(Alert.workspace_id) == workspace_id,
        col(Alert.id).in_(wanted),
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def get_alert(session: AsyncSession, workspace_id: str, alert_id: str) -> Alert:
    found = await alerts_by_ids(session, workspace_id, [alert_id])
    if alert_id not in found:
        raise NotFound(f"no alert {alert_id}", field="id")
    return found[alert_id]


async def pages_for_incidents(
    session: AsyncSession, workspace_id: str, incident_ids: list[str], args: PageArgs,
    flt: AlertFilter = NO_FILTER,
) -> dict[str, Page[Alert]]:
    """The same page of (the filtered) alerts of many incidents, in one statement."""
    return await limited_per_parent(
        session, _filtered(workspace_id, flt), Alert, Alert.incident_id, incident_ids,
        ALERT_SORT, args,
    )


async def counts_for_incidents(
    session: AsyncSession, workspace_id: str, incident_ids: list[str], flt: AlertFilter
) -> dict[str, int]:
    """How many alerts of each incident match `flt` (without one, `Incident.alert_count`)."""
    return await counts_per_parent(
        session, _filtered(workspace_id, flt), Alert.incident_id, incident_ids
    )
