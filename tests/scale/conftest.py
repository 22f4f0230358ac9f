"""Fixtures for the scale-out suites: the real app in this process with its event hub in reach
(to wait until a subscription is registered before causing its event), and, for the
multi-process tests, a PostgreSQL database of their own (`seliq_scale_<hex>`, created on the
server's `postgres` database and dropped afterwards, so nothing clashes with the other suites'
databases on the same server) served by real `seliq-gateway serve` processes."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.auth import create_key
from gateway.db import Database
from gateway.events import BROKER_KEY, EventHub
from gateway.settings import Settings
from gateway.workspaces import create_workspace
from tests.conftest import Server
from tests.e2e.procs import EXECUTABLE, cli_env, free_port, run_cli
from tests.services import require_postgres

T = TypeVar("T")


def run_aside(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own in another thread (from sync fixtures, leaving
    pytest-asyncio's loop alone)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class LiveServer(Server):
    """`Server` plus its app, so tests can wait for subscriptions to be registered."""

    app: web.Application | None = None
    test_server: TestServer | None = None

    @property
    def hub(self) -> EventHub:
        assert self.app is not None
        return self.app[BROKER_KEY].hub

    async def subscribers(self, count: int, within: float = 5.0) -> None:
        """Wait until `count` subscriptions are registered in this process."""
        async with asyncio.timeout(within):
            while self.hub.subscriber_count < count:  # noqa: ASYNC110 (polling a counter)
                await asyncio.sleep(0.01)
        # With a remote broker, the process must be listening too.
        listening = getattr(self.app[BROKER_KEY] if self.app else None, "wait_listening", None)
        if listening is not None:
            assert await listening(within)


async def start_live(settings: Settings, db: Database) -> LiveServer:
    app = create_app(settings, db=db)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    http = aiohttp.ClientSession()
    return LiveServer(
        url=str(test_server.make_url("")).rstrip("/"), http=http, db=db, app=app,
        test_server=test_server,
    )


async def stop_live(live: LiveServer) -> None:
    await live.http.close()
    if live.test_server is not None:
        await live.test_server.close()


@pytest.fixture
async def live(settings: Settings, db: Database) -> AsyncIterator[LiveServer]:
    server = await start_live(settings, db)
    try:
        yield server
    finally:
        await stop_live(server)


# --- PostgreSQL of our own, and real server processes ------------------------------------------


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _create_database(admin_url: str) -> str:
    name = f"seliq_scale_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(_dsn(admin_url, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class ScaleDatabase:
    url: str
    keys: dict[str, str] = field(default_factory=dict)  # slug -> key secret
    ids: dict[str, str] = field(default_factory=dict)  # slug -> workspace id

    def engine(self) -> Database:
        return Database(self.url)


async def _seed(database: ScaleDatabase) -> None:
    db = Database(database.url)
    try:
        for slug, parent in (("mssp", None), ("acme", "mssp"), ("globex", "mssp"),
                             ("other", None)):
            async with db.write() as session:
                workspace = await create_workspace(
                    session, slug=slug, name=slug.title(), tier="enterprise", parent_slug=parent
                )
                _, secret = await create_key(session, workspace, f"{slug} key", "write")
            database.ids[slug] = workspace.id
            database.keys[slug] = secret
    finally:
        await db.dispose()


@pytest.fixture
def scale_pg() -> Iterator[ScaleDatabase]:
    """A fresh PostgreSQL database migrated by `seliq-gateway db upgrade`, with an MSSP
    (`mssp`) managing `acme` and `globex`, plus an unrelated `other`; a key for each."""
    admin_url = require_postgres()
    url = run_aside(_create_database(admin_url))
    try:
        assert run_cli(url, "db", "upgrade")["revision"]
        database = ScaleDatabase(url=url)
        run_aside(_seed(database))
        yield database
    finally:
        run_aside(_drop_database(admin_url, url))


@dataclass
class Gateway:
    """A `seliq-gateway serve` process, its output in a file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        self.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        """Pids of the processes this one started (its workers, with --workers)."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]


def start_gateway(
    database_url: str, log: Path, *args: str, port: int | None = None, **env: str
) -> Gateway:
    port = port or free_port()
    settings_env = {"SELIQ_LOG_LEVEL": "INFO", **env}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [EXECUTABLE, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=cli_env(database_url, **settings_env),
            stdout=out, stderr=subprocess.STDOUT,
        )
    gateway = Gateway(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(f"gateway exited with {process.returncode}:\n{gateway.output()}")
        try:
            with urllib.request.urlopen(f"{gateway.url}/readyz", timeout=1):
                return gateway
        except OSError:
            if time.monotonic() > deadline:
                gateway.stop()
                raise AssertionError(f"gateway did not start:\n{gateway.output()}") from None
            time.sleep(0.1)
