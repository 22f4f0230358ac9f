"""The real app on a loopback port with a real HTTP client (`running_server`), and `Server`, its
helpers for GraphQL calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.web_runner import BaseRunner

from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.service.app import create_app
from gateway.service.http.connection import GatewayRunner


@dataclass
class Server:
    """The real app on a loopback port, plus an HTTP client and helpers for GraphQL calls."""

    url: str
    http: aiohttp.ClientSession
    db: Database
    app: web.Application | None = None  # for what only the process can tell (plans answered)

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        workspace: str | None = None,
        expect_status: int | None = 200,
    ) -> dict[str, Any]:
        headers = {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if workspace:
            headers["X-Workspace-ID"] = workspace
        async with self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as response:
            body = await response.json()
            if expect_status is not None:
                assert response.status == expect_status, body
            body["_status"] = response.status
            body["_headers"] = dict(response.headers)
            return body


class GatewayTestServer(TestServer):
    """aiohttp's TestServer, serving through the gateway's own runner (its connection handler
    answers malformed requests in our error shape), as `seliq-gateway serve` does."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return GatewayRunner(self.app, **kwargs)


@asynccontextmanager
async def running_server(settings: Settings, db: Database) -> AsyncIterator[Server]:
    """The real app with `settings` on a loopback port, and a client for it."""
    app = create_app(settings, db=db)
    test_server = GatewayTestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(test_server.make_url("")).rstrip("/")
            yield Server(url=url, http=http, db=db, app=app)
    finally:
        await test_server.close()
