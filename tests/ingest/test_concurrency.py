"""Concurrency and lock contention: one fingerprint posted 50 times at once ends as one alert
with 50 occurrences; a database locked past its busy timeout is a 503 with Retry-After that
wrote nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from gateway.domain.events.brokers import asyncpg_dsn
from gateway.domain.settings import Settings
from gateway.domain.storage import engine as db_module
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident
from tests.ingest.conftest import Hook, alerts_of, get_row, post, row_counts
from tests.support.data import Tenants
from tests.support.server import Server, running_server

POSTS = 50


async def test_concurrent_posts_of_one_fingerprint(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    before = await alerts_of(db, hook.workspace_id)
    body = {"title": "Flapping link", "fingerprint": "link-7", "severity": "high"}
    replies = await asyncio.gather(*(post(server, hook.path(), body) for _ in range(POSTS)))
    assert [r.status for r in replies] == [202] * POSTS
    outcomes = Counter(r.body["results"][0]["outcome"] for r in replies)
    assert outcomes == {"created": 1, "deduplicated": POSTS - 1}
    assert len({r.body["alerts"][0] for r in replies}) == 1
    after = await alerts_of(db, hook.workspace_id)
    new = [a for a in after if a.id not in {b.id for b in before}]
    assert len(new) == 1
    assert new[0].occurrences == POSTS and new[0].fingerprint == "link-7"
    incident = await get_row(db, Incident, new[0].incident_id)
    assert incident.alert_count == 1


async def test_concurrent_posts_through_graphql_and_webhook_mixed(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    mutation = """mutation($input: IngestAlertInput!) {
      ingestAlert(input: $input) { outcome alert { id occurrences } userErrors { message } } }"""

    async def via_graphql() -> str:
        body = await server.graphql(
            mutation, {"input": {"title": "Mixed", "fingerprint": "mixed-1"}},
            key=tenants.acme.key,
        )
        return str(body["data"]["ingestAlert"]["alert"]["id"])

    async def via_webhook() -> str:
        reply = await post(server, hook.path(), {"title": "Mixed", "fingerprint": "mixed-1"})
        return str(reply.body["alerts"][0])

    ids = await asyncio.gather(*[via_graphql() if i % 2 else via_webhook() for i in range(20)])
    assert len(set(ids)) == 1
    assert (await get_row(db, Alert, ids[0])).occurrences == 20


@pytest.fixture
async def short_timeout_server(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, db_url: str
) -> AsyncIterator[Server]:
    """The real app over its own Database whose SQLite busy timeout (PostgreSQL lock_timeout)
    is 200 ms."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    database = Database(db_url)
    try:
        async with running_server(settings, database) as running:
            yield running
    finally:
        await database.dispose()


@asynccontextmanager
async def _blocker(db_url: str, workspace_id: str) -> AsyncIterator[None]:
    if db_url.startswith("sqlite"):
        blocker = sqlite3.connect(
            db_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None, timeout=0
        )
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE", workspace_id)
            yield
    finally:
        await conn.close()


async def test_lock_contention_is_a_503_with_retry_after(
    short_timeout_server: Server, db: Database, db_url: str, tenants: Tenants,
    hooks: dict[str, Hook],
) -> None:
    server = short_timeout_server
    hook = hooks["acme"]
    before = await row_counts(db)
    # Another process (here: another connection) holds the lock a write needs: SQLite's
    # database write lock, or on PostgreSQL the workspace row every ingestion locks first.
    async with _blocker(db_url, hook.workspace_id):
        reply = await post(server, hook.path(), {"title": "Blocked", "severity": "high"})
        assert reply.status == 503, reply.body
        assert reply.body["error"]["code"] == "unavailable"
        assert "nothing was written" in reply.body["error"]["message"]
        assert int(reply.headers["Retry-After"]) >= 1

        body = await server.graphql(
            'mutation { ingestAlert(input: {title: "Blocked"}) { outcome } }',
            key=tenants.acme.key,
        )
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert await row_counts(db) == before
    reply = await post(server, hook.path(), {"title": "Blocked", "severity": "high"})
    assert reply.status == 202, reply.body
