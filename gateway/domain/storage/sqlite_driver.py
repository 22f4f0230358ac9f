"""SQLAlchemy's aiosqlite adapter, with one trip to the driver thread per statement.

aiosqlite runs each sqlite3 call on a thread of its own and hands the result back to the event
loop. SQLAlchemy's adapter makes one such trip per DBAPI call: create the cursor, execute,
fetch the rows, close the cursor, four trips for one SELECT, each a thread wake-up and a loop
wake-up (~0.08 ms of CPU on the benchmark machine), which made a one-row SELECT cost ~0.34 ms.
Here a statement is one function run on the driver thread (cursor, execute, fetch everything,
close) and the cursor the engine sees only replays what came back; a ROLLBACK with no
transaction open (every read session ends with one) makes no trip at all.

What stays the same: the engine's URL (`sqlite+aiosqlite://`), every SQL statement, the driver
thread that owns the sqlite3 connection, errors (the same exception classes reach SQLAlchemy).
Server-side cursors (`stream_results`) keep SQLAlchemy's own cursor. The adapter relies on
aiosqlite's `Connection._execute(fn)` (run `fn` on the connection's thread), which aiosqlite
itself uses for every call; `pyproject.toml` bounds the versions it was checked against.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Result = tuple[Any, int, int | None, list[Any]]


def _run_statement(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> _Result:
    """On the driver thread: the whole life of a cursor, returned as plain values."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose `execute` is one trip to the driver thread; the rest is memory."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No driver cursor is made here (that was a trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid or 0

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the driver thread

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            result: _Result = await driver._execute(
                _run_statement, driver._conn, operation, parameters, many
            )
        self._description, self._rowcount, self._lastrowid, rows = result
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls: type[AsyncAdapt_aiosqlite_cursor] = OneTripCursor

    def rollback(self) -> None:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        # Read sessions never BEGIN (see gateway.domain.storage.engine): their ROLLBACK would be a
        # wasted trip.
        if driver._connection is not None and driver.in_transaction:
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to `create_async_engine` for a `sqlite+aiosqlite://` URL."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
