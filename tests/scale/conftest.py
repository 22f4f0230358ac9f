"""Fixtures for the scale-out suites: the real app in this process with its event hub in reach
(to wait until a subscription is registered before causing its event), and, for the
multi-process tests, a PostgreSQL database of their own (a fresh one from
`tests.support.backends.create_empty_postgres_database`, dropped afterwards, so nothing
clashes with the other suites' databases on the same server) served by real `seliq-gateway
serve` processes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.domain.events.hub import EventHub
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.service.app import create_app
from gateway.service.lifecycle import BROKER_KEY
from tests.support.backends import create_empty_postgres_database, drop_postgres_database, run_aside
from tests.support.procs import EXECUTABLE, cli_env, free_port, run_cli
from tests.support.server import Server
from tests.support.services import require_postgres
from tests.support.sla import workspace_with_key


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


@dataclass
class ScaleDatabase:
    url: str
    keys: dict[str, str] = field(default_factory=dict)  # slug -> key secret
    ids: dict[str, str] = field(default_factory=dict)  # slug -> workspace id


async def _seed(database: ScaleDatabase) -> None:
    db = Database(database.url)
    try:
        for slug, parent in (("mssp", None), ("acme", "mssp"), ("globex", "mssp"),
                             ("other", None)):
            workspace, secret = await workspace_with_key(db, slug, parent=parent)
            database.ids[slug] = workspace.id
            database.keys[slug] = secret
    finally:
        await db.dispose()


@pytest.fixture
def scale_pg() -> Iterator[ScaleDatabase]:
    """A fresh PostgreSQL database migrated by `seliq-gateway db upgrade`, with an MSSP
    (`mssp`) managing `acme` and `globex`, plus an unrelated `other`; a key for each."""
    created = run_aside(create_empty_postgres_database(require_postgres()))
    try:
        assert run_cli(created.url, "db", "upgrade")["revision"]
        database = ScaleDatabase(url=created.url)
        run_aside(_seed(database))
        yield database
    finally:
        drop_postgres_database(created)


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
