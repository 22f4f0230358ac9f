"""The one-trip aiosqlite adapter (`gateway.domain.storage.sqlite_driver`): the same answers and
errors as
SQLAlchemy's own adapter, with one trip to the driver thread per statement and none for the
ROLLBACK that ends every read session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.domain.storage.engine import Database


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every function sent to an aiosqlite driver thread."""
    sent: list[Any] = []
    real = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(fn)
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    yield sent


async def test_rows_rowcount_and_executemany(things_db: Database) -> None:
    async with things_db.write() as session:
        await session.execute(
            text("INSERT INTO things (name) VALUES (:name)"), [{"name": "a"}, {"name": "b"}]
        )
        updated = await session.execute(text("UPDATE things SET name = name || '!'"))
        assert updated.rowcount == 2  # type: ignore[attr-defined]
    async with things_db.read() as session:
        rows = (await session.execute(text("SELECT id, name FROM things ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "a!"), (2, "b!")]
        empty = (await session.execute(text("SELECT name FROM things WHERE id = 99"))).all()
        assert empty == []


async def test_errors_keep_their_sqlalchemy_classes(things_db: Database) -> None:
    async with things_db.write() as session:
        await session.execute(text("INSERT INTO things (name) VALUES ('same')"))
    with pytest.raises(IntegrityError):
        async with things_db.write() as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('same')"))
    with pytest.raises(OperationalError):
        async with things_db.read() as session:
            await session.execute(text("SELECT nope FROM things"))
    # The failed write rolled back and the connection is usable again.
    async with things_db.read() as session:
        count = (await session.execute(text("SELECT count(*) FROM things"))).scalar_one()
    assert count == 1


async def test_one_trip_per_statement_and_none_for_an_idle_rollback(
    things_db: Database, trips: list[Any]
) -> None:
    async with things_db.read() as session:  # warm the pool: connecting makes trips of its own
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with things_db.read() as session:
        await session.execute(text("SELECT id, name FROM things"))
        await session.execute(text("SELECT count(*) FROM things"))
    assert len(trips) == 2  # SQLAlchemy's adapter: 4 per SELECT, plus the ROLLBACK
    trips.clear()
    async with things_db.write() as session:
        await session.execute(text("INSERT INTO things (name) VALUES ('x')"))
    # BEGIN IMMEDIATE, the INSERT, COMMIT.
    assert len(trips) == 3
