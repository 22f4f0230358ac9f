"""A legacy REST caller: a real HTTP client against the real app on loopback (the `server`
fixture), with a helper that checks what every response must carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gateway.domain.settings import Settings
from tests.support.server import Server

_ABSENT = object()


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes

    @property
    def error(self) -> dict[str, Any]:
        assert isinstance(self.body, dict) and "error" in self.body, self.body
        return dict(self.body["error"])


@dataclass
class Rest:
    server: Server

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        workspace: str | None = None,
        json: Any = _ABSENT,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if workspace is not None:
            sent["X-Workspace-ID"] = workspace
        kwargs: dict[str, Any] = {"headers": sent, "params": params}
        if json is not _ABSENT:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
        async with self.server.http.request(method, self.server.url + path, **kwargs) as response:
            raw = await response.read()
            headers_out = dict(response.headers)
            assert headers_out.get("X-Request-ID"), f"{method} {path}: no X-Request-ID"
            body: Any = None
            if response.content_type == "application/json":
                body = await response.json()
                if response.status >= 400:
                    error = body["error"]
                    assert set(error) <= {"code", "message", "request_id", "field"}, body
                    assert error["request_id"] == headers_out["X-Request-ID"], body
            return Answer(response.status, body, headers_out, raw)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.call("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Answer:
        return await self.call("PATCH", path, **kwargs)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with the background workers off, so a queued report stays queued
    until a test runs the worker itself."""
    return settings.model_copy(update={"report_poll_seconds": 0, "sla_sweep_seconds": 0})


@pytest.fixture
def rest(server: Server) -> Rest:
    return Rest(server)
