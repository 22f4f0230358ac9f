"""Fair reports, both backends: the worker claims jobs round-robin across workspaces, with a bound
on how many of one workspace's jobs run at once across every worker. Counted by claim order,
never by time."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from gateway.domain import ids
from gateway.domain.reports import content as report_content
from gateway.domain.reports.worker import PER_WORKSPACE, claim_next, run_pending
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report, Workspace
from gateway.domain.timeutil import utcnow
from tests.support.sla import workspace_with_key


@pytest.fixture(autouse=True)
def quick_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs that take no time to build: what is measured is the order they are claimed in."""

    async def build(session: Any, report: Report, now: Any) -> dict[str, Any]:
        return {"built": report.id}

    monkeypatch.setitem(report_content.BUILDERS, "sla", build)


async def queue(db: Database, workspace: Workspace, count: int) -> list[str]:
    made = []
    async with db.write() as session:
        for _ in range(count):
            report = Report(id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="sla",
                            period_start=utcnow() - timedelta(days=1), period_end=utcnow())
            session.add(report)
            made.append(report.id)
    return made


async def test_another_tenants_report_is_claimed_before_one_tenants_fifty_finish(
    db: Database,
) -> None:
    busy, _ = await workspace_with_key(db, "busy-ws")
    quiet, _ = await workspace_with_key(db, "quiet-ws")
    fifty = await queue(db, busy, 50)
    [lone] = await queue(db, quiet, 1)  # queued after all fifty
    claimed: list[str] = []
    ran = await run_pending(db, on_claim=lambda rid: claimed.append(rid) if rid else None)
    assert ran == 51
    assert claimed.index(lone) == 1  # right after the first of the fifty
    assert [rid for rid in claimed if rid != lone] == fifty  # each tenant's own, oldest first


async def test_workspaces_take_turns(db: Database) -> None:
    tenants = [(await workspace_with_key(db, f"turn-{n}"))[0] for n in range(3)]
    jobs = {tenant.id: await queue(db, tenant, 4) for tenant in tenants}
    owner = {rid: wid for wid, rids in jobs.items() for rid in rids}
    claimed: list[str] = []
    await run_pending(db, on_claim=lambda rid: claimed.append(rid) if rid else None)
    order = [owner[rid] for rid in claimed]
    assert order == [tenant.id for tenant in tenants] * 4


async def test_one_workspace_runs_at_most_its_bound_at_once(db: Database) -> None:
    busy, _ = await workspace_with_key(db, "bound-busy")
    quiet, _ = await workspace_with_key(db, "bound-quiet")
    await queue(db, busy, 10)
    [lone] = await queue(db, quiet, 1)
    held = [await claim_next(db, worker=f"w{n}") for n in range(PER_WORKSPACE + 3)]
    claimed = [report for report in held if report is not None]
    # The bound for the busy workspace, the quiet one's job, and nothing more for now.
    assert sorted(r.workspace_id for r in claimed) == sorted(
        [busy.id] * PER_WORKSPACE + [quiet.id]
    )
    assert lone in {r.id for r in claimed}


async def test_the_bound_holds_when_workers_claim_at_the_same_moment(
    db: Database, db_url: str
) -> None:
    busy, _ = await workspace_with_key(db, "race-ws")
    await queue(db, busy, 10)
    engines = [db] + [Database(db_url) for _ in range(3)]  # four "processes"
    try:
        claims = await asyncio.gather(*(
            claim_next(engine, worker=f"w{n}") for n, engine in enumerate(engines)
        ))
    finally:
        for engine in engines[1:]:
            await engine.dispose()
    assert len([c for c in claims if c is not None]) == PER_WORKSPACE
