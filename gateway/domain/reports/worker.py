"""The report worker: runs the jobs queued in the `reports` table, inside the gateway process.

The table is the queue, so it is durable: a job queued before a restart runs after it. Every
gateway process runs a worker, and a job is claimed by one of them only:
- claim: the next claimable job becomes `running` under a lease (`claimed_by`,
  `lease_expires_at`, `attempts` + 1). Workspaces take turns: the next job is the oldest of the
  workspace served least recently, and a workspace already running `PER_WORKSPACE` jobs (across
  every worker) waits, so one tenant's hundred queued reports delay another's by about one
  report's time, not a hundred. Claims are serialised (SQLite's writers are; on PostgreSQL an
  advisory lock, with the job's row locked `FOR UPDATE SKIP LOCKED`), so the turns and the bound
  hold across processes;
- run: the content is built in a read session (`gateway.domain.reports.content`), with a time limit,
  while a heartbeat renews the lease every third of its length;
- finish: `ready` with the content, or `failed` with a message, and `completed_at`, written only
  if the lease is still ours (`... AND claimed_by = me`), so a job completes exactly once, and
  `reportCompleted` subscribers hear of it after that commit.

Claimable means `queued`, or `running` with an expired lease: its worker was killed or hung, and
another process (or this one after a restart) takes it over once the lease (default 60 s,
SELIQ_REPORT_LEASE_SECONDS) runs out. A job claimed more than MAX_ATTEMPTS times is failed
instead of being run again. On a clean shutdown the worker hands the job it holds back to the
queue at once (`release`), without counting the attempt. The worker polls every
`SELIQ_REPORT_POLL_SECONDS` (default 1 s) with one read, and takes the write lock only
when there is a job to claim; its first look comes one poll interval after start-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from gateway.domain import background
from gateway.domain.errors import DomainError
from gateway.domain.events import hub as events
from gateway.domain.reports import content as report_content
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report
from gateway.domain.timeutil import utcnow

log = logging.getLogger("seliq.reports")

JOB_TIMEOUT_SECONDS = 300.0
MAX_ERROR_CHARS = 1000
LEASE_SECONDS = 60.0
# A job whose worker died this many times is failed rather than claimed again.
MAX_ATTEMPTS = 3
# Jobs of one workspace running at once, across every worker: a tenant that queues a hundred
# reports keeps at most this many workers busy, and the others' reports get the rest.
PER_WORKSPACE = 2
# PostgreSQL advisory lock that claims take in turn (any constant of our own: "seliq" + "rpt").
CLAIM_LOCK_KEY = 0x5E11C_0A7


def new_worker_id() -> str:
    """`host/pid/random`: names the process holding a lease (the random part tells two workers
    of one process, or a restarted process with a recycled pid, apart)."""
    return f"{socket.gethostname()[:120]}/{os.getpid()}/{secrets.token_hex(4)}"


WORKER_ID = new_worker_id()


# The claim statements take the time and the bound as parameters, so they are built once: the
# worker polls every second in every process, and building and caching a fresh statement each
# time cost the requests it shares the event loop with (~4% of a read benchmark's CPU, measured).
NOW = bindparam("now", type_=col(Report.lease_expires_at).type)  # type: ignore[attr-defined]
PER_WORKSPACE_BOUND = bindparam("per_workspace", type_=Integer())


def _claimable(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    """Queued, or running under a lease that has run out (no lease: claimed before leases)."""
    return or_(
        col(Report.status) == "queued",
        and_(
            col(Report.status) == "running",
            or_(col(Report.lease_expires_at).is_(None), col(Report.lease_expires_at) < now),
        ),
    )


def _held_by(worker: str) -> ColumnElement[bool]:
    return col(Report.claimed_by) == worker


async def release(db: Database, report_id: str, worker: str) -> bool:
    """Hand a job this worker holds back to the queue (shutdown); the attempt does not count."""
    async with db.write() as session:
        result = await session.execute(
            update(Report)
            .where(col(Report.id) == report_id, col(Report.status) == "running",
                   _held_by(worker))
            .values(status="queued", started_at=None, claimed_by=None, lease_expires_at=None,
                    attempts=col(Report.attempts) - 1)
        )
    return _rowcount(result) == 1


async def renew(db: Database, report_id: str, worker: str, lease: float) -> bool:
    """Extend this worker's lease; False when it is no longer ours."""
    async with db.write() as session:
        result = await session.execute(
            update(Report)
            .where(col(Report.id) == report_id, col(Report.status) == "running",
                   _held_by(worker))
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease))
        )
    return _rowcount(result) == 1


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _give_up_if_exhausted(session: AsyncSession, row: Report, now: datetime) -> bool:
    """Fail a job that has been claimed too often (its builds keep dying); True if so."""
    if row.attempts <= MAX_ATTEMPTS:
        return False
    row.status, row.completed_at = "failed", now
    row.claimed_by, row.lease_expires_at, row.content = None, None, None
    row.error = (
        f"the report was interrupted {MAX_ATTEMPTS} times (its worker stopped while building "
        "it); request it again"
    )
    events.record(
        session, events.Event(events.REPORT_COMPLETED, row.workspace_id, row.id, kind="failed")
    )
    log.error("report %s failed after %d interrupted attempts", row.id, MAX_ATTEMPTS)
    return True


def _next_fair(now: ColumnElement[datetime], per_workspace: ColumnElement[int]) -> Select[Any]:
    """The job to claim next: workspaces take turns (the one served least recently first: the
    oldest latest `started_at` of its jobs, never-served first), each workspace's own jobs oldest
    first, and a workspace already running `per_workspace` jobs under live leases waits."""
    other = aliased(Report)
    live = and_(col(other.status) == "running", col(other.lease_expires_at) >= now)
    waiting = select(col(Report.workspace_id)).where(_claimable(now)).correlate(None)
    turns = (
        select(
            col(other.workspace_id).label("workspace_id"),
            func.max(other.started_at).label("last_started"),
            func.sum(case((live, 1), else_=0)).label("running"),
        )
        .where(col(other.workspace_id).in_(waiting))
        .group_by(col(other.workspace_id))
        .subquery("turns")
    )
    return (
        select(Report)
        .join(turns, turns.c.workspace_id == col(Report.workspace_id))
        .where(_claimable(now), turns.c.running < per_workspace)
        .order_by(turns.c.last_started.asc().nulls_first(), col(Report.created_at),
                  col(Report.id))
        .limit(1)
    )


NEXT_FAIR = _next_fair(NOW, PER_WORKSPACE_BOUND)
NEXT_FAIR_ID = NEXT_FAIR.with_only_columns(col(Report.id))
NEXT_FAIR_LOCKED = NEXT_FAIR.with_for_update(skip_locked=True, of=Report)
POPULATE_EXISTING = {"populate_existing": True}


async def claim_next(
    db: Database, *, worker: str = WORKER_ID, lease: float = LEASE_SECONDS,
    per_workspace: int = PER_WORKSPACE,
) -> Report | None:
    """The next job in round-robin order across workspaces (`_next_fair`), now `running` under
    this worker's lease; None when there is nothing this worker may claim now."""
    while True:
        now = utcnow()
        params = {"now": now, "per_workspace": per_workspace}
        # A read first: the write lock is taken only when there is a job to claim.
        async with db.read() as session:
            found = (
                await session.execute(NEXT_FAIR_ID, params)
            ).scalar_one_or_none()
        if found is None:
            return None
        async with db.write() as session:
            if not db.is_sqlite:
                # Claims take turns (SQLite's writers are serialised already), so each one sees
                # the ones before it: the turns and the per-workspace bound are exact.
                await session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
            stmt = NEXT_FAIR if db.is_sqlite else NEXT_FAIR_LOCKED
            row = (
                await session.execute(stmt, params, execution_options=POPULATE_EXISTING)
            ).scalars().first()
            if row is None:
                return None  # taken meanwhile by another worker
            row.status, row.started_at, row.claimed_by = "running", now, worker
            row.lease_expires_at = now + timedelta(seconds=lease)
            row.attempts += 1
            exhausted = _give_up_if_exhausted(session, row, now)
        if not exhausted:
            return row
        # A job that kept killing its worker was failed instead: look again.


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        message = exc.message
    elif isinstance(exc, TimeoutError):
        message = f"the report took longer than {JOB_TIMEOUT_SECONDS:g} seconds"
    else:
        message = f"internal error ({type(exc).__name__}) while building the report"
    return message[:MAX_ERROR_CHARS]


async def _heartbeat(db: Database, report: Report, worker: str, lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        try:
            if not await renew(db, report.id, worker, lease):
                log.warning("report %s: the lease was lost; its result will be discarded",
                            report.id)
                return
        except Exception:  # the database is unreachable: try again at the next beat
            log.exception("report %s: renewing the lease failed", report.id)


async def run_job(
    db: Database, report: Report, *, limit: float = JOB_TIMEOUT_SECONDS,
    lease: float = LEASE_SECONDS,
) -> str:
    """Build one claimed job and record the outcome; returns the final status (`lost` when the
    lease passed to another worker meanwhile: nothing is written then)."""
    builder = report_content.BUILDERS.get(report.kind)
    values: dict[str, Any]
    worker = report.claimed_by
    assert worker is not None, "run_job takes a job claimed by claim_next"
    heartbeat = asyncio.create_task(_heartbeat(db, report, worker, lease))
    try:
        if builder is None:
            raise DomainError(f"unknown report kind {report.kind!r}")
        now = utcnow()
        async with asyncio.timeout(limit), db.read() as session:
            content = await builder(session, report, now)
        values = {"status": "ready", "content": content, "error": None}
    except Exception as exc:
        log.exception("report %s (%s) failed", report.id, report.kind)
        values = {"status": "failed", "content": None, "error": _error_message(exc)}
    finally:
        await background.cancel_and_wait(heartbeat)
    async with db.write() as session:
        result = await session.execute(
            update(Report)
            .where(col(Report.id) == report.id, col(Report.status) == "running",
                   _held_by(worker))
            .values(completed_at=utcnow(), lease_expires_at=None, **values)
        )
        if _rowcount(result) != 1:
            log.warning("report %s: no longer ours (lease expired); result discarded", report.id)
            return "lost"
        events.record(session, events.Event(
            events.REPORT_COMPLETED, report.workspace_id, report.id, kind=str(values["status"])
        ))  # `reportCompleted` subscribers hear of it once this commits
    return str(values["status"])


async def run_pending(
    db: Database, *, limit: int | None = None, worker: str = WORKER_ID,
    lease: float = LEASE_SECONDS, on_claim: Callable[[str | None], None] | None = None,
) -> int:
    """Run queued jobs until the queue is empty (or `limit` jobs ran); returns how many ran.
    `on_claim` is told the id of the job held (None once it is finished)."""
    ran = 0
    while limit is None or ran < limit:
        report = await claim_next(db, worker=worker, lease=lease)
        if report is None:
            break
        if on_claim is not None:
            on_claim(report.id)
        await run_job(db, report, lease=lease)
        if on_claim is not None:
            on_claim(None)
        ran += 1
    return ran


class ReportWorker(background.Periodic):
    """Runs the queued jobs every `poll_seconds` (`run_pending`) until stopped."""

    def __init__(
        self, db: Database, poll_seconds: float, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        super().__init__(
            "seliq-report-worker", poll_seconds, self._poll, log=log,
            failure="report worker poll failed",  # the database was unreachable, say
        )
        self.db = db
        self.lease_seconds = lease_seconds
        self.worker_id = new_worker_id()
        self.current: str | None = None  # the job this worker holds, if any

    async def stop(self) -> None:
        """Stop claiming; a job in flight is cancelled and handed back to the queue at once
        (another process, or this one after a restart, runs it)."""
        await super().stop()
        held, self.current = self.current, None
        if held is not None:
            try:
                if await release(self.db, held, self.worker_id):
                    log.info("report %s handed back to the queue at shutdown", held)
            except Exception:  # its lease runs out instead, and another worker takes it
                log.exception("report %s could not be handed back", held)

    def _held(self, report_id: str | None) -> None:
        self.current = report_id

    async def _poll(self) -> None:
        await run_pending(
            self.db, worker=self.worker_id, lease=self.lease_seconds, on_claim=self._held
        )
