"""A task cancelled while its statement runs ends with CancelledError, on both databases: closing
the interrupted session raised SQLAlchemy's PendingRollbackError instead (all six cases failed),
which turned a request's deadline into a 500 and let a stopped background loop go round again
(gateway.domain.storage.engine.cancellation_kept)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import text

from gateway.domain.storage.engine import Database, connected

SLOW = {
    "postgresql": "SELECT pg_sleep(2)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
              " SELECT count(*) FROM c",
}


def _opened(db: Database, how: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
    return {
        "read session": db.read,
        "write session": db.write,
        "connection": lambda: connected(db.engine),
        "plan reads": db.plan_reads,
    }[how]


@pytest.mark.parametrize("how", ["read session", "write session", "connection", "plan reads"])
async def test_a_statement_cancelled_in_flight_ends_in_cancelled_error(
    db: Database, how: str
) -> None:
    slow = SLOW[db.engine.dialect.name]
    opened = _opened(db, how)
    started = asyncio.Event()

    async def query() -> None:
        async with opened() as conn:
            started.set()
            await conn.execute(text(slow))

    for delay in (0.05, 0.2):
        task = asyncio.create_task(query())
        await started.wait()
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started.clear()
    async with db.read() as session:  # the pool hands out a working connection afterwards
        assert (await session.execute(text("SELECT 1"))).scalar() == 1
    async with db.plan_reads() as conn:  # and so do the connections the plans keep
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
