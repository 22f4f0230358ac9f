"""`seliq-gateway db copy --from URL --to URL`: copy every row of one gateway database into
another, e.g. a SQLite file into PostgreSQL when a deployment outgrows one machine.

    seliq-gateway db upgrade --database postgresql+asyncpg://seliq@db/seliq   # 1. schema
    seliq-gateway db copy --from sqlite+aiosqlite:///./seliq.db \\
                          --to postgresql+asyncpg://seliq@db/seliq            # 2. data

Rules:
- both databases must be at the newest migration (so both have the same tables and columns);
  the target must be empty. Either failing is refused with one line before anything is written;
- tables are copied parents first (foreign-key order; workspaces parents before their
  customers), ids and every column as stored, in batches, in ONE transaction on the target:
  a copy that fails half-way leaves the target empty, and the row counts of every table are
  compared before it commits;
- on PostgreSQL the target's tables are ANALYZEd after the commit, so the planner knows
  their sizes from the first request on;
- the source is only read. Stop the gateway (or at least ingestion) while copying: rows written
  to the source after a table was copied are not carried over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

import gateway.domain.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from gateway.domain.errors import DomainError
from gateway.domain.storage import migrate
from gateway.domain.storage.engine import Database

BATCH = 1000


class CopyRefused(DomainError):
    """The copy cannot start (or was rolled back); nothing was written to the target."""

    code = "CONFLICT"


def safe_url(url: str) -> str:
    """The URL without its password, for messages and output."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def tables() -> list[Table]:
    """Every gateway table, parents before children."""
    return list(SQLModel.metadata.sorted_tables)


async def _check_revision(url: str, role: str) -> None:
    head = migrate.head_revision()
    try:
        current = await migrate.current_revision(url)
    except Exception as exc:
        raise CopyRefused(f"cannot open the {role} database {safe_url(url)}: {exc}") from exc
    if current != head:
        raise CopyRefused(
            f"the {role} database {safe_url(url)} is at migration {current or 'none'}, not "
            f"{head}: run `seliq-gateway --database URL db upgrade` on it first"
        )


async def _counts(conn: AsyncConnection) -> dict[str, int]:
    return {
        table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
        for table in tables()
    }


def _parents_first(table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order the rows of a self-referencing table (workspaces.parent_id) so that every row comes
    after the row it points to: foreign keys are checked row by row on PostgreSQL."""
    self_refs = [
        (fk.parent.name, fk.column.name)
        for fk in table.foreign_keys
        if fk.column.table is table
    ]
    if not self_refs:
        return list(rows)
    pending = list(rows)
    keys = {column: {row[column] for row in rows} for _, column in self_refs}
    placed: dict[str, set[Any]] = {column: set() for _, column in self_refs}
    ordered: list[dict[str, Any]] = []
    while pending:
        ready = [
            row for row in pending
            if all(
                row[child] is None or row[child] not in keys[parent] or row[child] in placed[parent]
                for child, parent in self_refs
            )
        ]
        if not ready:  # a cycle: cannot happen for a tree, but never loop forever
            ready = pending[:1]
        for row in ready:
            ordered.append(row)
            for _, parent in self_refs:
                placed[parent].add(row[parent])
        taken = {id(row) for row in ready}
        pending = [row for row in pending if id(row) not in taken]
    return ordered


async def _copy_table(source: AsyncConnection, target: AsyncConnection, table: Table) -> int:
    stmt = select(table).order_by(*table.primary_key.columns)
    if any(fk.column.table is table for fk in table.foreign_keys):
        # Small tables (workspaces): read whole, parents first.
        rows = _parents_first(table, [dict(row) for row in (await source.execute(stmt)).mappings()])
        for start in range(0, len(rows), BATCH):
            await target.execute(insert(table), rows[start:start + BATCH])
        return len(rows)
    copied = 0
    result = await source.stream(stmt)
    async for partition in result.mappings().partitions(BATCH):
        await target.execute(insert(table), [dict(row) for row in partition])
        copied += len(partition)
    return copied


@asynccontextmanager
async def _snapshot(db: Database) -> AsyncIterator[AsyncConnection]:
    """A read-only connection that sees the source as of one moment (one transaction)."""
    if db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("BEGIN")  # deferred: a WAL read snapshot, no write lock
            yield conn  # closing the connection rolls the read transaction back
        return
    engine = db.engine.execution_options(isolation_level="REPEATABLE READ")
    async with engine.connect() as conn:
        yield conn


async def _analyze(db: Database) -> None:
    """Planner statistics for the rows just loaded. Without them PostgreSQL plans every table as
    nearly empty until autovacuum gets round to it: measured on the bench data, the dashboard's
    nested alert lists ran a bitmap AND over the whole workspace index (29 ms) instead of the
    per-incident index (0.4 ms)."""
    async with db.engine.connect() as conn:
        for table in tables():
            await conn.exec_driver_sql(f'ANALYZE "{table.name}"')
        await conn.commit()


async def copy_database(source_url: str, target_url: str) -> dict[str, Any]:
    """Copy every row of `source_url` into `target_url` (see the module docstring)."""
    if make_url(source_url) == make_url(target_url):
        raise CopyRefused("--from and --to name the same database")
    await _check_revision(source_url, "source")
    await _check_revision(target_url, "target")
    source_db, target_db = Database(source_url), Database(target_url)
    # SQLite: take the write lock up front (BEGIN IMMEDIATE, as every gateway write does).
    writer = target_db.engine.execution_options(sqlite_immediate=True)
    try:
        async with _snapshot(source_db) as source, writer.begin() as target:
            present = {name: n for name, n in (await _counts(target)).items() if n}
            if present:
                listed = ", ".join(f"{name} ({n} rows)" for name, n in sorted(present.items()))
                raise CopyRefused(
                    f"the target database {safe_url(target_url)} is not empty: {listed}; "
                    "copy only into a freshly migrated database"
                )
            copied = {table.name: await _copy_table(source, target, table) for table in tables()}
            expected, landed = await _counts(source), await _counts(target)
            if not copied == expected == landed:
                raise CopyRefused(
                    f"row counts differ after copying: source {expected}, target {landed}; "
                    "nothing was written"
                )
        if not target_db.is_sqlite:
            await _analyze(target_db)
    finally:
        await source_db.dispose()
        await target_db.dispose()
    return {
        "copied": copied,
        "rows": sum(copied.values()),
        "from": safe_url(source_url),
        "to": safe_url(target_url),
        "revision": migrate.head_revision(),
    }
