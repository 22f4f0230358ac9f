"""The report worker: runs the jobs queued in the `reports` table, inside the gateway process.

The table is the queue, so it is durable: a job queued before a restart runs after it.
- claim: the oldest `queued` job becomes `running` through a conditional UPDATE
  (`... WHERE id = ? AND status = 'queued'`), so two workers never run the same job;
- run: the content is built in a read session (`gateway.report_content`), with a time limit;
- finish: `ready` with the content, or `failed` with a message, and `completed_at`.

A job found `running` when the worker starts was interrupted by a crash or a kill, and goes back
to `queued`. (That assumes one worker per database; with several replicas a lease is needed,
which belongs to the scale-out work.) The worker polls every `SELIQ_REPORT_POLL_SECONDS`
(default 1 s) with one indexed read, and takes the write lock only when there is a job to claim.
Its first look, re-queueing included, comes one poll interval after start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import CursorResult, select, update
from sqlmodel import col

from gateway import report_content
from gateway.db import Database
from gateway.errors import DomainError
from gateway.models import Report
from gateway.timeutil import utcnow

log = logging.getLogger("seliq.reports")

JOB_TIMEOUT_SECONDS = 300.0
MAX_ERROR_CHARS = 1000


async def requeue_interrupted(db: Database) -> int:
    """Put jobs left `running` by a previous process back in the queue."""
    async with db.write() as session:
        result = await session.execute(
            update(Report)
            .where(col(Report.status) == "running")
            .values(status="queued", started_at=None)
        )
    count = _rowcount(result)
    if count:
        log.warning("re-queued %d report job(s) interrupted by a restart", count)
    return count


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


async def claim_next(db: Database) -> Report | None:
    """The oldest queued job, now `running` and ours; None when the queue is empty."""
    while True:
        async with db.read() as session:
            report_id = (
                await session.execute(
                    select(col(Report.id))
                    .where(col(Report.status) == "queued")
                    .order_by(col(Report.created_at), col(Report.id))
                    .limit(1)
                )
            ).scalar_one_or_none()
        if report_id is None:
            return None
        async with db.write() as session:
            result = await session.execute(
                update(Report)
                .where(col(Report.id) == report_id, col(Report.status) == "queued")
                .values(status="running", started_at=utcnow())
            )
            if _rowcount(result) == 1:
                row = await session.get(Report, report_id, populate_existing=True)
                assert row is not None
                return row
        # Another worker took it between our read and our write: look again.


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        message = exc.message
    elif isinstance(exc, TimeoutError):
        message = f"the report took longer than {JOB_TIMEOUT_SECONDS:g} seconds"
    else:
        message = f"internal error ({type(exc).__name__}) while building the report"
    return message[:MAX_ERROR_CHARS]


async def run_job(db: Database, report: Report, *, limit: float = JOB_TIMEOUT_SECONDS) -> str:
    """Build one claimed job and record the outcome; returns the final status."""
    builder = report_content.BUILDERS.get(report.kind)
    values: dict[str, Any]
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
    async with db.write() as session:
        await session.execute(
            update(Report)
            .where(col(Report.id) == report.id, col(Report.status) == "running")
            .values(completed_at=utcnow(), **values)
        )
    return str(values["status"])


async def run_pending(db: Database, *, limit: int | None = None) -> int:
    """Run queued jobs until the queue is empty (or `limit` jobs ran); returns how many ran."""
    ran = 0
    while limit is None or ran < limit:
        report = await claim_next(db)
        if report is None:
            break
        await run_job(db, report)
        ran += 1
    return ran


class ReportWorker:
    def __init__(self, db: Database, poll_seconds: float) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self.poll_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="seliq-report-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        # The first look comes one poll interval after start-up, out of start-up's way.
        requeued = False
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                if not requeued:
                    await requeue_interrupted(self.db)
                    requeued = True
                await run_pending(self.db)
            except Exception:  # the database was unreachable, say: try again next poll
                log.exception("report worker poll failed")


WORKER_KEY = web.AppKey("report_worker", ReportWorker)


def lifecycle(db: Database, poll_seconds: float) -> Callable[[web.Application], AsyncIterator[Any]]:
    """An aiohttp `cleanup_ctx` entry: re-queue interrupted jobs and start the worker with the
    app; stop it (a job in flight is left `running`, and re-queued at the next start)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        worker = ReportWorker(db, poll_seconds)
        app[WORKER_KEY] = worker
        worker.start()
        yield
        await worker.stop()

    return run
