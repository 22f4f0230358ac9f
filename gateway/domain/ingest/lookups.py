"""The two questions ingestion asks the database, as statements: one alert narrows them to its
fingerprint or group key (`pipeline`, `correlation`), a group to all of its own
(`prefetch`). Written once so that a group always asks exactly what its alerts would alone."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.storage import direct
from gateway.domain.storage.models import OPEN_STATUSES, Alert, Incident, Workspace
from gateway.domain.storage.rows import row_locked

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


# A group's questions (`prefetch`), read without the ORM (`direct.load`): the same conditions,
# selecting the table's columns, with an IN list of `size` parameters named `in_0`, `in_1`, ...
# (`in_values`). Sizes are powers of two, so a handful of statements serve every group; the list
# is padded by repeating its last value, which matches nothing more.
IN_LIST_MAX = 512  # larger lists are asked in pieces (`pieces`)


def in_size(count: int) -> int:
    """The statement size for a list of `count` values: the next power of two."""
    return 1 << max(0, count - 1).bit_length()


def pieces(values: list[str]) -> list[list[str]]:
    return [values[at:at + IN_LIST_MAX] for at in range(0, len(values), IN_LIST_MAX)]


def in_values(values: list[str]) -> dict[str, str]:
    """`values` as the parameters of an IN list of `in_size(len(values))` (not empty)."""
    size = in_size(len(values))
    padded = values + [values[-1]] * (size - len(values))
    return {f"in_{n}": value for n, value in enumerate(padded)}


def _in_list(column: Any, size: int) -> ColumnElement[bool]:
    return column.in_([bindparam(f"in_{n}", type_=column.type) for n in range(size)])


@functools.cache
def locked_workspace_row() -> Select[Any]:
    return _LOCKED_WORKSPACE.with_only_columns(*direct.columns_of(Workspace))


@functools.cache
def firing_by_fingerprints(size: int) -> Select[Any]:
    return (
        firing_alerts(_WORKSPACE)
        .where(_in_list(col(Alert.fingerprint), size))
        .with_only_columns(*direct.columns_of(Alert))
    )


@functools.cache
def open_by_group_keys(size: int) -> Select[Any]:
    cutoff = bindparam("cutoff", type_=col(Incident.created_at).type)  # type: ignore[attr-defined]
    return (
        open_incidents_since(_WORKSPACE, cutoff)
        .where(_in_list(col(Incident.group_key), size))
        .with_only_columns(*direct.columns_of(Incident))
    )


@functools.cache
def locked_incidents_by_ids(size: int) -> Select[Any]:
    return row_locked(
        select(*direct.columns_of(Incident))
        .where(col(Incident.workspace_id) == _WORKSPACE)
        .where(_in_list(col(Incident.id), size))
    )
