"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import gateway.models  # noqa: F401
from gateway import migrate


async def test_no_pending_autogenerate_diff(migrated_template: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{migrated_template}")
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_upgrade_reaches_head(migrated_template: Path) -> None:
    url = f"sqlite+aiosqlite:///{migrated_template}"
    assert await migrate.current_revision(url) == migrate.head_revision()
