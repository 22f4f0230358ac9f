"""The Alembic migrations build exactly the tables the models describe, on SQLite and on
PostgreSQL: an empty database upgrades to head, autogenerate finds nothing pending, and the
downgrades run back to an empty schema and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import gateway.domain.storage.models  # noqa: F401
from gateway.domain.storage import migrate
from tests.support import backends
from tests.support.services import require_postgres


async def _diff(url: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_no_pending_autogenerate_diff(db_url: str) -> None:
    assert await _diff(db_url) == []


async def test_upgrade_reaches_head(db_url: str) -> None:
    assert await migrate.current_revision(db_url) == migrate.head_revision()


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if backend == backends.SQLITE:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = require_postgres()
    database = backends.run_aside(backends.create_empty_postgres_database(admin_url))
    try:
        yield database.url
    finally:
        backends.drop_postgres_database(database)


async def test_empty_database_upgrades_downgrades_and_upgrades_again(empty_url: str) -> None:
    assert await _tables(empty_url) == set()
    await migrate.upgrade(empty_url)
    assert await migrate.current_revision(empty_url) == migrate.head_revision()
    assert await _tables(empty_url) == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert await _diff(empty_url) == []

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), "base")
    assert await _tables(empty_url) <= {"alembic_version"}
    await migrate.upgrade(empty_url)
    assert await _diff(empty_url) == []
