"""`seliq-gateway db copy`: a SQLite database with the demo data copied into PostgreSQL (and into
SQLite) keeps every row, id and value; a target that is not empty or not migrated is refused
with one line and left untouched."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel, col

from gateway.domain import ids
from gateway.domain.storage.copy import _parents_first, tables
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import IdempotencyRecord, Report, WebhookDelivery, Workspace
from gateway.domain.timeutil import utcnow
from gateway.service.cli import main
from tests.support import backends

# The demo fills these; the test adds the rest, so every table of the schema has rows.
EXTRA_TABLES = {"webhook_tokens", "reports", "idempotency_records", "webhook_deliveries"}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out  # exactly one JSON object
    return code, json.loads(out[0])


def _sqlite_copy(template: Path, folder: Path, name: str) -> str:
    target = folder / name
    shutil.copy(template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def target_url(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, migrated_template: Path
) -> str:
    """An empty database at head: a PostgreSQL database or a SQLite file."""
    if backend == backends.POSTGRES:
        database: backends.PostgresDatabase = request.getfixturevalue("postgres_database")
        database.reset()
        return database.url
    return _sqlite_copy(migrated_template, tmp_path, "target.db")


async def _add_the_rest(url: str) -> None:
    """Rows for the tables the demo leaves empty (webhook tokens come from the CLI)."""
    db = Database(url)
    try:
        async with db.write() as session:
            workspace = (
                await session.execute(select(Workspace).where(col(Workspace.slug) == "acme-corp"))
            ).scalar_one()
            now = utcnow()
            session.add(Report(
                id=ids.new_id(ids.REPORT), workspace_id=workspace.id, kind="sla", status="ready",
                period_start=now - timedelta(days=30), period_end=now,
                content={"total": 3, "nested": {"ok": True, "list": [1, 2.5, None, "é"]}},
                requested_by="key:test", created_at=now, completed_at=now,
            ))
            session.add(IdempotencyRecord(
                workspace_id=workspace.id, key="retry-1", request_hash="0" * 64,
                response_status=201, response_body={"format": "generic", "results": []},
                created_at=now,
            ))
            session.add(WebhookDelivery(
                id=ids.new_id(ids.DELIVERY), workspace_id=workspace.id, received_at=now,
                request_id="req_1", size_bytes=12, format="generic", status_code=202,
                accepted=1, alert_ids=["alt_x"], incident_ids=["inc_y"], outcomes=["created"],
            ))
    finally:
        await db.dispose()


async def _dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, ordered by primary key, as the models' columns read them."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return {
                table.name: [
                    dict(row) for row in (
                        await conn.execute(select(table).order_by(*table.primary_key.columns))
                    ).mappings()
                ]
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        await db.dispose()


async def _planner_row_counts(url: str) -> dict[str, int]:
    """pg_class.reltuples of every table: -1 until a table is first analyzed (then exact for
    tables this small, since ANALYZE samples every row)."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY($1)",
                ([t.name for t in SQLModel.metadata.sorted_tables],),
            )
            return {str(row["relname"]): int(row["reltuples"]) for row in rows.mappings()}
    finally:
        await db.dispose()


def test_copy_keeps_every_row_and_id(
    target_url: str, migrated_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source_url = _sqlite_copy(migrated_template, tmp_path, "source.db")
    assert _cli(capsys, "--database", source_url, "demo")[0] == 0
    assert _cli(capsys, "--database", source_url, "webhook", "create",
                "--workspace", "acme-corp")[0] == 0
    asyncio.run(_add_the_rest(source_url))
    source = asyncio.run(_dump(source_url))
    assert all(source[name] for name in EXTRA_TABLES | {"workspaces", "incidents", "alerts",
               "timeline_events", "notes", "api_keys"}), {k: len(v) for k, v in source.items()}

    code, answer = _cli(capsys, "db", "copy", "--from", source_url, "--to", target_url)
    assert code == 0, answer
    assert answer["copied"] == {name: len(rows) for name, rows in source.items()}
    assert answer["rows"] == sum(len(rows) for rows in source.values())

    copied = asyncio.run(_dump(target_url))
    for name, rows in source.items():
        assert [r[next(iter(r))] for r in copied[name]] == [r[next(iter(r))] for r in rows], name
        assert copied[name] == rows, name  # every column, timestamps and JSON included

    if target_url.startswith("postgresql"):  # analyzed: the planner knows the new sizes
        assert asyncio.run(_planner_row_counts(target_url)) == {
            name: len(rows) for name, rows in source.items()
        }

    # The copy is a working gateway database: a key minted on the source works on the target.
    code, listed = _cli(capsys, "--database", target_url, "key", "list")
    assert code == 0 and len(listed["keys"]) == len(source["api_keys"])

    # ... and copying into it again is refused: it is not empty any more.
    code, refused = _cli(capsys, "db", "copy", "--from", source_url, "--to", target_url)
    assert code == 1 and "not empty" in refused["error"]
    assert asyncio.run(_dump(target_url)) == copied


def test_refuses_a_target_that_is_not_migrated(
    tmp_path: Path, migrated_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source_url = _sqlite_copy(migrated_template, tmp_path, "source.db")
    bare = f"sqlite+aiosqlite:///{tmp_path / 'bare.db'}"
    code, refused = _cli(capsys, "db", "copy", "--from", source_url, "--to", bare)
    assert code == 1
    assert "target database" in refused["error"] and "db upgrade" in refused["error"]
    code, refused = _cli(capsys, "db", "copy", "--from", bare, "--to", source_url)
    assert code == 1 and "source database" in refused["error"]
    code, refused = _cli(capsys, "db", "copy", "--from", source_url, "--to", source_url)
    assert code == 1 and "same database" in refused["error"]


def test_tables_come_parents_first() -> None:
    order = [table.name for table in tables()]
    assert set(order) == set(SQLModel.metadata.tables)
    for table in tables():
        for fk in table.foreign_keys:
            if fk.column.table is not table:
                assert order.index(fk.column.table.name) < order.index(table.name)


def test_self_referencing_rows_come_parents_first() -> None:
    table = SQLModel.metadata.tables["workspaces"]
    rows: list[dict[str, Any]] = [
        {"id": "ws_a", "parent_id": "ws_c"},  # a customer whose id sorts before its MSSP's
        {"id": "ws_b", "parent_id": None},
        {"id": "ws_c", "parent_id": "ws_d"},
        {"id": "ws_d", "parent_id": None},
        {"id": "ws_e", "parent_id": "ws_gone"},  # points outside the copy: no constraint to meet
    ]
    ordered = [row["id"] for row in _parents_first(table, rows)]
    assert sorted(ordered) == sorted(row["id"] for row in rows)
    assert ordered.index("ws_d") < ordered.index("ws_c") < ordered.index("ws_a")
