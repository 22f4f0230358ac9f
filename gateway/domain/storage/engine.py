"""Database engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite notes: WAL lets readers run beside the one writer; `foreign_keys` is off by default in
SQLite and must be switched on per connection; pysqlite's own implicit transactions are disabled
so that we emit `BEGIN` ourselves, and writes start with `BEGIN IMMEDIATE` (taking the write lock
up front instead of failing half-way with "database is locked"). Inside one process writes also
queue on an asyncio lock, so they wait on the event loop rather than spinning in busy_timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gateway.domain import jsontext
from gateway.domain.errors import Unavailable
from gateway.domain.storage import bulk, deadline, round_trips, sqlite_driver
from gateway.domain.storage.group_commit import GroupCommit, Prepare
from gateway.domain.storage.held import HeldConnections
from gateway.domain.storage.round_trips import (  # counted there; importable from here too
    StatementCounter as StatementCounter,
)
from gateway.domain.storage.round_trips import current_counter as current_counter

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000
SQLITE_POOL_SIZE = 16
# What a 503 asks the client to wait before retrying a write that met lock contention.
RETRY_AFTER_SECONDS = 2
# PostgreSQL: group-commit transactions of different workspaces that may run at once.
PG_PARALLEL_GROUPS = 4
# Connections the plans' reads keep between requests (`held`): the bench's and a busy
# dashboard's concurrency. They come out of the pool, whose base is larger by as many (on
# PostgreSQL the most a process opens stays 20).
HELD_PLAN_CONNECTIONS = 8
# PostgreSQL: lock_not_available, deadlock_detected, serialization_failure, query_canceled.
_PG_RETRYABLE = frozenset({"55P03", "40P01", "40001", "57014"})


def is_lock_contention(exc: BaseException) -> bool:
    """SQLite "database is locked/busy" past busy_timeout, or PostgreSQL lock trouble."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    text = str(orig).lower()
    if any(marker in text for marker in ("database is locked", "database is busy", "is locked")):
        return True
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in _PG_RETRYABLE


@asynccontextmanager
async def cancellation_kept() -> AsyncIterator[None]:
    """A cancelled task stays cancelled: an exception raised while it is being cancelled
    becomes the CancelledError again.

    Cancelling a statement in flight on asyncpg leaves the connection mid-transaction, and
    closing the session or connection then raises SQLAlchemy's `PendingRollbackError` in place
    of the CancelledError (measured: from 10 ms into a query on, every time). Callers rely on the
    cancellation: the request deadline answers 504 only for a CancelledError (else the caller saw
    an unexpected 500), and a background loop told to stop went round again (it logged the error
    and carried on)."""
    try:
        yield
    except Exception as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError() from exc
        raise


@asynccontextmanager
async def connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.connect()` whose cancellation stays a cancellation (`cancellation_kept`)."""
    async with cancellation_kept(), engine.connect() as connection:
        yield connection


# Where a write session collects its live events (`gateway.domain.events.hub.SESSION_KEY`).
EVENTS_SESSION_KEY = "seliq_events"


def _json_text(value: Any) -> str:
    return jsontext.dumps(value).decode()


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    """Writes take the write lock up front. Reads emit no BEGIN at all: each SELECT is its own
    consistent snapshot, and skipping the extra round trip to the driver thread is measurable."""
    if conn.get_execution_options().get("sqlite_immediate", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class CommitOutcomeUnknown(Unavailable):
    """The COMMIT was sent and then the driver failed (a connection lost before the answer
    came): the write may or may not be stored, and nothing here can tell which. Running the
    work again would store it twice if it was; the doors answer 503 and say so."""

    def __init__(self) -> None:
        super().__init__(
            "the connection to the database failed while committing, so the write may have "
            "been stored: retry with the same Idempotency-Key to have it stored once (a retry "
            "without one may store it twice)"
        )


async def _before_commit(session: AsyncSession) -> None:
    """The work's statements go out while the request's deadline may still cancel them (and
    roll them back); the COMMIT itself is shielded from it (`deadline`): a commit cannot be
    called back once sent, so a request that reaches it gets its real answer."""
    session.sync_session.info[bulk.LAST_FLUSH_KEY] = True
    await session.flush()
    deadline.shield_current()


class Database:
    """One engine plus the two kinds of session the services use: read and write."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # JSON columns (labels, payloads, timeline data) encoded as answers are: orjson, compact
        # UTF-8 (the standard library's encoder was ~3% of a webhook alert's CPU).
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_text}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
            # Enough pooled connections for the requests in flight: past the pool, each
            # checkout opens a connection (a thread, the PRAGMAs) and closes it on return.
            kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
            # One trip to the driver thread per statement instead of four.
            kwargs["module"] = sqlite_driver.dbapi()
        else:
            # No `pool_pre_ping`: it costs three round trips before every checkout's first
            # statement; `round_trips.watch` pings only connections that sat idle.
            # At most 20 connections, as before the held ones: they are part of the base pool.
            kwargs.update(
                pool_size=10 + HELD_PLAN_CONNECTIONS, max_overflow=10 - HELD_PLAN_CONNECTIONS
            )
            # The same patience as SQLite's busy timeout: a write blocked on a row lock for
            # longer fails (SQLSTATE 55P03), which the ingestion doors answer with 503.
            kwargs["connect_args"] = {"server_settings": {"lock_timeout": str(BUSY_TIMEOUT_MS)}}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        sync_engine = self.engine.sync_engine
        round_trips.watch(sync_engine, ping_idle=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(sync_engine, "connect", _sqlite_on_connect)
            event.listen(sync_engine, "begin", _sqlite_on_begin)
            write_engine = self.engine.execution_options(sqlite_immediate=True)
        else:
            write_engine = self.engine
        self._read_sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._write_sessions = async_sessionmaker(
            write_engine, class_=AsyncSession, sync_session_class=bulk.WriteSession,
            expire_on_commit=False,
        )
        # SQLite has one writer: this process's writes take turns here rather than in its busy
        # handler. PostgreSQL's writers meet at row locks instead (a no-op here).
        self._write_lock: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.is_sqlite else nullcontext()
        )
        # Set by the app to its event broker's `publish`: called with the events of each
        # committed write session (never for one that rolled back).
        self.publish: Callable[[Sequence[Any]], None] | None = None
        # SQLite has one writer; on PostgreSQL groups of different workspaces commit side by
        # side, each on a connection of its own (a few: the pool serves the reads too).
        self.grouped = GroupCommit(self, parallel=1 if self.is_sqlite else PG_PARALLEL_GROUPS)
        # The plans' reads: no transaction (SQLite's reads never begin one; PostgreSQL's run in
        # autocommit, each statement its own snapshot), on connections kept between requests.
        plan_engine = self.engine if self.is_sqlite else self.engine.execution_options(
            isolation_level="AUTOCOMMIT"
        )
        self._plan_reads = HeldConnections(
            plan_engine, keep=HELD_PLAN_CONNECTIONS, ping_idle=not self.is_sqlite
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; its transaction is rolled back (nothing to keep) at the end."""
        async with cancellation_kept(), self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def plan_reads(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads outside any transaction (the cached plans'), taken from the
        ones kept between requests (`gateway.domain.storage.held`); its cancellation stays a
        cancellation (`cancellation_kept`)."""
        async with cancellation_kept(), self._plan_reads.connection() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits as one transaction when the block ends without error.
        The live events it recorded (`gateway.domain.events.hub.record`) are published after the
        commit; a block that fails rolls back and publishes nothing. The request's deadline may
        cancel the block (it rolls back) but not its COMMIT (`_before_commit`)."""
        committing = False  # past the last flush: what fails now is the COMMIT itself
        try:
            async with cancellation_kept(), self._write_lock, self._write_sessions() as session, \
                    session.begin():
                yield session
                await _before_commit(session)
                committing = True
        except DBAPIError as exc:
            # Lock trouble rolled back: nothing is half-written, and the caller may retry.
            if is_lock_contention(exc):
                raise Unavailable(
                    f"the database is busy; nothing was written, retry in {RETRY_AFTER_SECONDS} s"
                ) from exc
            if committing:
                raise CommitOutcomeUnknown() from exc
            raise
        events = session.info.pop(EVENTS_SESSION_KEY, None)
        if events and self.publish is not None:
            try:
                self.publish(events)
            except Exception:  # committed already: a lost live event must not fail the write
                logging.getLogger("seliq.events").exception("publishing events failed")

    async def write_grouped(
        self, work: Callable[[AsyncSession], Awaitable[T]], prepare: Prepare | None = None,
        *, lane: Hashable = None, weight: int = 1,
    ) -> T:
        """`work(session)` in a write transaction shared with the other work that queued while
        the previous commit was in flight (`gateway.domain.storage.group_commit`); returns after
        the commit. `lane` (a workspace) and `weight` (its alerts) are what the groups are
        shared out by."""
        return await self.grouped.run(work, prepare, lane=lane, weight=weight)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.grouped.close()
        await self._plan_reads.close()
        await self.engine.dispose()
