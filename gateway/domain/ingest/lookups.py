"""The two questions ingestion asks the database, as statements: one alert narrows them to its
fingerprint or group key (`pipeline`, `correlation`), a group to all of its own
(`prefetch`). Written once so that a group always asks exactly what its alerts would alone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.incidents.incidents import row_locked
from gateway.domain.storage.models import OPEN_STATUSES, Alert, Incident, Workspace

Value = str | datetime | ColumnElement[Any]  # a value, or a bound parameter for one


def firing_alerts(workspace_id: Value) -> Select[Any]:
    """Firing alerts a new one may deduplicate into: those whose incident is still open (a
    firing alert left in an incident someone resolved by hand starts afresh). Unordered: narrowed
    to one fingerprint, add `NEWEST_FIRST`; to many, pick each one's newest with `newest`
    (ordered by time, SQLite without statistics walks every alert of the workspace in
    `ix_alerts_ws_received` rather than sort the few rows the fingerprints' index finds)."""
    return (
        select(Alert)
        .outerjoin(Incident, col(Incident.id) == col(Alert.incident_id))
        .where(col(Alert.workspace_id) == workspace_id)
        .where(col(Alert.status) == "firing")
        .where(or_(col(Alert.incident_id).is_(None), col(Incident.status) != "resolved"))
    )


# Newest first; with an equality on the fingerprint, `ix_alerts_ws_fingerprint_received` gives
# the rows in this order (migration 0005).
NEWEST_FIRST = (col(Alert.received_at).desc(), col(Alert.id).desc())


def newest(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """Each fingerprint's newest alert of `alerts`, in the order `NEWEST_FIRST` gives."""
    found: dict[str, Alert] = {}
    for alert in alerts:
        kept = found.get(alert.fingerprint)
        if kept is None or (alert.received_at, alert.id) > (kept.received_at, kept.id):
            found[alert.fingerprint] = alert
    return found


def open_incidents_since(workspace_id: Value, cutoff: Value) -> Select[Any]:
    """Open incidents opened at or after `cutoff`, newest first, locked and re-read
    (PostgreSQL): an analyst resolving one right now either committed, and the row no longer
    matches (the alert opens a new incident), or waits for us."""
    return row_locked(
        select(Incident)
        .where(col(Incident.workspace_id) == workspace_id)
        .where(col(Incident.status).in_(OPEN_STATUSES))
        .where(col(Incident.created_at) >= cutoff)
        .order_by(col(Incident.created_at).desc(), col(Incident.id).desc())
    ).execution_options(populate_existing=True)


# Built once with bound parameters: a statement built per request or group paid for its cache
# key every time (`session.get` of the locked workspace alone was 7% of a T6 profile).
_WORKSPACE: BindParameter[str] = bindparam("workspace_id")
_LOCKED_WORKSPACE = row_locked(
    select(Workspace).where(col(Workspace.id) == _WORKSPACE)
).execution_options(populate_existing=True)


async def locked_workspace(session: AsyncSession, workspace_id: str) -> Workspace | None:
    """The workspace, row-locked and re-read even if the session had it (PostgreSQL: FOR NO KEY
    UPDATE). The lock serialises dedup, correlation, numbering and idempotency per workspace;
    NO KEY lets other transactions keep inserting rows that reference the workspace (their
    foreign-key checks take KEY SHARE), so an analyst's edit never deadlocks with ingestion."""
    found = await session.execute(_LOCKED_WORKSPACE, {"workspace_id": workspace_id})
    workspace: Workspace | None = found.scalars().first()
    return workspace


# A group's questions (`prefetch`).
FIRING_BY_FINGERPRINTS = firing_alerts(_WORKSPACE).where(
    col(Alert.fingerprint).in_(bindparam("fingerprints", expanding=True))
)
OPEN_BY_GROUP_KEYS = open_incidents_since(
    _WORKSPACE, bindparam("cutoff", type_=col(Incident.created_at).type)  # type: ignore[attr-defined]
).where(col(Incident.group_key).in_(bindparam("group_keys", expanding=True)))
