"""The two database backends every database-backed test runs on: SQLite always, PostgreSQL when
`SELIQ_TEST_POSTGRES_URL` is set (under `CI=true` it defaults to the machine's server and a
missing server fails the run; without either, the `[postgres]` variants are not generated).

PostgreSQL: one private database per pytest session (`seliq_test_<pid>_<hex>`, created from the
URL's database, migrated to head once, dropped at the end), so concurrent runs never share
tables; before each test every table is emptied (one round trip of DELETEs, children first).
A user without CREATEDB falls back to the URL's own database (migrated, emptied).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import gateway.domain.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from gateway.domain.events.brokers import asyncpg_dsn
from gateway.domain.storage import migrate
from tests.support.services import CI_POSTGRES_URL, POSTGRES_ENV, require_postgres

SQLITE = "sqlite"
POSTGRES = "postgres"
BACKENDS = (SQLITE, POSTGRES)


def enabled_backends() -> tuple[str, ...]:
    """The `[postgres]` variants exist when SELIQ_TEST_POSTGRES_URL is set, and always under CI
    (where an unreachable server then fails them); elsewhere they are left out, which the
    session header says in one line, instead of hundreds of identical skips."""
    if os.environ.get(POSTGRES_ENV) or os.environ.get("CI") == "true":
        return BACKENDS
    return (SQLITE,)


def report_header() -> str:
    if POSTGRES in enabled_backends():
        url = os.environ.get(POSTGRES_ENV) or CI_POSTGRES_URL
        return f"database backends: sqlite, postgres ({make_url(url).render_as_string()})"
    return f"database backends: sqlite only (set {POSTGRES_ENV} to add postgres)"


T = TypeVar("T")


def run_aside(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a loop of its own in another thread, so the test's
    event loop (set as the thread's current loop by pytest-asyncio) is left alone."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class PostgresDatabase:
    url: str  # SQLAlchemy URL of the session's database
    admin_url: str  # the configured URL (the database we create ours from)
    created: bool
    tables: tuple[str, ...] = ()

    def reset(self) -> None:
        """Empty every table (from synchronous fixtures)."""
        run_aside(self.empty())

    async def empty(self) -> None:
        """Delete every row, children first, in one round trip. (DELETE, not TRUNCATE: on
        near-empty tables it takes ~1 ms where TRUNCATE takes ~40; the schema has no
        sequences to restart.)"""
        statement = emptying_sql(self.tables)
        if not statement:
            return
        conn = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            await conn.execute("SET lock_timeout = '3s'")
            try:
                await conn.execute(statement)
            except asyncpg.LockNotAvailableError:
                # A connection a previous test leaked still holds a lock: this database is ours
                # alone, so end those sessions and try again.
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                await conn.execute(statement)
        finally:
            await conn.close()


def emptying_sql(tables: tuple[str, ...]) -> str:
    """Statements that empty `tables`: the models' tables children first; any other table
    (one a migration added without a model) with TRUNCATE ... CASCADE."""
    known = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
    unknown = [name for name in tables if name not in known]
    parts = [f"TRUNCATE {', '.join(unknown)} RESTART IDENTITY CASCADE"] if unknown else []
    parts += [f"DELETE FROM {name}" for name in known if name in tables]
    return "; ".join(parts)


async def _list_tables(url: str) -> tuple[str, ...]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname = current_schema() AND tablename <> 'alembic_version' "
            "ORDER BY tablename"
        )
    finally:
        await conn.close()
    return tuple(row["name"] for row in rows)


async def _create(admin_url: str) -> PostgresDatabase:
    name = f"seliq_test_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    except asyncpg.InsufficientPrivilegeError:
        return PostgresDatabase(url=admin_url, admin_url=admin_url, created=False)
    finally:
        await conn.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return PostgresDatabase(url=url, admin_url=admin_url, created=True)


async def _drop(database: PostgresDatabase) -> None:
    if not database.created:
        return
    conn = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        name = make_url(database.url).database
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_empty_postgres_database(admin_url: str) -> PostgresDatabase:
    """A new database with nothing in it (skips when the user may not create databases)."""
    database = await _create(admin_url)
    if not database.created:
        pytest.skip("the PostgreSQL user may not CREATE DATABASE")
    return database


async def create_postgres_database(admin_url: str) -> PostgresDatabase:
    """A new, empty database migrated to head (Alembic runs against PostgreSQL here)."""
    database = await _create(admin_url)
    await migrate.upgrade(database.url)
    database.tables = await _list_tables(database.url)
    if not database.created:
        await database.empty()
    return database


def postgres_session_database() -> PostgresDatabase:
    """For the session fixture: skips (or fails under CI) without a server."""
    admin_url = require_postgres()
    try:
        return run_aside(create_postgres_database(admin_url))
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {make_url(admin_url).render_as_string()} is unusable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def drop_postgres_database(database: PostgresDatabase) -> None:
    run_aside(_drop(database))
