"""Ingestion under group commit: a group of requests writes exactly what the same requests
write one transaction at a time (a differential test over a mixed stream of new, duplicate,
escalating, grouped and resolved alerts), with the same number of statements for 4 alerts as
for 16; and concurrent webhook posts really are committed in shared transactions."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.ingest import formats, lookups, pipeline, prefetch
from gateway.domain.storage import direct
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, TimelineEvent
from tests.ingest.conftest import Hook, alerts_of, post
from tests.support.data import Tenants
from tests.support.faults import lose_the_connection_after_commit
from tests.support.metrics import scrape, value
from tests.support.server import Server

T = TypeVar("T")


def stream() -> list[dict[str, Any]]:
    """New alerts in six groups, repeats (one escalating), a resolution in the middle, one of
    something never seen, an alert joining an open incident, and one whose incident was just
    resolved (so it opens a new one)."""
    bodies: list[dict[str, Any]] = []
    for n in range(12):
        bodies.append({
            "title": f"alert {n % 5}", "fingerprint": f"fp-{n % 5}",
            "severity": "critical" if n == 7 else "medium",
            "labels": {"alertname": f"rule-{n % 2}", "host": f"h{n % 3}"},
        })
        if n == 6:
            bodies.append({"title": "alert 1", "fingerprint": "fp-1", "status": "resolved"})
        if n == 9:
            bodies.append({"title": "ghost", "fingerprint": "never-fired", "status": "resolved"})
    rule_0_h2 = {"alertname": "rule-0", "host": "h2"}
    bodies += [
        {"title": "joins", "fingerprint": "joins", "labels": {"alertname": "rule-0", "host": "h0"}},
        {"title": "alert 2", "fingerprint": "fp-2", "status": "resolved"},  # closes its incident
        {"title": "after", "fingerprint": "after", "labels": rule_0_h2},  # so: a new incident
    ]
    return bodies


def work(workspace_id: str, body: dict[str, Any]) -> pipeline.IngestWork:
    return pipeline.IngestWork(workspace_id, formats.parse(body), actor="webhook")


async def state(db: Database, workspace_id: str) -> dict[str, Any]:
    """What a user sees, without ids and times: alerts by fingerprint, incidents by number."""
    async with db.read() as session:
        incidents = list((await session.execute(
            select(Incident).where(col(Incident.workspace_id) == workspace_id)
        )).scalars())
        number = {i.id: i.number for i in incidents}
        alerts = list((await session.execute(
            select(Alert).where(col(Alert.workspace_id) == workspace_id)
        )).scalars())
        events = list((await session.execute(
            select(TimelineEvent).where(col(TimelineEvent.workspace_id) == workspace_id)
        )).scalars())
    return {
        "alerts": sorted(
            (a.fingerprint, a.status, a.severity, a.occurrences, number.get(a.incident_id or ""))
            for a in alerts
            if not a.fingerprint.startswith("fp-inc_")  # the fixture's, named by incident id
        ),
        "incidents": sorted(
            (i.number, i.status, i.severity, i.alert_count, i.group_key or "") for i in incidents
        ),
        "events": sorted(Counter((number[e.incident_id], e.type) for e in events).items()),
    }


async def ingest_alone(
    db: Database, workspace_id: str, body: dict[str, Any]
) -> pipeline.IngestResult:
    async with db.write() as session:
        return await work(workspace_id, body)(session)


def answer(result: pipeline.IngestResult) -> list[tuple[Any, ...]]:
    """What a caller is told about each alert, read after its commit as the doors read it,
    without ids and times."""
    return [
        (item.outcome, item.alert.fingerprint, item.alert.status, item.alert.severity,
         item.alert.occurrences,
         (item.incident.number, item.incident.status, item.incident.severity,
          item.incident.alert_count) if item.incident is not None else None)
        for item in result.results
    ]


async def ingest_as_one_group(
    db: Database, works: list[pipeline.IngestWork]
) -> list[pipeline.IngestResult]:
    """Queue every unit while a first group holding their workspaces' lanes is open, so that
    they all share the next one (on PostgreSQL too, where free lanes would run beside it)."""
    lanes = Counter(unit.workspace_id for unit in works)
    return await in_one_group(db, lanes, [pipeline.commit(db, unit) for unit in works])


async def in_one_group(
    db: Database, lanes: Counter[str], requests: Sequence[Awaitable[T]]
) -> list[T]:
    """Run `requests` (which queue `lanes[lane]` units of each lane) as one group."""
    gate = asyncio.Event()
    running = asyncio.Event()

    async def held(session: AsyncSession) -> None:
        running.set()
        await gate.wait()

    first = [asyncio.create_task(db.write_grouped(held, lane=lane)) for lane in lanes]
    await running.wait()
    assert all(db.grouped.in_flight(lane) for lane in lanes)  # taken together, held together
    groups_before = db.grouped.groups
    queued = [asyncio.ensure_future(request) for request in requests]
    async with asyncio.timeout(10):
        while any(db.grouped.queued(lane) < n for lane, n in lanes.items()):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    gate.set()
    await asyncio.gather(*first)
    results = await asyncio.gather(*queued)
    assert db.grouped.groups == groups_before + 2  # the held one, then all of them together
    return results


async def test_a_group_writes_what_the_requests_write_one_by_one(
    db: Database, tenants: Tenants
) -> None:
    alone, grouped = tenants.acme.id, tenants.globex.id
    for body in stream():
        await ingest_alone(db, alone, body)
    results = await ingest_as_one_group(db, [work(grouped, body) for body in stream()])
    assert await state(db, grouped) == await state(db, alone)
    outcomes = Counter(item.outcome for result in results for item in result.results)
    assert outcomes == {"created": 7, "deduplicated": 6, "grouped": 1, "resolved": 3}


async def test_each_request_of_a_group_is_answered_as_it_would_be_alone(
    db: Database, tenants: Tenants
) -> None:
    """The answers as well as the rows: a repeat is told the occurrences it made and its
    incident's count and severity then, not what later requests of its group made of them."""
    alone, grouped = tenants.acme.id, tenants.globex.id
    answers = [answer(await ingest_alone(db, alone, body)) for body in stream()]
    results = await ingest_as_one_group(db, [work(grouped, body) for body in stream()])
    assert [answer(result) for result in results] == answers


REPEAT = """
mutation Repeat($input: IngestAlertInput!) {
  ingestAlert(input: $input) {
    outcome alert { occurrences } incident { alertCount severity }
  }
}
"""


async def test_graphql_callers_of_one_group_are_told_their_own_occurrences(
    server: Server, db: Database, tenants: Tenants
) -> None:
    """Through the server: three posts of one alert (the last escalating it) committed in one
    group are told 1, 2 and 3 occurrences, and the severity as each left it."""
    severities = ["MEDIUM", "MEDIUM", "CRITICAL"]
    posts = [
        server.graphql(REPEAT, {"input": {"title": "repeat", "fingerprint": "repeat-1",
                                          "severity": severity}}, key=tenants.acme.key)
        for severity in severities
    ]
    answers = await in_one_group(db, Counter({tenants.acme.id: 3}), posts)
    # The group takes them in the order they arrived, which need not be the order sent.
    told = sorted(
        (a["data"]["ingestAlert"]["alert"]["occurrences"], sent,
         a["data"]["ingestAlert"]["outcome"], a["data"]["ingestAlert"]["incident"]["severity"])
        for a, sent in zip(answers, severities, strict=True)
    )
    assert [occurrences for occurrences, *_ in told] == [1, 2, 3]
    assert [outcome for _, _, outcome, _ in told] == ["CREATED", "DEDUPLICATED", "DEDUPLICATED"]
    escalated = [any(sent == "CRITICAL" for _, sent, *_ in told[: n + 1]) for n in range(3)]
    assert [severity for *_, severity in told] == [
        "CRITICAL" if up else "MEDIUM" for up in escalated
    ]


async def test_a_group_of_two_workspaces_writes_for_each_what_it_writes_alone(
    db: Database, tenants: Tenants
) -> None:
    """The group takes the workspaces' units in turns (round-robin), not in arrival order:
    each workspace's own requests keep their order, and neither sees the other's."""
    alone, first, second = tenants.acme.id, tenants.globex.id, tenants.other.id
    for body in stream():
        await ingest_alone(db, alone, body)
    interleaved = [w for body in stream() for w in (work(first, body), work(second, body))]
    await ingest_as_one_group(db, interleaved)
    assert await state(db, first) == await state(db, alone)
    assert await state(db, second) == await state(db, alone)


async def statements_of_group(db: Database, workspace_id: str, count: int) -> int:
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    works = [
        work(workspace_id, {"title": f"x{n}", "fingerprint": f"s{count}-{n}",
                            "labels": {"alertname": "disk", "host": f"h{n % 4}"}})
        for n in range(count)
    ]
    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await ingest_as_one_group(db, works)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    return len(statements)


async def test_a_group_costs_the_same_statements_for_4_alerts_as_for_16(
    db: Database, tenants: Tenants
) -> None:
    workspace = tenants.acme.id
    for host in range(4):  # the four incidents the alerts will join already exist
        await ingest_alone(db, workspace, {
            "title": "seed", "fingerprint": f"seed-{host}",
            "labels": {"alertname": "disk", "host": f"h{host}"},
        })
    four = await statements_of_group(db, workspace, 4)
    sixteen = await statements_of_group(db, workspace, 16)
    assert four == sixteen
    assert sixteen <= 12  # alone, each alert costs about ten


async def test_concurrent_webhook_posts_share_transactions(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    before = len(await alerts_of(db, hook.workspace_id))
    groups = db.grouped.groups
    bodies = [
        {"title": f"storm {n}", "fingerprint": f"storm-{n}",
         "labels": {"alertname": "storm", "host": f"h{n % 4}"}}
        for n in range(48)
    ]
    replies = await asyncio.gather(*(post(server, hook.path(), body) for body in bodies))
    assert [r.status for r in replies] == [202] * 48
    after = await alerts_of(db, hook.workspace_id)
    assert len(after) == before + 48  # every acknowledged alert is on disk
    assert db.grouped.groups - groups < 48  # and some shared a commit
    incidents = {r.body["incidents"][0] for r in replies}
    assert len(incidents) == 4
    # /metrics tells operators how many writes shared each commit.
    samples = await scrape(server.http, server.url)
    assert value(samples, "seliq_write_groups_total") == db.grouped.groups
    assert value(samples, "seliq_write_group_units_total") == db.grouped.units
    assert db.grouped.units > db.grouped.groups


async def test_a_group_asking_in_pieces_writes_the_same(
    db: Database, tenants: Tenants, monkeypatch: Any
) -> None:
    """A group with more fingerprints or group keys than one statement's IN list holds asks in
    pieces (`lookups.pieces`); here with pieces of two, so every lookup of the stream is cut."""
    monkeypatch.setattr(lookups, "IN_LIST_MAX", 2)
    alone, grouped = tenants.acme.id, tenants.globex.id
    for body in stream():
        await ingest_alone(db, alone, body)
    await ingest_as_one_group(db, [work(grouped, body) for body in stream()])
    assert await state(db, grouped) == await state(db, alone)


async def test_a_resolution_stops_the_groups_watch_on_its_workspace(
    db: Database, tenants: Tenants
) -> None:
    """After a resolution the workspace's lookups go to the database; the rows the prefetch read
    are written once and no longer compared at every later flush (a batch of a resolution and
    255 repeats once spent most of its time comparing them)."""
    workspace = tenants.acme.id
    await ingest_alone(db, workspace, {"title": "t", "fingerprint": "fp-r"})
    alerts = formats.parse({"title": "t", "fingerprint": "fp-r"}).alerts
    async with db.write() as session:
        await prefetch.prefetch(session, {workspace: alerts})
        cache = prefetch.cache_for(session, workspace)
        assert cache is not None and cache.firing["fp-r"] is not None
        rows = [cache.workspace, cache.firing["fp-r"], *cache.incidents.values()]
        assert all(direct.is_watched(session, row) for row in rows)
        cache.firing["fp-r"].occurrences += 1
        await prefetch.forget(session, workspace)
        assert prefetch.cache_for(session, workspace) is None
        assert not any(direct.is_watched(session, row) for row in rows)
    async with db.read() as session:
        found = (await session.execute(
            select(Alert).where(col(Alert.fingerprint) == "fp-r")
        )).scalars().one()
    assert found.occurrences == 2  # written by the forget's flush


async def test_a_webhook_alert_whose_commit_outcome_is_unknown_is_answered_503(
    server: Server, db: Database, hooks: dict[str, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection fails after the COMMIT went through: the sender is told 503 with
    Retry-After and that the alert may be stored (it is, once), never a 2xx or a second copy."""
    hook = hooks["acme"]
    lose_the_connection_after_commit(db, monkeypatch)
    reply = await post(server, hook.path(), {"title": "unknown", "fingerprint": "unknown-1"})
    assert reply.status == 503, reply.body
    assert reply.headers["Retry-After"]
    assert reply.body["error"]["code"] == "unavailable"
    assert "may have been stored" in reply.body["error"]["message"]
    stored = [a for a in await alerts_of(db, hook.workspace_id) if a.fingerprint == "unknown-1"]
    assert [a.occurrences for a in stored] == [1]
