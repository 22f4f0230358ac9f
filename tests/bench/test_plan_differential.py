"""The cached execution plans (schema/plan/) answer exactly what the standard executor answers:
150 generated documents (by default), each run through an executor without plans and through one
whose plan has been learned, must give the same bytes (data, errors, extensions). Documents
plans support must actually be answered by the plan, not by the fall-back. It runs on each
database backend of the suite (SQLite, and PostgreSQL when the suite runs there): plans read
SQLite through the driver itself and PostgreSQL through SQLAlchemy.

SELIQ_PLAN_DIFF_QUERIES sets how many documents (default 150); SELIQ_PLAN_DIFF_SEED the seed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import JSON, Boolean, DateTime, insert
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from bench import seed
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import Principal, authenticate
from gateway.web.operations import OperationRefused
from schema.executor import GraphQLExecutor
from tests.bench.generate import documents

COUNT = int(os.environ.get("SELIQ_PLAN_DIFF_QUERIES", "150"))
SEED = int(os.environ.get("SELIQ_PLAN_DIFF_SEED", "9"))
SHAPE = seed.Shape("plandiff", 40)
OTHER_WORKSPACE = "ws_01other000000000000000000"


def _edge_cases(path: Path) -> None:
    """Rows the seed does not have: incidents without alerts or events, events sharing a time
    (the id breaks the tie), and another tenant's incidents interleaved in time."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO workspaces (id, slug, name, tier, correlation_window_seconds, "
            "incident_seq, created_at) VALUES (?, 'other', 'Other', 'starter', 1800, 0, "
            "'2025-12-31 00:00:00.000000')", (OTHER_WORKSPACE,),
        )
        for number in range(6):
            when = seed.ts(seed.BASE_TIME + timedelta(minutes=number * 7 + 3))
            for workspace, prefix in ((seed.WORKSPACE_ID, "incx"), (OTHER_WORKSPACE, "inco")):
                conn.execute(
                    "INSERT INTO incidents (id, workspace_id, number, title, status, severity, "
                    "severity_manual, assignee, alert_count, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, 'triggered', 'low', 0, NULL, 0, ?, ?)",
                    (f"inc_{prefix}{number:022d}", workspace, 10_000 + number,
                     f"quiet {number}", when, when),
                )
        incident = conn.execute(
            "SELECT id FROM incidents WHERE workspace_id = ? ORDER BY created_at DESC LIMIT 1",
            (seed.WORKSPACE_ID,),
        ).fetchone()[0]
        for number in range(4):
            conn.execute(
                "INSERT INTO timeline_events (id, workspace_id, incident_id, type, at, actor, "
                "message, data) VALUES (?, ?, ?, 'note.added', '2030-01-01 00:00:00.000000', "
                "'key:x', 'same time', '{}')",
                (f"evt_tie{number:022d}", seed.WORKSPACE_ID, incident),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def plan_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plandiff") / "plandiff.db"
    shutil.copyfile(seed.ensure(SHAPE).path, path)
    _edge_cases(path)
    return path


TABLES = ("workspaces", "api_keys", "webhook_tokens", "incidents", "alerts", "timeline_events")


async def _copy(source: Path, db: Database) -> None:
    """The seeded rows into the test's database (SQLite, or PostgreSQL when the suite runs
    there), through SQLAlchemy so each backend stores them its own way."""
    conn = sqlite3.connect(source)
    try:
        async with db.write() as session:
            for name in TABLES:
                table = SQLModel.metadata.tables[name]
                cursor = conn.execute(f"SELECT * FROM {name}")
                columns = [column[0] for column in cursor.description]
                rows = [_typed(table, dict(zip(columns, row, strict=True))) for row in cursor]
                if rows:
                    await session.execute(insert(table), rows)
    finally:
        conn.close()


def _typed(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        column_type = table.c[name].type
        if value is None:
            out[name] = None
        elif isinstance(column_type, DateTime | UTCDateTime):
            out[name] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        elif isinstance(column_type, JSON):
            out[name] = json.loads(value)
        elif isinstance(column_type, Boolean):
            out[name] = bool(value)
        else:
            out[name] = value
    return out


@pytest.fixture
async def database(db: Database, plan_source: Path) -> Database:
    await _copy(plan_source, db)
    return db


async def _run(
    executor: GraphQLExecutor, principal: Principal, query: str, variables: dict[str, Any]
) -> bytes:
    try:
        outcome = await executor.run(query, variables, None, principal, "req_diff")
    except OperationRefused as exc:
        return orjson.dumps({"refused": [exc.status, exc.code, exc.message]})
    return orjson.dumps(outcome.body)


def _codes(body: bytes) -> set[str]:
    return {error["extensions"]["code"] for error in orjson.loads(body).get("errors") or ()}


async def _cursors(executor: GraphQLExecutor, principal: Principal) -> dict[str, list[str]]:
    """Real cursors (from the standard executor) to page from."""
    query = """{ incidents(first: 100) { edges { cursor node {
        alerts(first: 3) { edges { cursor } } timeline(first: 3) { edges { cursor } } } } } }"""
    body = orjson.loads(await _run(executor, principal, query, {}))
    edges = body["data"]["incidents"]["edges"]
    return {
        "incidents": [e["cursor"] for e in edges[::7]],
        "alerts": [a["cursor"] for e in edges[::9] for a in e["node"]["alerts"]["edges"]],
        "events": [t["cursor"] for e in edges[::9] for t in e["node"]["timeline"]["edges"]],
    }


async def test_plans_answer_exactly_as_the_standard_executor(database: Database) -> None:
    standard = GraphQLExecutor(database)
    standard.plans.enabled = False
    planned = GraphQLExecutor(database)
    async with database.read() as session:
        principal = await authenticate(session, f"Bearer {seed.API_KEY}", None)
    cursors = await _cursors(standard, principal)
    generated = documents(COUNT, SEED, cursors)
    planned_answers = 0
    for document in generated:
        expected = await _run(standard, principal, document.query, document.variables)
        if b'"errors"' not in expected and b"refused" not in expected:
            # What GraphQLExecutor.run does after the standard executor ran it without errors
            # (the second test goes through that path).
            planned.plans.learn(document.query, None)
        answered = planned.plans.answered
        got = await _run(planned, principal, document.query, document.variables)
        where = f"{document.query}\nvariables: {document.variables}"
        if b'"errors"' in expected:
            # Errors are always the standard executor's (a plan falls back on any). Which of
            # several failing fields is reported first depends on task timing, so compare the
            # codes, not the bytes.
            assert planned.plans.answered == answered, where
            assert _codes(got) == _codes(expected), where
            continue
        assert got == expected, where
        if planned.plans.answered > answered:
            planned_answers += 1
        elif document.supported and b"refused" not in expected:
            raise AssertionError(f"the plan did not answer a supported document:\n{where}")
    # Most generated documents are supported and valid: the plans must have carried them.
    assert planned_answers >= COUNT // 2, (planned_answers, COUNT)


async def test_a_plan_falls_back_when_a_request_needs_the_standard_executor(
    database: Database,
) -> None:
    executor = GraphQLExecutor(database)
    async with database.read() as session:
        principal = await authenticate(session, f"Bearer {seed.API_KEY}", None)
    query = "query Q($first: Int, $after: String) { incidents(first: $first, after: $after) " \
            "{ nodes { id title } pageInfo { endCursor } } }"
    first = await executor.run(query, {"first": 2}, None, principal, "r")
    assert executor.plans.get(query, None) is not None
    again = await executor.run(query, {"first": 2}, None, principal, "r")
    assert again.body == first.body and executor.plans.answered == 1
    # A bad cursor is the standard executor's error, word for word.
    bad = await executor.run(query, {"first": 2, "after": "nope"}, None, principal, "r")
    assert bad.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert executor.plans.fell_back == 1
