"""A bare SQLite database through `gateway.domain.storage.engine.Database`, for tests of the
storage plumbing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.domain.storage.engine import Database


@pytest.fixture
async def things_db(tmp_path: Path) -> AsyncIterator[Database]:
    """One table, `things (id, name UNIQUE)`, and nothing else."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'things.db'}")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"
        )
    yield db
    await db.dispose()
