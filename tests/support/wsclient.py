"""A small graphql-transport-ws client over aiohttp's WebSocket client, for the tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tests.support.diagnostics import print_task_stacks

PROTOCOL = "graphql-transport-ws"
# How long a test waits for a message the server owes it. Generous: a loaded CI machine has
# stalled for seconds; only a failing test ever waits this long.
WAIT_SECONDS = 15.0


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


class WSClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, within: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next protocol message (pings are answered and skipped); raises ConnectionClosed
        with the close code when the server closes."""
        while True:
            try:
                message = await self.ws.receive(timeout=within)
            except TimeoutError:
                if within >= WAIT_SECONDS:  # an awaited message that never came: say why
                    print_task_stacks(f"no WebSocket message in {within} s")
                raise
            if message.type == aiohttp.WSMsgType.TEXT:
                body: dict[str, Any] = json.loads(message.data)
                if body.get("type") == "ping":
                    await self.send({"type": "pong"})
                    continue
                return body
            if message.type in (
                aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED
            ):
                raise ConnectionClosed(self.ws.close_code, str(message.extra or ""))
            raise AssertionError(f"unexpected WebSocket message {message!r}")

    async def init(
        self, key: str | None, workspace: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        payload: dict[str, Any] = dict(extra)
        if key is not None:
            payload["Authorization"] = f"Bearer {key}"
        if workspace is not None:
            payload["X-Workspace-ID"] = workspace
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(
        self, operation_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        await self.send({
            "id": operation_id, "type": "subscribe",
            "payload": {"query": query, "variables": variables or {}},
        })

    async def complete(self, operation_id: str) -> None:
        await self.send({"id": operation_id, "type": "complete"})

    async def next_payload(self, operation_id: str, within: float = WAIT_SECONDS) -> dict[str, Any]:
        message = await self.receive(within)
        assert message.get("id") == operation_id, message
        assert message["type"] == "next", message
        payload: dict[str, Any] = message["payload"]
        return payload

    async def nothing_for(self, seconds: float) -> None:
        """Asserts no message arrives for `seconds`."""
        try:
            message = await self.receive(within=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {message}")

    async def closed_with(self, within: float = WAIT_SECONDS) -> int | None:
        """Wait for the server to close; the close code."""
        try:
            while True:
                await self.receive(within)
        except ConnectionClosed as closed:
            return closed.code


class ConnectionClosed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code} {reason}")
        self.code = code
        self.reason = reason


@asynccontextmanager
async def connect(
    http: aiohttp.ClientSession,
    base_url: str,
    *,
    protocols: tuple[str, ...] = (PROTOCOL,),
    headers: dict[str, str] | None = None,
) -> AsyncIterator[WSClient]:
    async with http.ws_connect(
        ws_url(base_url), protocols=protocols, headers=headers or {}, autoping=True
    ) as ws:
        yield WSClient(ws)
