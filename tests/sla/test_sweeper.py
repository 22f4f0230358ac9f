"""The SLA sweeper writes one `sla.breached` event per breach: when it happens, not at read
time, and never twice (a second sweep, a fresh Database object, a restarted app)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlmodel import col

from gateway.domain.settings import Settings
from gateway.domain.sla.sweeper import sweep_once
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Incident, TimelineEvent
from gateway.domain.timeutil import isoformat_z, utcnow
from gateway.service.app import create_app
from gateway.service.lifecycle import SWEEPER_KEY
from tests.support.server import Server
from tests.support.sla import eventually, incident_at, workspace_with_key

H = timedelta(hours=1)
M = timedelta(minutes=1)


async def _breach_events(db: Database) -> Counter[tuple[str, str]]:
    async with db.read() as session:
        rows = (await session.execute(
            select(col(TimelineEvent.incident_id), col(TimelineEvent.data))
            .where(col(TimelineEvent.type) == "sla.breached")
        )).all()
    return Counter((incident_id, data["kind"]) for incident_id, data in rows)


async def _seed(db: Database) -> dict[str, str]:
    workspace, _ = await workspace_with_key(db, "sweep-ws")
    now = utcnow()
    made = {
        # critical, 20 min unacknowledged: ack missed (15 min), resolve not yet (4 h).
        "late_ack": await incident_at(db, workspace, "critical", now - 20 * M),
        # high, 9 h open: both missed.
        "both": await incident_at(db, workspace, "high", now - 9 * H, acked=now - 8 * H),
        # medium acknowledged in time, open 1 h: nothing missed.
        "fine": await incident_at(db, workspace, "medium", now - H, acked=now - 50 * M),
        # info has no targets, however old.
        "info": await incident_at(db, workspace, "info", now - 100 * H),
        # critical acknowledged 5 min late and already resolved: the breach is still written.
        "closed_late": await incident_at(db, workspace, "critical", now - 2 * H,
                                         acked=now - 2 * H + 20 * M, resolved=now - H),
    }
    return {name: row.id for name, row in made.items()}


async def test_each_breach_is_written_once_also_across_a_restart(
    db: Database, db_url: str
) -> None:
    ids = await _seed(db)
    assert await _breach_events(db) == Counter()  # nothing at read time

    swept_at = utcnow()
    assert await sweep_once(db) == 4
    expected = Counter({
        (ids["late_ack"], "ack"): 1, (ids["both"], "ack"): 1, (ids["both"], "resolve"): 1,
        (ids["closed_late"], "ack"): 1,
    })
    assert await _breach_events(db) == expected
    assert await sweep_once(db) == 0

    fresh = Database(db_url)  # a restarted process: nothing shared but the database file
    try:
        assert await sweep_once(fresh) == 0
        assert await sweep_once(fresh, now=utcnow() + 5 * M) == 0
        assert await _breach_events(fresh) == expected
        # Time passes: the critical incident now also misses its 4 h resolve target.
        assert await sweep_once(fresh, now=utcnow() + 4 * H) == 1
    finally:
        await fresh.dispose()
    assert (await _breach_events(db))[(ids["late_ack"], "resolve")] == 1

    async with db.read() as session:
        incident = await session.get(Incident, ids["late_ack"])
        event = (await session.execute(
            select(TimelineEvent).where(
                col(TimelineEvent.incident_id) == ids["late_ack"],
                col(TimelineEvent.type) == "sla.breached",
            ).order_by(col(TimelineEvent.at))
        )).scalars().first()
    assert incident is not None and event is not None and event.actor == "system"
    assert event.data == {
        "kind": "ack", "severity": "critical", "target_seconds": 900,
        "due_at": isoformat_z(incident.created_at + timedelta(seconds=900)),
    }
    # Stamped when the sweep saw it (the timeline stays in time order), not at the due time.
    assert abs((event.at - swept_at).total_seconds()) < 5


async def test_concurrent_sweeps_write_once(db: Database, db_url: str) -> None:
    await _seed(db)
    other = Database(db_url)
    try:
        results = await asyncio.gather(sweep_once(db), sweep_once(other), sweep_once(db))
    finally:
        await other.dispose()
    assert sum(results) == 4
    assert set((await _breach_events(db)).values()) == {1}


async def test_breaches_show_in_the_timeline_through_graphql(server: Server, db: Database) -> None:
    workspace, key = await workspace_with_key(db, "sweep-gql")
    incident = await incident_at(db, workspace, "critical", utcnow() - 30 * M)
    await sweep_once(db)
    body = await server.graphql(
        """query($id: ID!) { incident(id: $id) {
             sla { ackBreached }
             timeline(last: 1) { nodes { type actor data } } } }""",
        {"id": incident.id}, key=key,
    )
    node = body["data"]["incident"]["timeline"]["nodes"][0]
    assert node["type"] == "SLA_BREACHED" and node["actor"] == "system"
    assert node["data"]["kind"] == "ack"
    assert body["data"]["incident"]["sla"]["ackBreached"] is True


async def test_the_app_runs_the_sweeper_and_a_restarted_app_does_not_repeat_it(
    settings: Settings, db: Database, db_url: str
) -> None:
    ids = await _seed(db)
    fast = settings.model_copy(update={"sla_sweep_seconds": 0.05, "report_poll_seconds": 0})

    async def run_app(database: Database, sweeps: int) -> None:
        app = create_app(fast, db=database)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        sweeper = app[SWEEPER_KEY]

        async def swept() -> bool:
            return sweeper.sweeps >= sweeps

        try:
            await eventually(swept)
        finally:
            await server.close()

    await run_app(db, 2)
    first = await _breach_events(db)
    assert sum(first.values()) == 4 and set(first.values()) == {1}

    restarted = Database(db_url)
    try:
        await run_app(restarted, 3)
        assert await _breach_events(restarted) == first
    finally:
        await restarted.dispose()
    assert ids["fine"] not in {incident_id for incident_id, _ in first}
