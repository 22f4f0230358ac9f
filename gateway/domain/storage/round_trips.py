"""What a request sends to the database, counted honestly, and liveness checks off the hot path.

`X-Seliq-SQL-Statements` (the request's `StatementCounter`) counts every statement the driver
sends while the request runs:

- each statement SQLAlchemy executes (`before_cursor_execute`), SQLite's `BEGIN IMMEDIATE`
  included;
- the transaction statements the drivers send on their own: on PostgreSQL (asyncpg), the
  `BEGIN` that goes out with the first statement of a transaction; on both, the `COMMIT` or
  `ROLLBACK` that ends one (only when one is open: a SQLite read session never begins one, a
  connection in autocommit has none), whether SQLAlchemy ends it or the pool does when the
  connection is returned;
- a liveness ping (`BEGIN; ;ROLLBACK` on asyncpg).

Not counted: what sets up a new pooled connection, once per connection (SQLite's PRAGMAs,
asyncpg's type introspection on PostgreSQL), so a count does not depend on the pool's state.

Liveness: `pool_pre_ping` pings every connection on every checkout, three round trips on
PostgreSQL before each request's first statement. Instead a connection idle in the pool for
more than `IDLE_PING_SECONDS` is pinged before use (a server restarted or a connection cut by a
firewall while idle is found there, and replaced); one in steady use is not. A connection that
breaks while in use fails its request once, and SQLAlchemy's disconnect handling replaces it.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError


@dataclass
class StatementCounter:
    """Counts SQL statements sent while it is the current counter (per request, per test)."""

    count: int = 0
    statements: list[str] = field(default_factory=list)


current_counter: contextvars.ContextVar[StatementCounter | None] = contextvars.ContextVar(
    "seliq_statement_counter", default=None
)

# A connection idle longer than this is pinged before it is used again.
IDLE_PING_SECONDS = 10.0
IDLE_SINCE = "seliq_idle_since"


def count(statement: str, times: int = 1) -> None:
    counter = current_counter.get()
    if counter is not None:
        counter.count += times
        counter.statements.extend([statement] * times)


def in_transaction(dbapi_connection: Any) -> bool:
    """Whether the driver has a transaction open (so ending it sends a statement)."""
    transaction = getattr(dbapi_connection, "_transaction", False)
    if transaction is not False:  # SQLAlchemy's asyncpg adapter
        return transaction is not None
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    return bool(getattr(driver, "in_transaction", False))  # sqlite3, through aiosqlite


def _autocommit(dbapi_connection: Any) -> bool:
    return bool(getattr(dbapi_connection, "autocommit", False))


def _before_cursor_execute(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    counter = current_counter.get()
    if counter is None:
        return
    dbapi_connection = conn.connection.dbapi_connection
    if (
        getattr(dbapi_connection, "_transaction", False) is None
        and not _autocommit(dbapi_connection)
    ):
        count("BEGIN")  # asyncpg begins the transaction with this statement
    count(statement)


def _ending(statement: str) -> Any:
    def listener(conn: Connection) -> None:
        if conn.invalidated:
            return  # a connection found dead: ending its transaction sends nothing
        if in_transaction(conn.connection.dbapi_connection):
            count(statement)

    return listener


def _reset(dbapi_connection: Any, record: Any, reset_state: Any = None) -> None:
    """The pool rolls back what a returned connection left open."""
    if in_transaction(dbapi_connection):
        count("ROLLBACK")


def _checkin(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[IDLE_SINCE] = time.monotonic()


def _checkout_ping(engine: Engine) -> Any:
    dialect = engine.dialect

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since <= IDLE_PING_SECONDS:
            return
        plain = _autocommit(dbapi_connection) or in_transaction(dbapi_connection)
        count(";" if plain else "BEGIN; ; ROLLBACK", 1 if plain else 3)
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the connection did not answer a ping") from exc
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")

    return checkout


def watch(engine: Engine, *, ping_idle: bool) -> None:
    """Count what `engine` sends (see the module), and with `ping_idle` check connections
    that sat idle before they are used."""
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(engine, "commit", _ending("COMMIT"))
    event.listen(engine, "rollback", _ending("ROLLBACK"))
    event.listen(engine, "reset", _reset)
    event.listen(engine, "checkin", _checkin)
    if ping_idle:
        event.listen(engine, "checkout", _checkout_ping(engine))
