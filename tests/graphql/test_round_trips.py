"""What a read request sends to PostgreSQL, counted on the wire (T4b): a proxy between the
gateway and the server counts the statements the server receives (simple queries and executes
of the extended protocol). The bench dashboard, answered by its cached plan, costs its SELECTs
and nothing else (no BEGIN/ROLLBACK around them, no liveness ping per checkout): at most 4, and
X-Seliq-SQL-Statements says exactly what was sent, for the standard executor's reads too."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bench.queries import DASHBOARD, DASHBOARD_NAME
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from tests.support.backends import PostgresDatabase
from tests.support.data import make_tenant
from tests.support.server import Server, running_server

SSL_REQUEST, GSS_REQUEST = 80877103, 80877104
# Messages that make the server run a statement: a simple query, an execute.
STATEMENT_MESSAGES = (b"Q", b"E")


class CountingProxy:
    """A TCP proxy to PostgreSQL that counts the statements clients send through it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.statements = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            startup = await self._startup(client_r, client_w)
        except (asyncio.IncompleteReadError, ConnectionError):
            client_w.close()
            return
        server_r, server_w = await asyncio.open_connection(*self.target)
        server_w.write(startup)
        back = asyncio.ensure_future(self._pipe(server_r, client_w))
        try:
            await self._client_to_server(client_r, server_w)
        finally:
            back.cancel()
            for writer in (server_w, client_w):
                writer.close()

    @staticmethod
    async def _startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """The client's start-up message, after refusing encryption ourselves (so the rest of
        the conversation can be read)."""
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            if struct.unpack("!I", body[:4])[0] in (SSL_REQUEST, GSS_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            return struct.pack("!I", length) + body

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()  # the server hung up: so does the client's end

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:  # after start-up: a type byte and a length, per message
                kind = await reader.readexactly(1)
                length_bytes = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack("!I", length_bytes)[0] - 4)
                if kind in STATEMENT_MESSAGES:
                    self.statements += 1
                writer.write(kind + length_bytes + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return


@pytest.fixture
async def proxied(postgres_database: PostgresDatabase) -> AsyncIterator[tuple[str, CountingProxy]]:
    await postgres_database.empty()
    url = make_url(postgres_database.url)
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False), proxy
    await proxy.close()


async def _sent(
    server: Server, proxy: CountingProxy, query: str, variables: dict[str, Any], key: str,
) -> tuple[int, int]:
    """(statements the server received, X-Seliq-SQL-Statements) for one request."""
    await asyncio.sleep(0.05)  # nothing else in flight
    before = proxy.statements
    body = await server.graphql(query, variables, key=key)
    assert "errors" not in body, body
    await asyncio.sleep(0.05)
    return proxy.statements - before, int(body["_headers"]["X-Seliq-SQL-Statements"])


async def test_the_dashboard_sends_only_its_selects(
    proxied: tuple[str, CountingProxy],
) -> None:
    url, proxy = proxied
    db = Database(url)
    try:
        tenant = await make_tenant(db, "acme", "growth")
        settings = Settings(
            database_url=url, debug_headers=True, sla_sweep_seconds=0, report_poll_seconds=0
        )
        async with running_server(settings, db) as server:
            dashboard = DASHBOARD.replace(f"query {DASHBOARD_NAME}(", "query (")
            variables = {"first": 50}
            # The first run goes through the standard executor: several read sessions, each
            # its BEGIN, SELECTs and ROLLBACK. The header counts them all.
            sent, reported = await _sent(server, proxy, dashboard, variables, tenant.key)
            assert reported == sent
            for _ in range(5):  # warm: statements prepared, the key lookup cached
                sent, reported = await _sent(server, proxy, dashboard, variables, tenant.key)
            # One statement: the incidents, each with its alerts and timeline as JSON built by
            # PostgreSQL (schema/plan/jsonsql.py); nothing else (T4b: at most 4).
            assert sent == reported == 1
            # A nested list with a filter is read relation by relation: three statements.
            filtered = dashboard.replace("alerts(first: 5)", "alerts(first: 5, filter: "
                                         "{status: [FIRING]})")
            assert filtered != dashboard
            for _ in range(5):
                sent, reported = await _sent(server, proxy, filtered, variables, tenant.key)
            assert sent == reported == 3
            # The standard executor's reads are counted as honestly (a field plans leave to
            # it: an object below a computed value).
            viewer = "{ viewer { name workspace { slug } } }"
            for _ in range(2):
                sent, reported = await _sent(server, proxy, viewer, {}, tenant.key)
                assert sent == reported and sent >= 3  # BEGIN, SELECT, ROLLBACK
    finally:
        await db.dispose()
