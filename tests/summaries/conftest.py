"""A fake OpenAI-compatible chat-completions server on loopback, and the gateway configured to
use it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident
from gateway.domain.timeutil import utcnow
from tests.support.data import make_incident
from tests.support.server import Server, running_server
from tests.support.sla import workspace_with_key

MODEL_TEXT = "Disk on web-01 is nearly full (7 alerts). Check the log volume first."


@dataclass
class FakeProvider:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    # ok | slow | not_json | no_choices | empty_content | http_500
    mode: str = "ok"
    delay: float = 2.0


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    state = FakeProvider(base_url="")

    async def chat(request: web.Request) -> web.StreamResponse:
        state.requests.append({
            "path": request.path,
            "authorization": request.headers.get("Authorization"),
            "json": await request.json(),
        })
        if state.mode == "slow":
            await asyncio.sleep(state.delay)
        if state.mode == "not_json":
            return web.Response(text="<html>upstream exploded</html>", content_type="text/html")
        if state.mode == "no_choices":
            return web.json_response({"id": "x", "object": "chat.completion", "choices": []})
        if state.mode == "empty_content":
            return web.json_response({"choices": [{"message": {"content": "   "}}]})
        if state.mode == "http_500":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"  {MODEL_TEXT}\n"}}],
        })

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.base_url = str(server.make_url("/v1"))
    yield state
    await server.close()


@pytest.fixture
async def model_server(
    settings: Settings, db: Database, provider: FakeProvider
) -> AsyncIterator[Server]:
    """The gateway with SELIQ_SUMMARY_URL/MODEL/API_KEY pointing at the fake provider."""
    configured = Settings(**{
        **settings.model_dump(),
        "summary_url": provider.base_url,
        "summary_model": "test-model",
        "summary_api_key": "sk-test-secret",
        "summary_timeout_seconds": 0.5,
    })
    async with running_server(configured, db) as running:
        yield running


@dataclass
class AlertCase:
    key: str
    incident: Incident
    alerts: list[Alert]


@pytest.fixture
async def disk_alerts(db: Database) -> AlertCase:
    """Incident #1 "Disk full" with three alerts; the first fired 7 times on web-01."""
    workspace, key = await workspace_with_key(db, "summary-ws")
    incident, alerts = await make_incident(
        db, workspace, title="Disk full", severity="critical", alerts=3
    )
    first_seen = utcnow().replace(microsecond=0) - timedelta(minutes=30)
    async with db.write() as session:
        row = await session.get(Alert, alerts[0].id)
        assert row is not None
        row.title = "DiskWillFillIn4Hours"
        row.source = "prometheus"
        row.description = "Disk /var on web-01 will fill within 4 hours"
        row.labels = {"alertname": "DiskWillFillIn4Hours", "host": "web-01",
                      "service": "nginx", "instance": "10.0.0.5:9100"}
        row.occurrences = 7
        row.first_seen_at = first_seen
        row.last_seen_at = first_seen + timedelta(minutes=25)
        session.add(row)
    async with db.read() as session:
        refreshed = [await session.get(Alert, a.id) for a in alerts]
    return AlertCase(key=key, incident=incident, alerts=[a for a in refreshed if a is not None])
