"""bytes that are not UTF-8 in `Authorization` or `X-Workspace-ID`, and lone
surrogates or NUL in a WebSocket `connection_init`.

aiohttp decodes header bytes with `surrogateescape`; hashing such a key (`str.encode()`) raises
UnicodeEncodeError, so today both headers are a 500 (REST-shaped even on /graphql), without a
key. Over WebSocket, a lone surrogate in `connection_init` (or a NUL on PostgreSQL) writes an
HTTP 500 into the upgraded socket: the client sees protocol error 1002 instead of close 4403.

Expected (DESIGN.md "Tenancy and auth"): a key that cannot be a key is a bad key, 401
`unauthenticated` / UNAUTHENTICATED; a workspace reference that cannot name a workspace is one
the key may not act on, 403 `forbidden` / FORBIDDEN with the same body as for any other such
workspace; both as our JSON error body with the request id, never a 500. The socket closes with
4403. Requests are sent as raw bytes (a client library would refuse to send them).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from gateway.domain.storage.engine import Database
from tests.hostile.helpers import (
    RawAnswer,
    alongside,
    assert_nothing_written,
    counts,
    http_request,
    names_field,
    next_frame,
    raw_exchange,
    subscriptions,
)
from tests.ingest.conftest import Hook
from tests.support.data import Tenants
from tests.support.server import Server
from tests.support.wsclient import PROTOCOL, ws_url

QUERY = b'{"query": "{ viewer { name } }"}'
BAD_KEYS = [b"Bearer seliq_\xff\xfe\x80abc", b"Bearer \xe9t\xe9", b"\xff\xff"]
WEBHOOK_NOT_FOUND = "no webhook at this URL: check the workspace slug and the token"
BAD_WORKSPACES = [b"acme\xff", b"\xe9", b"\xed\xa0\x80"]  # the last: a UTF-8-encoded surrogate


def _host(server: Server) -> str:
    return server.url.split("//", 1)[1]


async def _send(
    server: Server, door: str, headers: list[tuple[bytes, bytes]]
) -> RawAnswer:
    if door == "graphql":
        request = http_request(
            "POST", "/graphql", _host(server),
            [*headers, (b"Content-Type", b"application/json")], QUERY,
        )
    else:
        request = http_request("GET", "/v1/incidents", _host(server), headers)
    return await raw_exchange(server.url, request)


def _error(door: str, answer: RawAnswer) -> tuple[str, str, str]:
    """(code, message, request id) of a GraphQL-shaped (/graphql) or REST-shaped error."""
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.raw
    body: dict[str, Any] = answer.json()
    if door == "graphql":
        assert "errors" in body, body
        error = body["errors"][0]
        return error["extensions"]["code"], error["message"], error["extensions"]["request_id"]
    error = body["error"]
    return error["code"], error["message"], error["request_id"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=["seliq-ff-fe-80", "latin-1", "only-ff"])
@pytest.mark.parametrize("door", ["graphql", "rest"])
async def test_non_utf8_authorization_is_401(
    server: Server, db: Database, tenants: Tenants, door: str, key: bytes
) -> None:
    before = await counts(db)
    answer = await alongside(server, tenants.acme.key,
                             _send(server, door, [(b"Authorization", key)]))
    assert answer.status == 401, answer.raw
    code, message, request_id = _error(door, answer)
    assert code == ("UNAUTHENTICATED" if door == "graphql" else "unauthenticated"), answer.raw
    assert message and request_id == answer.headers["x-request-id"], answer.raw
    assert key not in answer.raw
    assert_nothing_written(before, await counts(db))


@pytest.mark.parametrize("workspace", BAD_WORKSPACES, ids=["acme-ff", "latin-1", "surrogate"])
@pytest.mark.parametrize("door", ["graphql", "rest"])
async def test_non_utf8_workspace_is_403_like_any_foreign_workspace(
    server: Server, db: Database, tenants: Tenants, door: str, workspace: bytes
) -> None:
    key = (b"Authorization", b"Bearer " + tenants.acme.key.encode())
    before = await counts(db)
    answer = await alongside(server, tenants.acme.key,
                             _send(server, door, [key, (b"X-Workspace-ID", workspace)]))
    assert answer.status == 403, answer.raw
    code, message, request_id = _error(door, answer)
    assert code == ("FORBIDDEN" if door == "graphql" else "forbidden"), answer.raw
    assert request_id == answer.headers["x-request-id"], answer.raw
    # The same answer as for a workspace that does not exist.
    other = await _send(server, door, [key, (b"X-Workspace-ID", b"no-such-workspace")])
    assert other.status == 403
    assert _error(door, other)[:2] == (code, message)
    assert_nothing_written(before, await counts(db))


@pytest.mark.parametrize("key", BAD_KEYS, ids=["seliq-ff-fe-80", "latin-1", "only-ff"])
async def test_non_utf8_webhook_bearer_is_the_webhook_404(
    server: Server, db: Database, tenants: Tenants, hook: Hook, key: bytes
) -> None:
    """Beyond the issue's list: `POST /webhook/{slug}` takes the token in `Authorization:
    Bearer` too; a token that cannot be one is the one 404 of any wrong token or slug."""
    request = http_request(
        "POST", f"/webhook/{hook.slug}", _host(server),
        [(b"Authorization", key), (b"Content-Type", b"application/json")], b'{"title": "x"}',
    )
    before = await counts(db)
    answer = await alongside(server, tenants.acme.key, raw_exchange(server.url, request))
    assert answer.status == 404, answer.raw
    code, message, request_id = _error("rest", answer)
    assert (code, message) == ("not_found", WEBHOOK_NOT_FOUND), answer.raw
    assert request_id == answer.headers["x-request-id"], answer.raw
    assert_nothing_written(before, await counts(db))


# ---- WebSocket -----------------------------------------------------------------------------------


async def _close_code(server: Server, payload: dict[str, Any]) -> tuple[int | None, list[Any]]:
    """Open a graphql-transport-ws connection, send `connection_init` with `payload` (JSON with
    \\u escapes, so lone surrogates travel as sent), and return the close code and the messages
    received before it."""
    received: list[Any] = []
    async with server.http.ws_connect(ws_url(server.url), protocols=(PROTOCOL,)) as ws:
        await ws.send_str(json.dumps({"type": "connection_init", "payload": payload}))
        while True:
            message = await ws.receive(timeout=10)
            if message.type == aiohttp.WSMsgType.TEXT:
                received.append(json.loads(message.data))
                if received[-1].get("type") == "connection_ack":
                    await ws.close()
                    return ws.close_code, received
                continue
            return ws.close_code, received


def _ws_payloads(key: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("surrogate key", {"Authorization": "Bearer seliq_\ud800abc"}),
        ("surrogate only", {"Authorization": "\udcff"}),
        ("nul key", {"Authorization": f"Bearer {key[:10]}\u0000{key[10:]}"}),
        ("surrogate workspace", {"Authorization": f"Bearer {key}", "X-Workspace-ID": "acme\ud800"}),
        ("nul workspace", {"Authorization": f"Bearer {key}", "X-Workspace-ID": "acme\u0000"}),
    ]


@pytest.mark.parametrize(
    "case", ["surrogate key", "surrogate only", "nul key", "surrogate workspace", "nul workspace"]
)
async def test_websocket_init_with_unencodable_text_closes_4403(
    server: Server, tenants: Tenants, case: str
) -> None:
    payload = dict(_ws_payloads(tenants.acme.key))[case]
    code, received = await alongside(server, tenants.acme.key, _close_code(server, payload))
    assert code == 4403, (code, received)
    assert not any(message.get("type") == "connection_ack" for message in received), received
    # A well-formed init on a new connection is still acknowledged.
    code, received = await _close_code(server, {"Authorization": f"Bearer {tenants.acme.key}"})
    assert received and received[0]["type"] == "connection_ack", received


@pytest.mark.parametrize(
    "workspace", ["acme\ud800", "acme\u0000", "\udcff"], ids=["surrogate", "nul", "lone"]
)
async def test_subscribe_with_unencodable_workspace_is_refused(
    server: Server, tenants: Tenants, workspace: str
) -> None:
    """Beyond the issue's list: `subscribe` to `alertsIngested(workspaceId:)` with such a
    workspace is an INTERNAL error today (a surrogate on both backends, a NUL on PostgreSQL).
    Expected: refused like any bad argument (BAD_USER_INPUT naming it, as test_nul.py decides
    for GraphQL arguments), or the FORBIDDEN any workspace the key may not act on gets."""
    query = "subscription($w: ID) { alertsIngested(workspaceId: $w) { outcome } }"
    async with subscriptions(server, tenants.acme.key) as ws:
        payload = {"query": query, "variables": {"w": workspace}}
        await ws.send_str(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        kind, message = await next_frame(ws)
        assert kind == "message", (kind, message)
        assert message["type"] == "error" and message["id"] == "1", message
        error = message["payload"][0]
        assert error["extensions"]["code"] in {"BAD_USER_INPUT", "FORBIDDEN"}, message
        if error["extensions"]["code"] == "BAD_USER_INPUT":
            assert names_field(error, "w", "workspaceId"), message
        else:  # like a workspace that does not exist
            payload = {"query": query, "variables": {"w": "no-such-workspace"}}
            await ws.send_str(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
            kind, other = await next_frame(ws)
            assert other["payload"][0]["message"] == error["message"], (other, message)
    async with server.http.get(f"{server.url}/healthz") as response:
        assert response.status == 200
