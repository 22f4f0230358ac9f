"""Helpers of the hostile-input suite: run a hostile request while ordinary ones are answered,
count rows to prove nothing was written, build deeply nested JSON, forge cursors, and speak raw
HTTP/1.1 for what a well-behaved client library refuses to send."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import func, select

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import (
    Alert,
    IdempotencyRecord,
    Incident,
    Note,
    TimelineEvent,
    WebhookDelivery,
)
from tests.support.server import Server
from tests.support.wsclient import PROTOCOL, ws_url

T = TypeVar("T")

#: The JSON nesting bound, in levels (docs/api.md, Hostile and malformed input).
MAX_JSON_DEPTH = 64
#: A small query every tenant may run at any time.
ORDINARY_QUERY = "{ viewer { name } }"

COUNTED = {
    "alerts": Alert,
    "incidents": Incident,
    "timeline_events": TimelineEvent,
    "notes": Note,
    "idempotency_records": IdempotencyRecord,
    "webhook_deliveries": WebhookDelivery,
}


async def counts(db: Database) -> dict[str, int]:
    """Rows per table (all workspaces) that a refused request must not add."""
    found = {}
    async with db.read() as session:
        for name, model in COUNTED.items():
            stmt = select(func.count()).select_from(model)
            found[name] = int((await session.execute(stmt)).scalar_one())
    return found


def assert_nothing_written(
    before: dict[str, int], after: dict[str, int], *, deliveries: int = 0
) -> None:
    """Between two `counts`: nothing written, except at most `deliveries` webhook delivery-log
    rows (a refused webhook delivery is logged, by design)."""
    changed = {name: after[name] - before[name] for name in after}
    logged = changed.pop("webhook_deliveries")
    assert all(delta == 0 for delta in changed.values()), changed
    assert 0 <= logged <= deliveries, f"{logged} delivery rows written"


async def alongside(server: Server, key: str, hostile: Awaitable[T]) -> T:
    """Await `hostile` while an ordinary caller asks /healthz and runs a small GraphQL query;
    both must be answered. Returns what `hostile` returned."""

    async def ordinary() -> None:
        async with server.http.get(f"{server.url}/healthz") as response:
            assert response.status == 200, await response.text()
        body = await server.graphql(ORDINARY_QUERY, key=key, expect_status=None)
        assert body["_status"] == 200 and body.get("data", {}).get("viewer"), body

    result, _ = await asyncio.gather(hostile, ordinary())
    return result


async def still_serving(server: Server, key: str) -> None:
    """After a hostile request: the tenant's own lists still answer (nothing half-written or
    unreadable was stored)."""
    for path in ("/v1/alerts", "/v1/incidents"):
        async with server.http.get(
            f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            assert response.status == 200, (path, await response.text())
    body = await server.graphql(
        "{ alerts(first: 100) { nodes { id rawPayload labels } } }", key=key, expect_status=None
    )
    assert body["_status"] == 200 and "errors" not in body, body


# ---- JSON ----------------------------------------------------------------------------------------


def nested_value(levels: int) -> str:
    """JSON text of a value `levels` containers deep (objects and arrays alternating), built as
    text so that no encoder's own recursion limit is involved."""
    opening, closing = [], []
    for level in range(levels):
        if level % 2 == 0:
            opening.append('{"k":')
            closing.append("}")
        else:
            opening.append("[")
            closing.append("]")
    return "".join(opening) + '"leaf"' + "".join(reversed(closing))


def nested_alert(levels: int, title: str = "deep") -> bytes:
    """An alert body (a JSON object of unknown shape, so it is accepted whole) whose deepest
    value is `levels` containers deep, counting the body itself."""
    return f'{{"title": "{title}", "data": {nested_value(levels - 1)}}}'.encode()


def error_of(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    return dict(body["error"])


def graphql_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = body.get("errors")
    assert errors, body
    return list(errors)


def names_field(error: dict[str, Any], *names: str) -> bool:
    """A GraphQL error or REST error names one of `names` (extensions.field, field, or the
    message)."""
    extensions = error.get("extensions") or {}
    where = " ".join(
        str(part) for part in (
            error.get("field"), extensions.get("field"), error.get("message"),
        ) if part
    )
    return any(name in where for name in names)


# ---- cursors -------------------------------------------------------------------------------------


def forge_cursor(sort_value: Any, row_id: str) -> str:
    """A cursor as the API makes them (gateway/domain/pagination.py: `[sort value, id]` as
    compact JSON, base64url without padding), holding whatever we like."""
    raw = json.dumps([sort_value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---- raw HTTP/1.1 --------------------------------------------------------------------------------


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


async def raw_exchange(url: str, request: bytes, *, within: float = 15.0) -> RawAnswer:
    """Send `request` bytes as they are and read the answer until the server closes (send
    `Connection: close`, or a request the server refuses)."""
    host, port = host_port(url)
    reader, writer = await asyncio.open_connection(host, port)
    received = bytearray()
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()
    return parse_answer(bytes(received))


def parse_answer(data: bytes) -> RawAnswer:
    assert data, "the server closed the connection without answering"
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawAnswer(status, headers, body, data)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return bytes(out)


def http_request(
    method: str,
    path: str,
    host: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
) -> bytes:
    """One HTTP/1.1 request with `Connection: close`, header bytes exactly as given."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host.encode(), b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# ---- graphql-transport-ws ------------------------------------------------------------------------


@asynccontextmanager
async def subscriptions(server: Server, key: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A graphql-transport-ws connection, initialised with `key` and acknowledged."""
    async with server.http.ws_connect(ws_url(server.url), protocols=(PROTOCOL,)) as ws:
        await ws.send_str(json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        ))
        kind, ack = await next_frame(ws)
        assert kind == "message" and ack["type"] == "connection_ack", (kind, ack)
        yield ws


async def next_frame(ws: aiohttp.ClientWebSocketResponse, within: float = 10.0) -> tuple[str, Any]:
    """("message", the decoded message) (pings are skipped), ("closed", the close code) when
    the server closed the connection, or ("nothing", None) when nothing came `within`."""
    while True:
        try:
            message = await ws.receive(timeout=within)
        except TimeoutError:
            return "nothing", None
        if message.type == aiohttp.WSMsgType.TEXT:
            decoded = json.loads(message.data)
            if decoded.get("type") == "ping":
                await ws.send_str(json.dumps({"type": "pong"}))
                continue
            return "message", decoded
        return "closed", ws.close_code
