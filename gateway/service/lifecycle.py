"""How the background parts of the domain start and stop with the aiohttp app: `cleanup_ctx`
entries for the event broker, the SLA sweeper, the report worker and the summarizer's HTTP
client, and the app keys under which the running objects can be found (health checks, the
shutdown step, tests). The domain classes themselves know nothing of aiohttp."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from aiohttp import web

from gateway.domain.background import Periodic
from gateway.domain.events.brokers import Broker
from gateway.domain.reports.worker import LEASE_SECONDS, ReportWorker
from gateway.domain.sla.sweeper import SlaSweeper
from gateway.domain.storage.engine import Database
from gateway.domain.summaries.summarizer import Summarizer

Lifecycle = Callable[[web.Application], AsyncIterator[None]]
P = TypeVar("P", bound=Periodic)

BROKER_KEY = web.AppKey("event_broker", Broker)  # type: ignore[type-abstract]
WORKER_KEY = web.AppKey("report_worker", ReportWorker)
SWEEPER_KEY = web.AppKey("sla_sweeper", SlaSweeper)


def periodic(key: web.AppKey[P], make: Callable[[], P]) -> Lifecycle:
    """Build the loop, keep it under `key`, start it with the app and stop it at the end
    (before the database is closed)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        loop = make()
        app[key] = loop
        loop.start()
        yield
        await loop.stop()

    return run


def event_broker(broker: Broker, db: Database) -> Lifecycle:
    """Start the broker with the app and have `db` publish the events of its committed writes
    to it; at the end, send what is still queued and end every local subscription."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        await broker.start()
        db.publish = broker.publish
        yield
        if db.publish == broker.publish:
            db.publish = None
        await broker.stop()

    return run


def report_worker(
    db: Database, poll_seconds: float, lease_seconds: float = LEASE_SECONDS
) -> Lifecycle:
    """The report worker runs with the app; at the end (or on shutdown, earlier) a job in
    flight goes back to the queue."""
    return periodic(WORKER_KEY, lambda: ReportWorker(db, poll_seconds, lease_seconds))


def sla_sweeper(db: Database, interval: float) -> Lifecycle:
    return periodic(SWEEPER_KEY, lambda: SlaSweeper(db, interval))


def summarizer(summarizer: Summarizer) -> Lifecycle:
    """Close the summarizer's HTTP client with the app."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        yield
        with contextlib.suppress(Exception):
            await summarizer.close()

    return run
