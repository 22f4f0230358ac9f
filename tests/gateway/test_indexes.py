"""The statements a dashboard sends most read indexes, on SQLite (the default database): a
COUNT of a status and severity filter reads one index alone instead of the table, and the
lists keep their ordered index (no sort). Checked with EXPLAIN QUERY PLAN on a migrated file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.domain.incidents.incidents import INCIDENTS, IncidentFilter
from gateway.domain.pagination import apply_keyset, page_args
from gateway.domain.storage.engine import Database

TRIAGE = IncidentFilter(status=("triggered", "acknowledged"), severity=("critical", "high"))


async def _plan(db: Database, stmt: object) -> str:
    sql = str(stmt.compile(db.engine.sync_engine, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
    return " | ".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("flt", [TRIAGE, IncidentFilter(status=("triggered",))])
async def test_a_filtered_incident_count_reads_an_index_alone(
    migrated_template: Path, tmp_path: Path, flt: IncidentFilter
) -> None:
    target = tmp_path / "plan.db"
    shutil.copy(migrated_template, target)
    db = Database(f"sqlite+aiosqlite:///{target}")
    try:
        count = select(func.count()).select_from(INCIDENTS.select("ws_x", flt).subquery())
        assert "USING COVERING INDEX" in await _plan(db, count)
        page = apply_keyset(INCIDENTS.select("ws_x", flt), INCIDENTS.sort, page_args(50, None))
        plan = await _plan(db, page)
        assert "TEMP B-TREE" not in plan, plan
    finally:
        await db.dispose()
