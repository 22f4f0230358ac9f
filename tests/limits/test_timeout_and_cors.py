"""A request running past the deadline is cancelled and answered 504; CORS allows only the
configured origins and never reflects an arbitrary one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from gateway.domain.incidents import incidents as incident_service
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from tests.gateway.test_cancellation import SLOW
from tests.support.data import Tenants
from tests.support.server import Server, running_server

DASHBOARD = "https://soc.example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"request_timeout_seconds": 0.5, "cors_origins": f"{DASHBOARD}, http://x.test"}
    )


async def test_slow_request_is_504_and_server_keeps_answering(
    server: Server, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancelled = asyncio.Event()

    async def slow(*args: object, **kwargs: object) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    monkeypatch.setattr(incident_service, "list_incidents", slow)
    body = await server.graphql("{ incidents { totalCount } }", key=tenants.acme.key,
                                expect_status=504)
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert cancelled.is_set(), "the resolver's work was cancelled"
    headers = {"Authorization": f"Bearer {tenants.acme.key}"}
    async with server.http.get(f"{server.url}/v1/incidents", headers=headers) as response:
        assert response.status == 504
        assert (await response.json())["error"]["code"] == "timeout"
    body = await server.graphql("{ viewer { id } }", key=tenants.acme.key)
    assert body["data"]["viewer"]["id"]


async def test_a_statement_running_at_the_deadline_is_cancelled_and_answered_504(
    server: Server, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real statement in flight (not a sleep): closing its interrupted session used to raise
    PendingRollbackError over the cancellation, and the caller got a 500."""
    slow = SLOW[server.db.engine.dialect.name]

    async def slow_list(session: Any, *args: object, **kwargs: object) -> None:
        while True:  # until the deadline cancels it, mid-statement
            await session.execute(text(slow))

    monkeypatch.setattr(incident_service, "list_incidents", slow_list)
    body = await server.graphql("{ incidents { totalCount } }", key=tenants.acme.key,
                                expect_status=504)
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
    body = await server.graphql("{ viewer { id } }", key=tenants.acme.key)
    assert body["data"]["viewer"]["id"]


async def test_cors_allows_only_configured_origins(server: Server, tenants: Tenants) -> None:
    preflight = {
        "Origin": DASHBOARD,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with server.http.options(f"{server.url}/graphql", headers=preflight) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
        assert "Access-Control-Allow-Credentials" not in response.headers
    async with server.http.options(
        f"{server.url}/v1/incidents", headers={**preflight, "Origin": "https://evil.example"}
    ) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
    headers = {"Authorization": f"Bearer {tenants.acme.key}", "Origin": DASHBOARD}
    async with server.http.post(
        f"{server.url}/graphql", json={"query": "{ viewer { id } }"}, headers=headers
    ) as response:
        assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
        assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    async with server.http.get(
        f"{server.url}/v1/incidents", headers={**headers, "Origin": "https://evil.example"}
    ) as response:
        assert response.status == 200
        assert "Access-Control-Allow-Origin" not in response.headers
    # Error answers a browser must be able to read carry the headers too.
    async with server.http.get(
        f"{server.url}/v1/incidents/inc_nothere", headers=headers
    ) as response:
        assert response.status == 404
        assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
        assert response.headers["Vary"] == "Origin"


@pytest.fixture
async def default_server(db_url: str, db: Database) -> AsyncIterator[Server]:
    async with running_server(Settings(database_url=db_url), db) as running:
        yield running


async def test_no_origin_is_allowed_by_default(default_server: Server) -> None:
    async with default_server.http.options(
        f"{default_server.url}/graphql",
        headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "POST"},
    ) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
