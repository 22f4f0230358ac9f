"""The request deadline on the write path, through every door and on both backends: a write
either commits and is answered 2xx, or is answered an error and wrote nothing.

- still queued for its group commit when the deadline passes: withdrawn, 503 `unavailable` with
  `Retry-After` (GraphQL: `UNAVAILABLE`), and nothing on disk;
- its group already committing when the deadline passes: it waits for the commit and gets its
  real answer (202/201), and the alert is on disk.

The deadline is a tiny `SELIQ_REQUEST_TIMEOUT_SECONDS`, and the group commit is held open by
the test until the deadline has passed, so what happens first is fixed, never raced."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.ingest import pipeline
from gateway.domain.settings import Settings
from gateway.domain.storage import deadline
from gateway.domain.storage.engine import Database
from tests.ingest.conftest import Hook, alerts_of, post, row_counts
from tests.support.data import Tenants
from tests.support.server import Server

TIMEOUT = 0.3
INGEST = """
mutation Ingest($input: IngestAlertInput!) {
  ingestAlert(input: $input) { outcome alert { id } userErrors { code } }
}
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"request_timeout_seconds": TIMEOUT})


@pytest.fixture
def deadlines_passed(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set once a request's deadline has passed (after the deadline did what it does)."""
    passed = asyncio.Event()
    real = deadline.Deadline.expire

    def expire(self: deadline.Deadline) -> None:
        real(self)
        passed.set()

    monkeypatch.setattr(deadline.Deadline, "expire", expire)
    return passed


async def hold_lane(db: Database, workspace_id: str) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """A group of `workspace_id`'s lane in flight until the returned gate opens: the workspace's
    next writes queue behind it (on PostgreSQL too, where other lanes would run beside it)."""
    gate, started = asyncio.Event(), asyncio.Event()

    async def held(session: AsyncSession) -> None:
        started.set()
        await gate.wait()

    task = asyncio.create_task(db.write_grouped(held, lane=workspace_id))
    await started.wait()
    return gate, task


def alert(title: str) -> dict[str, Any]:
    return {"title": title, "fingerprint": f"deadline-{title}", "labels": {"host": "h1"}}


async def test_a_write_still_queued_at_the_deadline_is_503_and_writes_nothing(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    # Warm: each door's first request (connections, caches) must reach the queue well inside
    # the 0.3 s deadline, also on a loaded machine (once it did not, and answered 504).
    await server.graphql("{ viewer { id } }", {}, key=tenants.acme.key)
    before = await row_counts(db)
    gate, held = await hold_lane(db, hook.workspace_id)
    auth = {"Authorization": f"Bearer {tenants.acme.key}", "Idempotency-Key": "queued-1"}
    webhook, rest, graphql = await asyncio.gather(
        post(server, hook.path(), alert("webhook")),
        post(server, "/v1/alerts", alert("rest"), headers=auth),
        server.graphql(INGEST, {"input": alert("graphql")}, key=tenants.acme.key),
    )
    gate.set()
    await held
    for reply in (webhook, rest):
        assert reply.status == 503, reply.body
        assert reply.body["error"]["code"] == "unavailable"
        assert "nothing was written" in reply.body["error"]["message"]
        assert int(reply.headers["Retry-After"]) > 0
    assert graphql["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert db.grouped.withdrawn == 3
    assert await row_counts(db) == before  # no alert, incident, event, key or delivery
    # The same requests, retried, go through.
    retried = await post(server, hook.path(), alert("webhook"))
    assert retried.status == 202, retried.body
    assert (await post(server, "/v1/alerts", alert("rest"), headers=auth)).status == 201


async def test_a_write_whose_group_is_committing_at_the_deadline_gets_its_real_answer(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook],
    monkeypatch: pytest.MonkeyPatch, deadlines_passed: asyncio.Event,
) -> None:
    hook = hooks["acme"]
    real_prepare = pipeline.prepare_group

    async def slow_prepare(session: AsyncSession, works: Sequence[Any]) -> None:
        await deadlines_passed.wait()  # the group is running when the deadline passes
        await real_prepare(session, works)

    monkeypatch.setattr(pipeline, "prepare_group", slow_prepare)
    webhook = await post(server, hook.path(), alert("late-webhook"))
    assert deadlines_passed.is_set()
    assert webhook.status == 202, webhook.body
    deadlines_passed.clear()
    auth = {"Authorization": f"Bearer {tenants.acme.key}"}
    rest = await post(server, "/v1/alerts", alert("late-rest"), headers=auth)
    assert deadlines_passed.is_set()
    assert rest.status == 201, rest.body
    stored = {a.id: a.fingerprint for a in await alerts_of(db, hook.workspace_id)}
    assert stored[webhook.body["alerts"][0]] == "deadline-late-webhook"
    assert stored[rest.body["id"]] == "deadline-late-rest"
    assert db.grouped.withdrawn == 0
