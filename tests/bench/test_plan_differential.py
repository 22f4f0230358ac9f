"""The cached execution plans (schema/plan/) answer exactly what the standard executor answers:
generated documents (150 by default; tests/bench/generate.py draws them from the schema: every
root field, filter, order, direction, nesting, directive, alias, fragment, variable, and
errors), each run through an executor without plans and through one whose plan has been
learned, must give the same bytes (data, errors, extensions). Documents plans support must
actually be answered by the plan, not by the fall-back. It runs on each database backend of the
suite (SQLite, and PostgreSQL when the suite runs there): plans read SQLite through the driver
itself and PostgreSQL through SQLAlchemy. Some documents run as an MSSP key acting on a child
workspace.

SELIQ_PLAN_DIFF_QUERIES sets how many documents (default 150); SELIQ_PLAN_DIFF_SEED the seed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import GraphQLObjectType
from sqlalchemy import JSON, Boolean, DateTime, insert, select
from sqlmodel import SQLModel, col
from sqlmodel.sql.sqltypes import UTCDateTime

from bench import seed
from gateway.domain import jsontext
from gateway.domain.incidents.timeline import record
from gateway.domain.reports.content import build_incident_summary, build_sla
from gateway.domain.sla.policy import TargetChange, update_policy
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import (
    Alert,
    Incident,
    Note,
    Report,
    TimelineEvent,
    WebhookDelivery,
    Workspace,
)
from gateway.domain.storage.round_trips import StatementCounter, current_counter
from gateway.domain.tenancy.auth import Principal, authenticate
from gateway.web.operations import OperationRefused
from schema.executor import GraphQLExecutor
from schema.plan.fields import Children, Column
from schema.plan.values import Unsupported
from tests.bench.generate import Pools, documents

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


CHILD_WORKSPACE = "ws_01child000000000000000000"


async def _extras(db: Database) -> None:
    """What the seed lacks, written through SQLAlchemy (so each backend stores it its own
    way): a customer workspace below the bench one with its own incidents, notes, reports
    (rendered by the worker's own content builders), an alert with no incident, and a
    non-default SLA policy."""
    now = seed.BASE_TIME.replace(tzinfo=UTC) + timedelta(days=2)
    async with db.write() as session:
        session.add(Workspace(
            id=CHILD_WORKSPACE, slug="bench-child", name="Bench Child", tier="growth",
            parent_id=seed.WORKSPACE_ID, created_at=now,
        ))
        await session.flush()
        rows = (await session.execute(
            select(Incident).where(col(Incident.workspace_id) == seed.WORKSPACE_ID)
            .order_by(col(Incident.created_at).desc()).limit(12)
        )).scalars().all()
        # JSON as JSON columns may hold it: an integer beyond 64 bits, a float, text that is not
        # ASCII, nesting: on the newest incident's newest alert.
        session.add(Alert(
            id="alt_01numbers0000000000000000", workspace_id=seed.WORKSPACE_ID,
            incident_id=rows[0].id, title="numbers \u00e9\u2603", fingerprint="numbers",
            severity="info", source="api",
            labels={"big": 123456789012345678901234567890, "ratio": 0.1, "tag": "h\u00f4te"},
            raw_payload={"nested": {"list": [1, -2.5e-7, None, True, "\u2603"]}},
            # A year below 1000 (four digits still), milliseconds truncated, not rounded.
            first_seen_at=datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            last_seen_at=now.replace(microsecond=999999), received_at=now,
        ))
        for number, incident in enumerate(rows[:8]):
            for index in range(number % 3 + 1):
                session.add(Note(
                    id=f"note_01diff{number:02d}{index:016d}", workspace_id=seed.WORKSPACE_ID,
                    incident_id=incident.id, body=f"note {index} on {incident.title}",
                    author="ana" if index % 2 else "bo",
                    created_at=incident.created_at + timedelta(minutes=index),
                ))
        for number in range(3):
            when = now + timedelta(hours=number)
            child = Incident(
                id=f"inc_01child{number:018d}", workspace_id=CHILD_WORKSPACE, number=number + 1,
                title=f"child disk {number}", status=("triggered", "acknowledged")[number % 2],
                severity="high", alert_count=2, created_at=when, updated_at=when,
                acknowledged_at=when if number % 2 else None,
            )
            session.add(child)
            await session.flush()
            for index in range(2):
                session.add(Alert(
                    id=f"alt_01child{number:02d}{index:016d}", workspace_id=CHILD_WORKSPACE,
                    incident_id=child.id, title=f"child alert {index}",
                    fingerprint=f"c{number}{index}", severity="high", source="grafana",
                    labels={"host": f"c{index}"}, raw_payload={}, first_seen_at=when,
                    last_seen_at=when, received_at=when + timedelta(seconds=index),
                ))
            record(session, child, "incident.created", "system", "opened", at=when)
        session.add(Alert(
            id="alt_01orphan000000000000000000", workspace_id=seed.WORKSPACE_ID,
            incident_id=None, title="orphan", fingerprint="orphan", severity="low",
            source="api", labels={}, raw_payload={"x": 1}, first_seen_at=now, last_seen_at=now,
            received_at=seed.BASE_TIME.replace(tzinfo=UTC) + timedelta(minutes=61),
        ))
        for number, kind in enumerate(("sla", "incident_summary", "sla")):
            report = Report(
                id=f"rpt_01diff{number:020d}", workspace_id=seed.WORKSPACE_ID, kind=kind,
                status="ready" if number < 2 else "queued",
                period_start=now - timedelta(days=7), period_end=now,
                created_at=now + timedelta(minutes=number),
            )
            if number < 2:
                build = build_sla if kind == "sla" else build_incident_summary
                report.content = await build(session, report, now)
                report.started_at = report.completed_at = now
            session.add(report)
        for number in range(3):
            session.add(WebhookDelivery(
                id=f"dlv_01diff{number:020d}", workspace_id=seed.WORKSPACE_ID,
                received_at=now + timedelta(seconds=number), request_id=f"req_{number}",
                size_bytes=100 * number, format=("generic", "alertmanager", None)[number],
                status_code=(202, 202, 400)[number], accepted=(1, 2, 0)[number],
                alert_ids=[], incident_ids=[], outcomes=[["created"], ["grouped", "created"], []][
                    number], error=(None, None, "not JSON")[number],
            ))
        await update_policy(session, seed.WORKSPACE_ID, [
            TargetChange("critical", ack_seconds=300, resolve_seconds=3600),
            TargetChange("low", ack_seconds=None),
        ])


@pytest.fixture
async def database(db: Database, plan_source: Path) -> Database:
    await _copy(plan_source, db)
    await _extras(db)
    return db


async def _run(
    executor: GraphQLExecutor, principal: Principal, query: str, variables: dict[str, Any]
) -> bytes:
    try:
        outcome = await executor.run(query, variables, None, principal, "req_diff")
    except OperationRefused as exc:
        return orjson.dumps({"refused": [exc.status, exc.code, exc.message]})
    return jsontext.dumps(outcome.body)  # as the HTTP door encodes it (long integers too)


def _codes(body: bytes) -> set[str]:
    return {error["extensions"]["code"] for error in orjson.loads(body).get("errors") or ()}


POOL_QUERY = """{
  incidents(first: 100) { edges { cursor node {
    alerts(first: 3) { edges { cursor } } timeline(first: 3) { edges { cursor } }
    notes(first: 2) { edges { cursor } } } } }
  byUpdate: incidents(first: 20, orderBy: {field: UPDATED_AT}) { edges { cursor } }
  byNumber: incidents(first: 20, orderBy: {field: NUMBER, direction: ASC}) { edges { cursor } }
  alerts(first: 30) { edges { cursor } }
  reports(first: 5) { edges { cursor node { id } } }
  workspaces(first: 5) { edges { cursor node { id slug } } }
  workspace { webhookDeliveries(first: 3) { edges { cursor } } }
}"""


async def _pools(database: Database, executor: GraphQLExecutor, principal: Principal) -> Pools:
    """Ids, cursors and names from the data (cursors as the standard executor writes them)."""
    body = orjson.loads(await _run(executor, principal, POOL_QUERY, {}))["data"]
    edges = body["incidents"]["edges"]

    def cursors(path: str) -> list[str]:
        return [c["cursor"] for e in edges for c in e["node"][path]["edges"]][::3]

    ids: dict[str, list[str]] = {}
    async with database.read() as session:
        for type_name, model in (
            ("Incident", Incident), ("Alert", Alert), ("TimelineEvent", TimelineEvent),
            ("Note", Note), ("Report", Report),
        ):
            found = (await session.execute(
                select(col(model.id)).where(col(model.workspace_id) == seed.WORKSPACE_ID)
                .order_by(col(model.id))
            )).scalars().all()
            ids[type_name] = list(found[:: max(1, len(found) // 12)])
        foreign = (await session.execute(
            select(col(Incident.id)).where(col(Incident.workspace_id) == OTHER_WORKSPACE).limit(2)
        )).scalars().all()
    ids["Workspace"] = [seed.WORKSPACE_ID, CHILD_WORKSPACE]
    ids["WebhookDelivery"] = [f"dlv_01diff{number:020d}" for number in range(3)]
    ids["Viewer"] = [seed.KEY_ID, "key_01someoneelse00000000000000"]
    return Pools(
        ids=ids,
        foreign=[*foreign, OTHER_WORKSPACE],
        cursors={
            "Incident:created_at": [e["cursor"] for e in edges[::7]],
            "Incident:updated_at": [e["cursor"] for e in body["byUpdate"]["edges"][::5]],
            "Incident:number": [e["cursor"] for e in body["byNumber"]["edges"][::5]],
            "Alert": cursors("alerts") + [e["cursor"] for e in body["alerts"]["edges"][::4]],
            "TimelineEvent": cursors("timeline"),
            "Note": cursors("notes"),
            "Report": [e["cursor"] for e in body["reports"]["edges"]],
            "Workspace": [e["cursor"] for e in body["workspaces"]["edges"]],
            "WebhookDelivery": [
                e["cursor"] for e in body["workspace"]["webhookDeliveries"]["edges"]
            ],
        },
        slugs=[seed.WORKSPACE_SLUG, "bench-child", "other", "no-such-slug"],
        assignees=["ana@soc.example", "bo@soc.example", "nobody"],
        sources=["prometheus", "grafana", "wazuh"],
        words=["disk", "CPU", "host-0", "%", "_", "nothing-matches"],
    )


async def test_plans_answer_exactly_as_the_standard_executor(database: Database) -> None:
    standard = GraphQLExecutor(database)
    standard.plans.enabled = False
    planned = GraphQLExecutor(database)
    async with database.read() as session:
        principal = await authenticate(session, f"Bearer {seed.API_KEY}", None)
        # The same key acting on the customer workspace below its own (X-Workspace-ID).
        on_child = await authenticate(session, f"Bearer {seed.API_KEY}", CHILD_WORKSPACE)
    pools = await _pools(database, standard, principal)
    generated = documents(standard.schema._schema, pools, COUNT, SEED)
    planned_answers = 0
    for number, document in enumerate(generated):
        caller = on_child if number % 7 == 3 else principal
        expected = await _run(standard, caller, document.query, document.variables)
        if b'"errors"' not in expected and b"refused" not in expected:
            # What GraphQLExecutor.run does after the standard executor ran it without errors
            # (the second test goes through that path).
            planned.plans.learn(document.query, None)
        answered = planned.plans.answered
        got = await _run(planned, caller, document.query, document.variables)
        where = f"{document.query}\nvariables: {document.variables}"
        if b'"errors"' in expected:
            # Errors are always the standard executor's (a plan falls back on any). Which of
            # several failing fields is reported first depends on task timing, so compare the
            # codes, not the bytes.
            assert planned.plans.answered == answered, where
            assert _codes(got) == _codes(expected), where
            continue
        if got != expected:
            at = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
            context = f"plan: {got[at - 300:at + 100]!r}\nstandard: {expected[at - 300:at + 100]!r}"
            raise AssertionError(f"{where}\n{context}")
        if planned.plans.answered > answered:
            planned_answers += 1
        elif document.supported and b"refused" not in expected:
            reason = planned.plans.reason(document.query, None)
            raise AssertionError(f"a supported document fell back ({reason}):\n{where}")
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


# ---- PostgreSQL building the nodes' JSON (schema/plan/jsonsql.py) --------------------------

ROOT_LISTS = {"incidents": "Incident", "alerts": "Alert", "reports": "Report",
              "workspaces": "Workspace"}


def _selection(
    executor: GraphQLExecutor, type_name: str, depth: int, leave_out: frozenset[str] = frozenset()
) -> str:
    """Every column field of `type_name` (what PostgreSQL may write itself), and below it,
    while `depth` lasts, every nested list both ways but those named in `leave_out`, selecting
    the same of its nodes."""
    fields = executor.plans.fields
    object_type = executor.schema._schema.get_type(type_name)
    assert isinstance(object_type, GraphQLObjectType), type_name
    parts = ["__typename"]
    for name in object_type.fields:
        try:
            kind = fields.kind(type_name, name)
        except Unsupported:
            continue
        if isinstance(kind, Column):
            parts.append(name)
        elif isinstance(kind, Children) and depth > 0 and name not in leave_out:
            inner = _selection(executor, kind.node_type, depth - 1, leave_out)
            parts.append(f"{name}(first: 2) {{ __typename nodes {{ {inner} }} }}")
            parts.append(f"last_{name}: {name}(last: 2) {{ nodes {{ {inner} }} }}")
    return " ".join(parts)


async def test_postgres_builds_the_json_the_standard_executor_would(
    database: Database, backend: str
) -> None:
    """Every column of every root list's nodes and of their nested lists, two levels deep,
    over the edge-case rows (`_extras`' alert of odd values: a year below 1000, truncated
    milliseconds, a 30-digit integer, a float, non-ASCII text): byte for byte the standard
    executor's answer, and on PostgreSQL in one statement."""
    standard = GraphQLExecutor(database)
    standard.plans.enabled = False
    planned = GraphQLExecutor(database)
    async with database.read() as session:
        principal = await authenticate(session, f"Bearer {seed.API_KEY}", None)
    orders = {"incidents": ["", ", orderBy: {field: UPDATED_AT, direction: ASC}"]}
    for root, type_name in ROOT_LISTS.items():
        for order in orders.get(root, [""]):
            for page in ("first: 7", "last: 3"):
                for leave_out, statements in SELECTIONS[root]:
                    query = (
                        f"{{ {root}({page}{order}) {{ pageInfo {{ hasNextPage endCursor }} "
                        f"nodes {{ {_selection(planned, type_name, 2, leave_out)} }} }} }}"
                    )
                    expected = await _run(standard, principal, query, {})
                    assert b'"errors"' not in expected, (query, expected[:300])
                    planned.plans.learn(query, None)
                    counter = StatementCounter()
                    token = current_counter.set(counter)
                    try:
                        got = await _run(planned, principal, query, {})
                    finally:
                        current_counter.reset(token)
                    if got != expected:
                        at = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False))
                                  if a != b)
                        raise AssertionError(f"{query}\nplan: {got[at - 200:at + 80]!r}\n"
                                             f"standard: {expected[at - 200:at + 80]!r}")
                    if backend == "postgres":
                        assert statements(counter.count), (query, counter.statements)


def _one(count: int) -> bool:
    return count == 1


def _several(count: int) -> bool:
    return count > 1


# Per root list: (nested lists left out, the statements PostgreSQL must get). A webhook
# delivery's lists of ids and outcomes are JSON columns read as lists: those nodes are built
# in Python, relation by relation.
SELECTIONS: dict[str, list[tuple[frozenset[str], Callable[[int], bool]]]] = {
    "incidents": [(frozenset(), _one)],
    "alerts": [(frozenset(), _one)],
    "reports": [(frozenset(), _one)],
    "workspaces": [(frozenset({"webhookDeliveries"}), _one), (frozenset(), _several)],
}
