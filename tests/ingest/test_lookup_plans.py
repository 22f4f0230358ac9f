"""Ingestion's lookups by fingerprint read the fingerprint's rows, not the workspace's.

On a database without statistics on `alerts` (a new one, or one analyzed while it was small),
SQLite chose to walk every alert of the workspace in received order rather than sort the few
rows the fingerprint index finds, so each alert cost more as the workspace grew. Each SELECT
on `alerts` that ingestion sends (a group's prefetch, a request alone, a repeated resolution) is
explained here with its own parameters: it must search by fingerprint."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import event

from gateway.domain.storage.engine import Database
from tests.ingest.test_group_commit import ingest_alone, ingest_as_one_group, work
from tests.support import backends
from tests.support.data import Tenants


def sqlite_file(db: Database) -> str:
    return str(db.engine.url.database)


async def alert_selects(db: Database, run: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "alerts.fingerprint" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await run()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    return seen


def plan_of(path: str, statement: str, parameters: Any) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


# The planner in question is SQLite's (PostgreSQL's keeps statistics as tables grow).
@pytest.mark.parametrize("backend", [backends.SQLITE])
async def test_fingerprint_lookups_search_by_fingerprint(
    db: Database, tenants: Tenants, backend: str
) -> None:
    workspace = tenants.acme.id
    for n in range(30):  # enough alerts of one workspace that a walk would show
        await ingest_alone(db, workspace, {"title": f"a{n}", "fingerprint": f"fp-{n}"})

    async def traffic() -> None:
        await ingest_as_one_group(db, [
            work(workspace, {"title": f"g{n}", "fingerprint": f"fp-{n}"}) for n in range(4)
        ])  # a group's prefetch
        await ingest_alone(db, workspace, {"title": "a1", "fingerprint": "fp-1"})
        for _ in range(2):  # the second finds only the resolved alert: its latest
            await ingest_alone(
                db, workspace, {"title": "a2", "fingerprint": "fp-2", "status": "resolved"}
            )

    selects = await alert_selects(db, traffic)
    assert len(selects) >= 4
    for statement, parameters in selects:
        plan = plan_of(sqlite_file(db), statement, parameters)
        assert "ix_alerts_ws_received" not in plan and "SCAN alerts" not in plan, (
            f"{statement}\n{plan}"
        )
        assert "fingerprint=?" in plan, f"{statement}\n{plan}"
