"""Timeline events: the append-only history of an incident.

`record` is the only way events are written, and it takes the caller's session: the event lands in
the same transaction as the change it describes, or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.events import hub as events
from gateway.domain.listing import Listing
from gateway.domain.pagination import Page, PageArgs, SortKey, apply_keyset, make_page
from gateway.domain.storage import bulk
from gateway.domain.storage.models import EVENT_TYPES, Incident, TimelineEvent
from gateway.domain.storage.rows import counts_per_parent, limited_per_parent
from gateway.domain.timeutil import utcnow

TIMELINE_SORT = SortKey(TimelineEvent.at, TimelineEvent.id, descending=False, attribute="at")
# An incident's events, oldest first (the cached plans in schema/plan read it too).
TIMELINE = Listing(TimelineEvent, TimelineEvent.workspace_id, {"at:asc": TIMELINE_SORT}, "at:asc")


def record(
    session: AsyncSession,
    incident: Incident,
    type_: str,
    actor: str,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    at: Any = None,
) -> TimelineEvent:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown timeline event type {type_!r}")
    # Append-only: in a write session it goes in with the group's other events, in bulk.
    event = bulk.insert_later(
        session,
        TimelineEvent,
        id=ids.new_id(ids.EVENT),
        workspace_id=incident.workspace_id,
        incident_id=incident.id,
        type=type_,
        at=at or utcnow(),
        actor=actor,
        message=message,
        data=data or {},
    )
    # Subscribers (`incidentEvents`) hear of it once the transaction commits.
    events.record(
        session,
        events.Event(events.INCIDENT_EVENT, event.workspace_id, event.id, incident.id, type_),
    )
    return event


async def list_for_incident(
    session: AsyncSession, workspace_id: str, incident_id: str, args: PageArgs
) -> Page[TimelineEvent]:
    stmt = select(TimelineEvent).where(
        col(TimelineEvent.workspace_id) == workspace_id,
        col(TimelineEvent.incident_id) == incident_id,
    )
    rows = (await session.execute(apply_keyset(stmt, TIMELINE_SORT, args))).scalars().all()
    return make_page(rows, TIMELINE_SORT, args)


async def pages_for_incidents(
    session: AsyncSession, workspace_id: str, incident_ids: list[str], args: PageArgs
) -> dict[str, Page[TimelineEvent]]:
    """The same page of the timeline of many incidents, in one statement."""
    return await limited_per_parent(
        session, TIMELINE.select(workspace_id), TimelineEvent, TimelineEvent.incident_id,
        incident_ids, TIMELINE_SORT, args,
    )


async def counts_for_incidents(
    session: AsyncSession, workspace_id: str, incident_ids: list[str]
) -> dict[str, int]:
    return await counts_per_parent(
        session, TIMELINE.select(workspace_id), TimelineEvent.incident_id, incident_ids
    )


async def events_by_ids(
    session: AsyncSession, workspace_id: str, wanted: list[str]
) -> dict[str, TimelineEvent]:
    if not wanted:
        return {}
    stmt = select(TimelineEvent).where(
        col(TimelineEvent.workspace_id) == workspace_id,
        col(TimelineEvent.id).in_(wanted),
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}
