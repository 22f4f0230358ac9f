"""The connections the cached plans keep between requests (`gateway.domain.storage.held`): they
are reused, a read that fails gives its connection back to the pool rather than to the next
request, and on PostgreSQL one that sat idle is pinged (counted) and replaced when it died."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.storage import held
from gateway.domain.storage.engine import Database, StatementCounter, current_counter
from tests.support import backends


async def _driver_connection(conn: AsyncConnection) -> Any:
    return (await conn.get_raw_connection()).driver_connection


async def test_a_finished_read_hands_its_connection_to_the_next(db: Database) -> None:
    async with db.plan_reads() as conn:
        first = await _driver_connection(conn)
    async with db.plan_reads() as conn:
        assert await _driver_connection(conn) is first
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    # A read that began a transaction through SQLAlchemy leaves none open for the next one.
    async with db.plan_reads() as conn:
        assert not conn.in_transaction()


async def test_a_failed_read_does_not_pass_its_connection_on(db: Database) -> None:
    async with db.plan_reads() as conn:
        first = await _driver_connection(conn)
    with pytest.raises(RuntimeError):
        async with db.plan_reads() as conn:
            assert await _driver_connection(conn) is first
            raise RuntimeError("the request failed half-way")
    async with db.plan_reads() as conn:  # from the pool again: reset, working
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1


async def test_concurrent_reads_each_get_their_own(db: Database) -> None:
    async with db.plan_reads() as one, db.plan_reads() as two:
        assert await _driver_connection(one) is not await _driver_connection(two)


@pytest.fixture
async def postgres_db(postgres_database: backends.PostgresDatabase) -> AsyncIterator[Database]:
    postgres_database.reset()
    database = Database(postgres_database.url)
    yield database
    await database.dispose()


async def test_a_connection_the_server_closed_is_replaced_and_an_idle_one_pinged(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = postgres_db
    async with db.plan_reads() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
    counter = StatementCounter()
    token = current_counter.set(counter)
    try:
        async with db.plan_reads() as conn:  # in steady use: no ping
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() == pid
        assert counter.statements == ["SELECT pg_backend_pid()"]
        async with db.engine.connect() as admin:  # the server ends the waiting connection
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.2)  # asyncpg hears the connection close
        counter.statements.clear()
        async with db.plan_reads() as conn:  # replaced without a round trip to find out
            replaced = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert replaced != pid
        assert counter.statements == ["SELECT pg_backend_pid()"]
        # One that sat idle longer than the limit is pinged first, and the ping is counted.
        monkeypatch.setattr(held, "IDLE_PING_SECONDS", 0.0)
        counter.statements.clear()
        async with db.plan_reads() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() == replaced
        assert counter.statements == ["SELECT 1", "SELECT pg_backend_pid()"]
    finally:
        current_counter.reset(token)
