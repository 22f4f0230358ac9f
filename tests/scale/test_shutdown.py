"""Clean shutdown of one process (`gateway.service.processes.serve_app`, what `serve` runs), step
by step
and deterministically: a request in flight when the stop comes is finished and answered (and
its alert stored), new connections are refused, a request that outlives the grace period is
cancelled and leaves nothing behind, and subscriptions are closed with 1001. The real signal
path is covered by the SIGTERM tests in test_processes.py."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from gateway.domain.ingest import pipeline
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert
from gateway.service.app import create_app
from gateway.service.processes import serve_app
from tests.support.data import Tenants
from tests.support.procs import free_port
from tests.support.wsclient import ConnectionClosed, connect


class Running:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings.model_copy(update={"host": "127.0.0.1", "port": free_port()})
        self.url = f"http://127.0.0.1:{self.settings.port}"
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            serve_app(create_app(self.settings, db=db), self.settings, stop=self.stop)
        )

    async def ready(self, http: aiohttp.ClientSession) -> None:
        async with asyncio.timeout(10):
            while True:
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.02)


def slow_ingest(monkeypatch: pytest.MonkeyPatch, seconds: float) -> asyncio.Event:
    """Ingestion that holds its transaction open for `seconds` after doing its work; the event
    is set once a request is inside."""
    inside = asyncio.Event()
    real = pipeline.ingest

    async def ingest(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        inside.set()
        await asyncio.sleep(seconds)
        return result

    monkeypatch.setattr(pipeline, "ingest", ingest)
    return inside


async def count_alerts(db: Database, title: str) -> int:
    async with db.read() as session:
        return int((await session.execute(
            select(func.count()).select_from(Alert).where(col(Alert.title) == title)
        )).scalar_one())


async def post(http: aiohttp.ClientSession, url: str, key: str, title: str) -> tuple[int, Any]:
    async with http.post(f"{url}/v1/alerts", json={"title": title},
                         headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status, await response.json()


async def test_a_request_in_flight_is_finished_and_new_ones_refused(
    settings: Settings, db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = slow_ingest(monkeypatch, 0.8)
    server = Running(settings.model_copy(update={"shutdown_grace_seconds": 10}), db)
    async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as other:
        await server.ready(http)
        in_flight = asyncio.create_task(post(http, server.url, tenants.acme.key, "in flight"))
        await asyncio.wait_for(inside.wait(), 10)
        server.stop.set()  # what SIGTERM does
        await asyncio.sleep(0.2)
        with pytest.raises(aiohttp.ClientConnectorError):
            await other.get(f"{server.url}/healthz")
        status, body = await in_flight
        assert status == 201 and body["title"] == "in flight"
        await asyncio.wait_for(server.task, 10)
    assert await count_alerts(db, "in flight") == 1


async def test_a_request_past_the_grace_period_is_cancelled_and_rolled_back(
    settings: Settings, db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = slow_ingest(monkeypatch, 30)
    server = Running(settings.model_copy(update={"shutdown_grace_seconds": 0.3}), db)
    async with aiohttp.ClientSession() as http:
        await server.ready(http)
        in_flight = asyncio.create_task(post(http, server.url, tenants.acme.key, "too slow"))
        await asyncio.wait_for(inside.wait(), 10)
        server.stop.set()
        with pytest.raises(aiohttp.ClientError):  # cut off: never acknowledged
            await in_flight
        await asyncio.wait_for(server.task, 10)
    assert await count_alerts(db, "too slow") == 0


async def test_subscriptions_are_closed_going_away(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    server = Running(settings, db)
    async with aiohttp.ClientSession() as http:
        await server.ready(http)
        async with connect(http, server.url) as client:
            await client.init(tenants.acme.key)
            await client.subscribe("1", "subscription { incidentEvents { id } }")
            await asyncio.sleep(0.2)
            server.stop.set()
            with pytest.raises(ConnectionClosed) as closed:
                await client.receive(within=10)
        assert closed.value.code == 1001
        await asyncio.wait_for(server.task, 10)
