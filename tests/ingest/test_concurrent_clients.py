"""Concurrency-sensitive paths with concurrent clients, on both backends, through TWO gateway
instances over two engines on one database (as two processes would be): dedup, correlation,
incident numbers, idempotency, and manual changes racing ingestion.

On SQLite the writers of one instance queue on its asyncio lock and the two instances meet at
SQLite's write lock; on PostgreSQL there is no application lock at all, so these tests check the
database's own guarantees (the workspace row lock, the atomic incident counter, the incident row
lock, the unique constraints).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import (
    Alert,
    IdempotencyRecord,
    Incident,
    TimelineEvent,
    WebhookToken,
    Workspace,
)
from gateway.domain.tenancy.auth import create_key
from gateway.domain.tenancy.webhook_tokens import create_token
from gateway.domain.tenancy.workspaces import create_workspace
from tests.ingest.conftest import Hook, Reply, post
from tests.support.server import Server, running_server

INCIDENTS = 20
POSTS = 50


@pytest.fixture
async def pair(settings: Settings, db_url: str, server: Server) -> AsyncIterator[list[Server]]:
    """The `server` fixture plus a second gateway with its own engine on the same database."""
    other_db = Database(db_url)
    try:
        async with running_server(settings, other_db) as second:
            yield [server, second]
    finally:
        await other_db.dispose()


@pytest.fixture
async def fresh(db: Database) -> tuple[Hook, str]:
    """A new workspace (no incidents yet): its webhook and a write key."""
    async with db.write() as session:
        workspace = await create_workspace(
            session, slug="race", name="Race", tier="enterprise", rate_limit=100_000
        )
        _, token = await create_token(session, workspace)
        _, key = await create_key(session, workspace, "racer", "write")
    return Hook(slug="race", workspace_id=workspace.id, token=token), key


async def _rows(db: Database, model: Any, *where: Any) -> list[Any]:
    async with db.read() as session:
        return list((await session.execute(select(model).where(*where))).scalars())


def _ok(replies: list[Reply]) -> None:
    assert [r.status for r in replies] == [202] * len(replies), [
        (r.status, r.body) for r in replies if r.status != 202
    ]


async def test_new_incidents_get_numbers_without_gaps_or_duplicates(
    pair: list[Server], db: Database, fresh: tuple[Hook, str]
) -> None:
    hook, _ = fresh
    replies = await asyncio.gather(*(
        post(pair[i % 2], hook.path(), {"title": f"Distinct problem {i}", "fingerprint": f"n-{i}"})
        for i in range(INCIDENTS)
    ))
    _ok(replies)
    assert Counter(r.body["results"][0]["outcome"] for r in replies) == {"created": INCIDENTS}
    incidents = await _rows(db, Incident, col(Incident.workspace_id) == hook.workspace_id)
    assert sorted(i.number for i in incidents) == list(range(1, INCIDENTS + 1))
    workspace = (await _rows(db, Workspace, col(Workspace.id) == hook.workspace_id))[0]
    assert workspace.incident_seq == INCIDENTS


async def test_one_fingerprint_from_many_clients_is_one_alert(
    pair: list[Server], db: Database, fresh: tuple[Hook, str]
) -> None:
    hook, _ = fresh
    body = {"title": "Flapping link", "fingerprint": "link-9", "severity": "high"}
    replies = await asyncio.gather(*(post(pair[i % 2], hook.path(), body) for i in range(POSTS)))
    _ok(replies)
    outcomes = Counter(r.body["results"][0]["outcome"] for r in replies)
    assert outcomes == {"created": 1, "deduplicated": POSTS - 1}
    alerts = await _rows(db, Alert, col(Alert.workspace_id) == hook.workspace_id)
    assert len(alerts) == 1 and alerts[0].occurrences == POSTS
    incidents = await _rows(db, Incident, col(Incident.workspace_id) == hook.workspace_id)
    assert [(i.number, i.alert_count) for i in incidents] == [(1, 1)]


async def test_one_group_key_from_many_clients_is_one_incident(
    pair: list[Server], db: Database, fresh: tuple[Hook, str]
) -> None:
    hook, _ = fresh
    replies = await asyncio.gather(*(
        post(pair[i % 2], hook.path(), {
            "title": "Disk full", "source": "node", "fingerprint": f"disk-{i}",
            "labels": {"host": "db-1", "mount": f"/m{i}"},
        })
        for i in range(INCIDENTS)
    ))
    _ok(replies)
    outcomes = Counter(r.body["results"][0]["outcome"] for r in replies)
    assert outcomes == {"created": 1, "grouped": INCIDENTS - 1}
    incidents = await _rows(db, Incident, col(Incident.workspace_id) == hook.workspace_id)
    assert len(incidents) == 1 and incidents[0].alert_count == INCIDENTS
    events = await _rows(db, TimelineEvent, col(TimelineEvent.incident_id) == incidents[0].id)
    assert Counter(e.type for e in events) == {"incident.created": 1, "alert.attached": INCIDENTS}


async def test_concurrent_retries_with_one_idempotency_key_ingest_once(
    pair: list[Server], db: Database, fresh: tuple[Hook, str]
) -> None:
    hook, key = fresh

    async def send(server: Server) -> tuple[int, Any]:
        async with server.http.post(
            f"{server.url}/v1/alerts", json={"title": "Exactly once"},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "retry-7"},
        ) as response:
            return response.status, await response.json()

    answers = await asyncio.gather(*(send(pair[i % 2]) for i in range(INCIDENTS)))
    assert {status for status, _ in answers} == {201}, answers
    assert len({body["id"] for _, body in answers}) == 1
    alerts = await _rows(db, Alert, col(Alert.workspace_id) == hook.workspace_id)
    assert len(alerts) == 1 and alerts[0].occurrences == 1
    records = await _rows(
        db, IdempotencyRecord, col(IdempotencyRecord.workspace_id) == hook.workspace_id
    )
    assert len(records) == 1


UPDATE = """mutation($id: ID!, $who: String) {
  updateIncident(input: {id: $id, assignee: $who}) { userErrors { message } } }"""
NOTE = """mutation($id: ID!, $body: String!) {
  addIncidentNote(input: {incidentId: $id, body: $body}) { userErrors { message } } }"""
ACK = """mutation($id: ID!) {
  updateIncident(input: {id: $id, status: ACKNOWLEDGED}) { userErrors { message } } }"""


async def test_manual_changes_racing_ingestion_neither_fail_nor_lose_updates(
    pair: list[Server], db: Database, fresh: tuple[Hook, str]
) -> None:
    """Analysts edit an incident while its alerts keep arriving: no deadlock, no 5xx, no lost
    alert count; concurrent acknowledgements write one `status.changed`."""
    hook, key = fresh
    first = await post(pair[0], hook.path(), {
        "title": "CPU hot", "source": "node", "fingerprint": "cpu-0", "labels": {"host": "h1"},
    })
    incident_id = first.body["incidents"][0]

    async def ingest(i: int) -> None:
        reply = await post(pair[i % 2], hook.path(), {
            "title": "CPU hot", "source": "node", "fingerprint": f"cpu-{i}",
            "labels": {"host": "h1"}, "severity": "critical" if i % 5 == 0 else "low",
        })
        _ok([reply])

    async def edit(i: int) -> None:
        query, variables = (
            (UPDATE, {"id": incident_id, "who": f"analyst-{i}"}) if i % 3 == 0
            else (NOTE, {"id": incident_id, "body": f"note {i}"}) if i % 3 == 1
            else (ACK, {"id": incident_id})
        )
        body = await pair[(i + 1) % 2].graphql(query, variables, key=key)
        payload = next(iter(body["data"].values()))
        assert payload["userErrors"] == [], payload

    await asyncio.gather(*(ingest(i) for i in range(1, 16)), *(edit(i) for i in range(15)))
    incident = (await _rows(db, Incident, col(Incident.id) == incident_id))[0]
    assert incident.alert_count == 16 and incident.status == "acknowledged"
    assert incident.severity == "critical"
    rows = await _rows(db, TimelineEvent, col(TimelineEvent.incident_id) == incident_id)
    events = Counter(e.type for e in rows)
    assert events["alert.attached"] == 16 and events["note.added"] == 5
    assert events["status.changed"] == 1 and events["assignee.changed"] == 5


async def test_concurrent_webhook_rotations_leave_one_live_token(
    db: Database, db_url: str, fresh: tuple[Hook, str]
) -> None:
    hook, _ = fresh
    engines = [db, Database(db_url)]

    async def rotate(database: Database) -> str:
        async with database.write() as session:
            workspace = await session.get(Workspace, hook.workspace_id)
            assert workspace is not None
            _, secret = await create_token(session, workspace)
            return secret

    try:
        secrets = await asyncio.gather(*(rotate(engines[i % 2]) for i in range(10)))
    finally:
        await engines[1].dispose()
    live = await _rows(
        db, WebhookToken, col(WebhookToken.workspace_id) == hook.workspace_id,
        col(WebhookToken.revoked_at).is_(None),
    )
    assert len(live) == 1 and len(set(secrets)) == 10
