"""Connections the cached plans read with, kept checked out between requests.

A plan's read is a few statements on the driver's own connection (`schema.plan.statements`).
Taking that connection through SQLAlchemy's pool for each request (`engine.connect()`: a
greenlet hop, the pool's checkout and checkin events, a reset on return) cost 8-10% of a
one-statement request on PostgreSQL (py-spy, T10b). Here a connection a plan has finished with
goes back on a short list instead, and the next plan takes it from there: a list pop.

What the pool did at checkout and checkin still happens, once per connection's stay here:
- a connection that sat unused here for more than `IDLE_PING_SECONDS` is pinged before use
  (one `SELECT 1`, counted like every statement), and replaced if it does not answer;
- a read that failed or was cancelled may have left its connection mid-statement: it goes back
  to the pool, which resets it (or drops it), never to the list;
- a read that began a transaction through SQLAlchemy (the plans' rare `Select` path) has it
  rolled back before the connection is listed again;
- at most `keep` connections wait here; `close` returns them all to the pool (shutdown).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.domain.storage.round_trips import IDLE_PING_SECONDS


class HeldConnections:
    """`async with held.connection() as conn:` a connection of `engine`, reused across uses."""

    def __init__(self, engine: AsyncEngine, *, keep: int, ping_idle: bool) -> None:
        self.engine = engine
        self.keep = keep
        self.ping_idle = ping_idle
        self._idle: list[tuple[AsyncConnection, float]] = []  # (connection, last given back)
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        conn = await self._take()
        try:
            yield conn
            await self._give_back(conn)
        except BaseException:
            # Failed, cancelled (at any await, the give-back's rollback included): whatever the
            # connection was doing, the pool resets it, or drops it.
            await _discard(conn)
            raise

    async def _take(self) -> AsyncConnection:
        while self._idle:
            conn, since = self._idle.pop()
            if _closed_by_server(conn):  # noticed by the driver: no round trip to find out
                await _discard(conn)
                continue
            if not self.ping_idle or time.monotonic() - since <= IDLE_PING_SECONDS:
                return conn
            try:
                await conn.exec_driver_sql("SELECT 1")
                await conn.rollback()  # the ping's (autocommit: nothing is sent)
            except BaseException as exc:
                # Dead (a server restart, a cut connection), or the request was cancelled
                # meanwhile: back to the pool either way, never to the list.
                await _discard(conn)
                if not isinstance(exc, Exception):
                    raise
                continue
            return conn
        return await self.engine.connect()

    async def _give_back(self, conn: AsyncConnection) -> None:
        if conn.in_transaction():
            await conn.rollback()
        if self._closed or len(self._idle) >= self.keep:
            await conn.close()
        else:
            self._idle.append((conn, time.monotonic()))

    async def close(self) -> None:
        """Return every waiting connection to the pool; later ones go straight back too."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await conn.close()


def _closed_by_server(conn: AsyncConnection) -> bool:
    """asyncpg knows when the server closed a connection (a restart, a terminated backend)."""
    if conn.invalidated:
        return True
    driver = conn.sync_connection.connection.driver_connection if conn.sync_connection else None
    is_closed = getattr(driver, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


async def _discard(conn: AsyncConnection) -> None:
    """Back to the pool, which resets it, or invalidated when it is known dead (so the pool
    opens a new one instead of handing it out again). A transaction is ended first: SQLAlchemy
    will not close a connection inside one that broke."""
    if not conn.invalidated and _closed_by_server(conn):
        await conn.invalidate()
    if conn.invalidated or conn.in_transaction():
        await conn.rollback()
    await conn.close()
