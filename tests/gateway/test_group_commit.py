"""Group commit (`gateway.domain.storage.group_commit`) on a real SQLite file: writes that queue
while a commit
is in flight share the next transaction, nobody is answered before the commit, and one unit's
failure, a cancelled caller or a shutdown never costs another caller its write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.errors import Unavailable
from gateway.domain.storage.engine import Database

Work = Callable[[AsyncSession], Awaitable[str]]


def insert(name: str, *, gate: asyncio.Event | None = None) -> Work:
    async def work(session: AsyncSession) -> str:
        if gate is not None:
            await gate.wait()
        await session.execute(text("INSERT INTO things (name) VALUES (:n)"), {"n": name})
        return name

    return work


async def names(db: Database) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(text("SELECT name FROM things ORDER BY name"))
        return [row[0] for row in rows]


async def hold_first_group(db: Database) -> tuple[asyncio.Event, asyncio.Task[str]]:
    """Start a group whose only unit waits on the returned gate (the commit "in flight")."""
    gate = asyncio.Event()
    first = asyncio.create_task(db.write_grouped(insert("first", gate=gate)))
    await asyncio.sleep(0.05)
    return gate, first


async def test_writes_queued_during_a_commit_share_the_next_transaction(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    queued = [asyncio.create_task(things_db.write_grouped(insert(f"n{i}"))) for i in range(10)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in queued)  # nobody answered before the commit
    gate.set()
    assert await first == "first"
    assert await asyncio.gather(*queued) == [f"n{i}" for i in range(10)]
    assert things_db.grouped.groups == 2 and things_db.grouped.units == 11
    assert len(await names(things_db)) == 11


async def test_a_failing_unit_fails_alone(things_db: Database) -> None:
    gate, first = await hold_first_group(things_db)
    good = [asyncio.create_task(things_db.write_grouped(insert(f"ok{i}"))) for i in range(3)]
    clash = asyncio.create_task(things_db.write_grouped(insert("first")))  # UNIQUE violation
    late = asyncio.create_task(things_db.write_grouped(insert("ok-late")))
    gate.set()
    await first
    assert await asyncio.gather(*good, late) == ["ok0", "ok1", "ok2", "ok-late"]
    with pytest.raises(IntegrityError):
        await clash
    assert await names(things_db) == ["first", "ok-late", "ok0", "ok1", "ok2"]


async def test_prepare_runs_once_per_group_with_every_unit_that_named_it(
    things_db: Database,
) -> None:
    seen: list[int] = []

    async def prepare(session: AsyncSession, works: Sequence[Any]) -> None:
        seen.append(len(works))

    gate, first = await hold_first_group(things_db)
    queued = [
        asyncio.create_task(things_db.write_grouped(insert(f"p{i}"), prepare=prepare))
        for i in range(4)
    ]
    plain = asyncio.create_task(things_db.write_grouped(insert("plain")))
    gate.set()
    await asyncio.gather(first, *queued, plain)
    assert seen == [4]


async def test_a_caller_cancelled_before_its_group_started_writes_nothing(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    gone = asyncio.create_task(things_db.write_grouped(insert("gone")))
    stays = asyncio.create_task(things_db.write_grouped(insert("stays")))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.set()
    await asyncio.gather(first, stays)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await names(things_db) == ["first", "stays"]


async def test_close_rolls_back_the_group_in_flight_and_fails_the_queue(
    things_db: Database,
) -> None:
    gate, first = await hold_first_group(things_db)
    queued = asyncio.create_task(things_db.write_grouped(insert("queued")))
    await asyncio.sleep(0.01)
    await things_db.grouped.close()
    with pytest.raises(Unavailable):
        await queued
    with pytest.raises((Unavailable, asyncio.CancelledError)):
        await first
    assert await names(things_db) == []
    # The queue works again afterwards (a new app on the same engine, as in the tests).
    assert await things_db.write_grouped(insert("after")) == "after"
