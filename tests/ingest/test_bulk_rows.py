"""Bulk rows (`gateway.domain.storage.bulk`), which ingestion writes its new incidents and alerts
with, on both backends: kept out of the session until a flush, then inserted parents first with
one statement per table whatever order they were made in; changed in place before that and
ordinary UPDATEs after; found by the queries that flush them; gone with a rollback."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.storage import bulk, direct
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, TimelineEvent
from gateway.domain.timeutil import utcnow
from tests.support.data import Tenants


def rows(workspace_id: str, count: int) -> tuple[list[Incident], list[Alert]]:
    now = utcnow()
    incidents = [
        direct.new_row(Incident, id=ids.new_id(ids.INCIDENT), workspace_id=workspace_id,
                     number=10_000 + n, title=f"bulk {n}", created_at=now, updated_at=now)
        for n in range(count)
    ]
    alerts = [
        direct.new_row(Alert, id=ids.new_id(ids.ALERT), workspace_id=workspace_id,
                     incident_id=incident.id, title=incident.title,
                     fingerprint=f"bulk-{incident.number}", first_seen_at=now, last_seen_at=now,
                     received_at=now)
        for incident in incidents
    ]
    return incidents, alerts


def statements(db: Database) -> list[str]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2].split("(")[0].strip())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def test_rows_go_in_parents_first_in_one_statement_per_table(
    db: Database, tenants: Tenants
) -> None:
    incidents, alerts = rows(tenants.acme.id, 5)
    seen = statements(db)
    async with db.write() as session:
        for alert in alerts:  # children made known first
            bulk.add(session, alert)
        for incident in incidents:
            bulk.add(session, incident)
        incidents[0].alert_count = 7  # changed before the flush: inserted so
        assert bulk.is_pending(session, incidents[0])
    assert [s for s in seen if s.startswith("INSERT")] == [
        "INSERT INTO incidents", "INSERT INTO alerts"
    ]
    async with db.read() as session:
        stored = (await session.execute(
            select(Incident).where(col(Incident.number) >= 10_000).order_by(col(Incident.number))
        )).scalars().all()
        assert [i.alert_count for i in stored] == [7, 0, 0, 0, 0]
        linked = (await session.execute(
            select(Alert).where(col(Alert.fingerprint).startswith("bulk-"))
        )).scalars().all()
        assert {a.incident_id for a in linked} == {i.id for i in incidents}


async def test_a_flushed_row_is_in_the_session_and_later_changes_are_updates(
    db: Database, tenants: Tenants
) -> None:
    incidents, _ = rows(tenants.acme.id, 1)
    [incident] = incidents
    async with db.write() as session:
        bulk.add(session, incident)
        found = await session.get(Incident, incident.id)  # a query flushes the kept rows
        assert found is incident and not bulk.is_pending(session, incident)
        incident.alert_count = 3
        session.add(incident)
    async with db.read() as session:
        stored = await session.get(Incident, incident.id)
        assert stored is not None and stored.alert_count == 3


async def test_rows_made_by_insert_later_go_in_and_stay_out_of_the_session(
    db: Database, tenants: Tenants
) -> None:
    """A timeline event or a delivery is never changed after it is made: inserted with its
    table's other rows, it is not attached (that was ~3% of a webhook request)."""
    incidents, _ = rows(tenants.acme.id, 1)
    [incident] = incidents
    async with db.write() as session:
        bulk.add(session, incident)
        event_row = bulk.insert_later(
            session, TimelineEvent, id=ids.new_id(ids.EVENT), workspace_id=incident.workspace_id,
            incident_id=incident.id, type="incident.created", at=utcnow(), actor="test",
            message="made later", data={"n": 1},
        )
        await session.flush()
        assert incident in session.sync_session  # attached: later changes are UPDATEs
        assert event_row not in session.sync_session
        assert event_row.message == "made later"  # and still readable
    async with db.read() as session:
        stored = await session.get(TimelineEvent, event_row.id)
        assert stored is not None and stored.data == {"n": 1}


async def test_kept_rows_of_a_write_that_fails_are_never_written(
    db: Database, tenants: Tenants
) -> None:
    incidents, alerts = rows(tenants.acme.id, 3)
    first = incidents[0].id
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            for row in (*incidents, *alerts):
                bulk.add(session, row)
            await session.flush()
            raise RuntimeError("the work failed after its rows went in")
    async with db.read() as session:
        assert await session.get(Incident, first) is None


def test_a_new_row_is_what_the_model_makes() -> None:
    now = utcnow()
    values: dict[str, Any] = dict(id="alt_x", workspace_id="ws_x", title="t", fingerprint="f",
                  first_seen_at=now, last_seen_at=now, received_at=now)
    assert direct.new_row(Alert, **values).model_dump() == Alert(**values).model_dump()
    with pytest.raises(TypeError, match="title is required"):
        direct.new_row(Alert, id="alt_y", workspace_id="ws_x")
