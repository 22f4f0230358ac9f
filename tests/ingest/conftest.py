"""Fixtures for the ingestion suites: webhook URLs for the tenant tree, posting helpers and row
counts (to prove a refused request wrote nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import (
    Alert,
    IdempotencyRecord,
    Incident,
    TimelineEvent,
    WebhookDelivery,
    Workspace,
)
from gateway.domain.tenancy.webhook_tokens import create_token
from tests.support.data import Tenants
from tests.support.server import Server

COUNTED = {
    "alerts": Alert,
    "incidents": Incident,
    "timeline_events": TimelineEvent,
    "idempotency_records": IdempotencyRecord,
    "webhook_deliveries": WebhookDelivery,
}


@dataclass
class Hook:
    slug: str
    workspace_id: str
    token: str

    def path(self) -> str:
        return f"/webhook/{self.slug}/{self.token}"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


async def post(
    server: Server,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    data = raw if raw is not None else orjson.dumps(body)
    async with server.http.post(
        f"{server.url}{path}",
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
    ) as response:
        text = await response.read()
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = text.decode(errors="replace")
        return Reply(response.status, parsed, dict(response.headers))


async def make_hook(db: Database, workspace_id: str) -> Hook:
    async with db.write() as session:
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        _, secret = await create_token(session, workspace)
        return Hook(slug=workspace.slug, workspace_id=workspace.id, token=secret)


@pytest.fixture
async def hooks(db: Database, tenants: Tenants) -> dict[str, Hook]:
    return {t.slug: await make_hook(db, t.id) for t in tenants.all()}


async def row_counts(db: Database) -> dict[str, int]:
    counts = {}
    async with db.read() as session:
        for name, model in COUNTED.items():
            stmt = select(func.count()).select_from(model)
            counts[name] = int((await session.execute(stmt)).scalar_one())
    return counts


def no_rows_but_the_delivery(before: dict[str, int], after: dict[str, int]) -> None:
    """Between two `row_counts`: one webhook delivery logged, nothing else written."""
    assert {k: after[k] - before[k] for k in after} == {
        "alerts": 0, "incidents": 0, "timeline_events": 0, "idempotency_records": 0,
        "webhook_deliveries": 1,
    }


async def enable_signing(db: Database, workspace_id: str, secret: str) -> None:
    """Require webhook signatures made with `secret` for this workspace."""
    async with db.write() as session:
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        workspace.webhook_signing_secret = secret
        session.add(workspace)


async def alerts_of(db: Database, workspace_id: str) -> list[Alert]:
    async with db.read() as session:
        stmt = (
            select(Alert)
            .where(col(Alert.workspace_id) == workspace_id)
            .order_by(col(Alert.received_at), col(Alert.id))
        )
        return list((await session.execute(stmt)).scalars())


async def events_of(db: Database, incident_id: str) -> list[TimelineEvent]:
    async with db.read() as session:
        stmt = (
            select(TimelineEvent)
            .where(col(TimelineEvent.incident_id) == incident_id)
            .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        )
        return list((await session.execute(stmt)).scalars())


async def get_row(db: Database, model: Any, row_id: Any) -> Any:
    async with db.read() as session:
        return await session.get(model, row_id)
