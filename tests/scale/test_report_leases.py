"""Report jobs with several workers: claimed by one only, under a lease its holder renews; an
expired lease is taken over (the late holder's result is discarded), a clean shutdown hands the
job back, and a job that keeps killing its worker is failed. Both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.events.hub import REPORT_COMPLETED, Event
from gateway.domain.reports import content as report_content
from gateway.domain.reports.worker import (
    MAX_ATTEMPTS,
    claim_next,
    release,
    run_job,
    run_pending,
)
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report, Workspace
from gateway.domain.timeutil import utcnow
from tests.support.server import running_server
from tests.support.sla import eventually, workspace_with_key


async def queue(db: Database, workspace: Workspace, count: int = 1, **values: Any) -> list[str]:
    made = []
    async with db.write() as session:
        for _ in range(count):
            report = Report(id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="sla",
                            period_start=utcnow() - timedelta(days=1), period_end=utcnow(),
                            **values)
            session.add(report)
            made.append(report.id)
    return made


async def load(db: Database, report_id: str) -> Report:
    async with db.read() as session:
        row = await session.get(Report, report_id)
    assert row is not None
    return row


def completions(published: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.id, e.kind) for e in published if e.topic == REPORT_COMPLETED]


@pytest.fixture
def published(db: Database) -> list[Event]:
    seen: list[Event] = []
    db.publish = seen.extend
    return seen


async def test_an_expired_lease_is_taken_over_and_the_late_result_discarded(
    db: Database, published: list[Event]
) -> None:
    workspace, _ = await workspace_with_key(db, "lease-ws")
    [report_id] = await queue(db, workspace)
    held_by_a = await claim_next(db, worker="a", lease=60)
    assert held_by_a is not None and held_by_a.id == report_id
    assert await claim_next(db, worker="b", lease=60) is None  # a live lease is respected

    async with db.write() as session:  # a stops renewing (hung, or killed)
        await session.execute(update(Report).where(col(Report.id) == report_id)
                              .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    held_by_b = await claim_next(db, worker="b", lease=60)
    assert held_by_b is not None and held_by_b.id == report_id
    assert (held_by_b.claimed_by, held_by_b.attempts) == ("b", 2)

    assert await run_job(db, held_by_a) == "lost"
    assert (await load(db, report_id)).status == "running"
    assert await run_job(db, held_by_b) == "ready"
    done = await load(db, report_id)
    assert (done.status, done.claimed_by, done.attempts) == ("ready", "b", 2)
    assert completions(published) == [(report_id, "ready")]


async def test_the_heartbeat_keeps_the_lease_of_a_long_job(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(session: Any, report: Report, now: Any) -> dict[str, Any]:
        await asyncio.sleep(1.6)
        return {"ok": True}

    monkeypatch.setitem(report_content.BUILDERS, "sla", slow)
    workspace, _ = await workspace_with_key(db, "beat-ws")
    [report_id] = await queue(db, workspace)
    report = await claim_next(db, worker="a", lease=1.0)
    assert report is not None
    job = asyncio.create_task(run_job(db, report, lease=1.0))
    while not job.done():  # the lease is 1 s; the job takes 1.6 s; nobody else gets it
        assert await claim_next(db, worker="b", lease=1.0) is None
        await asyncio.sleep(0.1)
    assert await job == "ready"
    assert (await load(db, report_id)).attempts == 1


async def test_release_hands_a_job_back_without_counting_the_attempt(db: Database) -> None:
    workspace, _ = await workspace_with_key(db, "release-ws")
    [report_id] = await queue(db, workspace)
    assert await claim_next(db, worker="a") is not None
    assert not await release(db, report_id, "b")  # only the holder can
    assert await release(db, report_id, "a")
    back = await load(db, report_id)
    assert (back.status, back.claimed_by, back.lease_expires_at, back.attempts) == (
        "queued", None, None, 0
    )
    again = await claim_next(db, worker="b")
    assert again is not None and again.attempts == 1


async def test_a_job_that_keeps_killing_its_worker_is_failed(
    db: Database, published: list[Event]
) -> None:
    workspace, _ = await workspace_with_key(db, "poison-ws")
    [report_id] = await queue(
        db, workspace, status="running", claimed_by="dead", attempts=MAX_ATTEMPTS,
        started_at=utcnow() - timedelta(minutes=5),
        lease_expires_at=utcnow() - timedelta(minutes=1),
    )
    assert await claim_next(db, worker="a") is None
    failed = await load(db, report_id)
    assert failed.status == "failed" and failed.completed_at is not None
    assert f"interrupted {MAX_ATTEMPTS} times" in (failed.error or "")
    assert completions(published) == [(report_id, "failed")]


async def test_concurrent_workers_run_each_job_once(
    db: Database, db_url: str, published: list[Event]
) -> None:
    workspace, _ = await workspace_with_key(db, "many-ws")
    made = await queue(db, workspace, count=12)
    # Four "processes": four engines, each with its own worker id.
    engines = [db] + [Database(db_url) for _ in range(3)]
    for engine in engines[1:]:
        engine.publish = published.extend
    try:
        ran = await asyncio.gather(*(
            run_pending(engine, worker=f"w{number}") for number, engine in enumerate(engines)
        ))
    finally:
        for engine in engines[1:]:
            await engine.dispose()
    assert sum(ran) == 12
    rows = [await load(db, report_id) for report_id in made]
    assert all(row.status == "ready" and row.attempts == 1 for row in rows)
    assert sorted(completions(published)) == sorted((rid, "ready") for rid in made)


async def test_shutdown_hands_the_job_in_flight_back_to_the_queue(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def endless(session: Any, report: Report, now: Any) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(3600)
        return {}

    monkeypatch.setitem(report_content.BUILDERS, "sla", endless)
    workspace, _ = await workspace_with_key(db, "handback-ws")
    [report_id] = await queue(db, workspace)
    fast = settings.model_copy(update={"report_poll_seconds": 0.05, "sla_sweep_seconds": 0})
    async with asyncio.timeout(20), running_server(fast, db):  # the stop included
        await started.wait()
        assert (await load(db, report_id)).status == "running"
    back = await load(db, report_id)
    assert (back.status, back.claimed_by, back.attempts) == ("queued", None, 0)

    # The next process runs it.
    monkeypatch.undo()
    async with running_server(fast, db):
        async def ready() -> bool:
            return (await load(db, report_id)).status == "ready"

        assert await eventually(ready)
