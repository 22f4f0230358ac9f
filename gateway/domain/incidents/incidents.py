"""Incidents: listing, lookup, the status machine, assignment, severity, notes.

Every function takes the workspace it acts for and filters by it in SQL: another tenant's
incident is simply not found. Every change writes its timeline event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.errors import Conflict, InvalidInput, NotFound
from gateway.domain.incidents import timeline
from gateway.domain.listing import AT_LEAST, BEFORE, EQ, IN, TEXT, Condition, Listing
from gateway.domain.pagination import Page, PageArgs, SortKey, apply_keyset, make_page
from gateway.domain.storage.models import INCIDENT_STATUSES, SEVERITIES, Incident, Note, Workspace
from gateway.domain.storage.rows import counts_per_parent, limited_per_parent, row_locked
from gateway.domain.timeutil import utcnow

ORDER_COLUMNS: dict[str, SortKey] = {}
for _field, _attr, _is_dt in (
    ("created_at", "created_at", True),
    ("updated_at", "updated_at", True),
    ("number", "number", False),
):
    for _desc in (True, False):
        ORDER_COLUMNS[f"{_field}:{'desc' if _desc else 'asc'}"] = SortKey(
            getattr(Incident, _attr), Incident.id, _desc, _attr, _is_dt
        )

DEFAULT_ORDER = "created_at:desc"
NOTE_SORT = SortKey(Note.created_at, Note.id, descending=False, attribute="created_at")

# Allowed status changes: forward only, as in PagerDuty. Re-opening means a new incident.
TRANSITIONS = {
    "triggered": {"acknowledged", "resolved"},
    "acknowledged": {"resolved"},
    "resolved": set(),
}
MAX_NOTE_LENGTH = 10_000


@dataclass(frozen=True)
class IncidentFilter:
    status: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    assignee: str | None = None
    query: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


# Incidents of a workspace: what `IncidentFilter` can ask for and the orders they come in. The
# list functions below and the cached plans (schema/plan) both build their SQL from it.
INCIDENTS = Listing(
    Incident, Incident.workspace_id, ORDER_COLUMNS, DEFAULT_ORDER,
    conditions=(
        Condition("status", IN, (Incident.status,)),
        Condition("severity", IN, (Incident.severity,)),
        Condition("assignee", EQ, (Incident.assignee,)),
        Condition("query", TEXT, (Incident.title,)),
        Condition("created_after", AT_LEAST, (Incident.created_at,)),
        Condition("created_before", BEFORE, (Incident.created_at,)),
    ),
)
NOTES = Listing(Note, Note.workspace_id, {"created_at:asc": NOTE_SORT}, "created_at:asc")


def _filtered(workspace_id: str, flt: IncidentFilter) -> Select[Any]:
    return INCIDENTS.select(workspace_id, flt)


async def list_incidents(
    session: AsyncSession,
    workspace_id: str,
    flt: IncidentFilter,
    args: PageArgs,
    order: str = DEFAULT_ORDER,
) -> Page[Incident]:
    sort = ORDER_COLUMNS[order]
    stmt = apply_keyset(_filtered(workspace_id, flt), sort, args)
    rows = (await session.execute(stmt)).scalars().all()
    return make_page(rows, sort, args)


async def count_incidents(session: AsyncSession, workspace_id: str, flt: IncidentFilter) -> int:
    stmt = select(func.count()).select_from(_filtered(workspace_id, flt).subquery())
    return int((await session.execute(stmt)).scalar_one())


# Built once with bound parameters: a statement built per call pays for its cache key each time.
_BY_IDS = select(Incident).where(
    col(Incident.workspace_id) == bindparam("workspace_id"),
    col(Incident.id).in_(bindparam("ids", expanding=True)),
)
# Writers re-read under the row lock, so two concurrent changes are applied one after the other
# (each sees the other's result) instead of both deciding from a stale row.
_BY_IDS_LOCKED = row_locked(_BY_IDS).execution_options(populate_existing=True)


async def incidents_by_ids(
    session: AsyncSession, workspace_id: str, wanted: list[str], *, for_update: bool = False
) -> dict[str, Incident]:
    if not wanted:
        return {}
    stmt = _BY_IDS_LOCKED if for_update else _BY_IDS
    rows = await session.execute(stmt, {"workspace_id": workspace_id, "ids": wanted})
    return {row.id: row for row in rows.scalars()}


async def get_incident(
    session: AsyncSession, workspace_id: str, incident_id: str, *, for_update: bool = False
) -> Incident:
    found = await incidents_by_ids(session, workspace_id, [incident_id], for_update=for_update)
    if incident_id not in found:
        raise NotFound(f"no incident {incident_id}", field="id")
    return found[incident_id]


@dataclass
class IncidentChanges:
    """What a caller asked to change. None means "leave as is", except for the assignee, where
    `assignee_given` tells "unassign" (None) apart from "not mentioned"."""

    status: str | None = None
    severity: str | None = None
    assignee: str | None = None
    assignee_given: bool = False


async def update_incident(
    session: AsyncSession,
    workspace_id: str,
    incident_id: str,
    changes: IncidentChanges,
    actor: str,
) -> Incident:
    """Apply status/assignee/severity changes; one timeline event per field that changed.

    Validation happens before anything is written, so a rejected change leaves no trace.
    """
    incident = await get_incident(session, workspace_id, incident_id, for_update=True)
    if changes.status is not None:
        if changes.status not in INCIDENT_STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(INCIDENT_STATUSES)}", field="status"
            )
        if changes.status != incident.status and changes.status not in TRANSITIONS[incident.status]:
            raise Conflict(
                f"an incident cannot go from {incident.status} to {changes.status}",
                field="status",
            )
    if changes.severity is not None and changes.severity not in SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if changes.assignee_given and changes.assignee is not None:
        changes.assignee = changes.assignee.strip()
        if not changes.assignee or len(changes.assignee) > 200:
            raise InvalidInput(
                "assignee must be 1-200 characters, or null to unassign", field="assignee"
            )

    now = utcnow()
    if changes.status is not None and changes.status != incident.status:
        set_status(session, incident, changes.status, actor, now)
    if changes.assignee_given and changes.assignee != incident.assignee:
        before = incident.assignee
        incident.assignee = changes.assignee
        message = f"assigned to {changes.assignee}" if changes.assignee else "unassigned"
        timeline.record(
            session, incident, "assignee.changed", actor, message,
            {"from": before, "to": changes.assignee}, at=now,
        )
        incident.updated_at = now
    if changes.severity is not None and changes.severity != incident.severity:
        set_severity(session, incident, changes.severity, actor, now, manual=True)
    elif changes.severity is not None:
        incident.severity_manual = True
    session.add(incident)
    await session.flush()
    return incident


def set_status(
    session: AsyncSession, incident: Incident, status: str, actor: str, now: datetime
) -> None:
    """Move an incident to `status` and write `status.changed` (the caller checked the move)."""
    before = incident.status
    incident.status = status
    if status == "acknowledged" and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if status == "resolved":
        incident.resolved_at = now
    incident.updated_at = now
    timeline.record(
        session, incident, "status.changed", actor, f"{before} → {status}",
        {"from": before, "to": status}, at=now,
    )


def set_severity(
    session: AsyncSession,
    incident: Incident,
    severity: str,
    actor: str,
    now: datetime,
    *,
    manual: bool,
) -> None:
    before = incident.severity
    incident.severity = severity
    incident.severity_manual = incident.severity_manual or manual
    incident.updated_at = now
    timeline.record(
        session, incident, "severity.changed", actor, f"severity {before} → {severity}",
        {"from": before, "to": severity}, at=now,
    )


async def add_note(
    session: AsyncSession,
    workspace_id: str,
    incident_id: str,
    body: str,
    author: str | None,
    actor: str,
) -> Note:
    text = (body or "").strip()
    if not text:
        raise InvalidInput("body must not be empty", field="body")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"body must be at most {MAX_NOTE_LENGTH} characters", field="body")
    if author is not None and not 1 <= len(author.strip()) <= 200:
        raise InvalidInput("author must be 1-200 characters", field="author")
    incident = await get_incident(session, workspace_id, incident_id, for_update=True)
    now = utcnow()
    note = Note(
        id=ids.new_id(ids.NOTE),
        workspace_id=workspace_id,
        incident_id=incident.id,
        body=text,
        author=(author or actor).strip(),
        created_at=now,
    )
    session.add(note)
    incident.updated_at = now
    session.add(incident)
    timeline.record(
        session, incident, "note.added", actor, f"note by {note.author}",
        {"note_id": note.id, "author": note.author}, at=now,
    )
    await session.flush()
    return note


async def notes_for_incidents(
    session: AsyncSession, workspace_id: str, incident_ids: list[str], args: PageArgs
) -> dict[str, Page[Note]]:
    return await limited_per_parent(
        session, NOTES.select(workspace_id), Note, Note.incident_id, incident_ids, NOTE_SORT,
        args,
    )


async def notes_by_ids(
    session: AsyncSession, workspace_id: str, wanted: list[str]
) -> dict[str, Note]:
    if not wanted:
        return {}
    stmt = select(Note).where(col(Note.workspace_id) == workspace_id, col(Note.id).in_(wanted))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def next_number(session: AsyncSession, workspace_id: str) -> int:
    """Reserve the workspace's next incident number inside the caller's write transaction.

    One atomic `UPDATE ... RETURNING` (SQLite 3.35+ and PostgreSQL): the increment happens in the
    database under the row's write lock, so two transactions can never draw the same number,
    whatever the caller's session had loaded before; a rolled-back transaction gives its number
    back, so numbers have no gaps. The unique (workspace_id, number) constraint backs it up.
    """
    stmt = (
        update(Workspace)
        .where(col(Workspace.id) == workspace_id)
        .values(incident_seq=col(Workspace.incident_seq) + 1)
        .returning(col(Workspace.incident_seq))
        .execution_options(synchronize_session=False)
    )
    number = (await session.execute(stmt)).scalar_one_or_none()
    if number is None:
        raise NotFound(f"no workspace {workspace_id}", field="workspace")
    loaded = session.identity_map.get(identity_key(Workspace, workspace_id))
    if loaded is not None:  # keep an already loaded row in step with the database
        set_committed_value(loaded, "incident_seq", number)
    return int(number)


def new_incident(workspace_id: str, number: int, title: str, severity: str) -> Incident:
    now = utcnow()
    return Incident(
        id=ids.new_id(ids.INCIDENT),
        workspace_id=workspace_id,
        number=number,
        title=title[:500],
        severity=severity,
        created_at=now,
        updated_at=now,
    )



async def note_counts_for_incidents(
    session: AsyncSession, workspace_id: str, incident_ids: list[str]
) -> dict[str, int]:
    return await counts_per_parent(session, NOTES.select(workspace_id), Note.incident_id,
                                   incident_ids)
