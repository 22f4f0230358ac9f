"""The bad-input matrix of the webhook: each refusal has its documented status and a message that
says what to fix, and writes nothing but (once the token is recognised) its delivery-log row."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlmodel import col

from gateway.domain.ingest.webhook_auth import sign
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import WebhookDelivery
from tests.ingest.conftest import (
    Hook,
    alerts_of,
    enable_signing,
    no_rows_but_the_delivery,
    post,
    row_counts,
)
from tests.support.server import Server

SECRET = "whsec_matrix"
MIB = 1024 * 1024


def _huge() -> bytes:
    return orjson.dumps({"title": "big", "description": "x" * MIB})


def _exactly_one_mib() -> bytes:
    shell = orjson.dumps({"title": "big", "description": ""})
    return orjson.dumps({"title": "big", "description": "x" * (MIB - len(shell))})


# name, raw body, extra headers, status, error code, message fragment
CASES: list[tuple[str, bytes, dict[str, str], int, str, str]] = [
    ("malformed JSON", b'{"title": "x",', {}, 400, "invalid_request", "not valid JSON"),
    ("JSON array", b'[{"title": "x"}]', {}, 400, "invalid_request",
     'must be a JSON object, got an array; to send several alerts, wrap them'),
    ("JSON string", b'"disk full"', {}, 400, "invalid_request", "got a string"),
    ("JSON null", b"null", {}, 400, "invalid_request", "got null"),
    ("empty body", b"", {}, 400, "invalid_request", "the body is empty"),
    ("not UTF-8", b'{"title": "\xff"}', {}, 400, "invalid_request", "not UTF-8"),
    ("empty batch", b'{"alerts": []}', {}, 400, "invalid_request", "`alerts` is empty"),
    ("empty Alertmanager group", b'{"version": "4", "receiver": "x", "alerts": []}', {}, 400,
     "invalid_request", "`alerts` is empty"),
    ("missing title", b'{"severity": "high", "labels": {"host": "a"}}', {}, 400,
     "invalid_request", "`title` is required"),
    ("bad severity", b'{"title": "x", "severity": "apocalyptic"}', {}, 400, "invalid_request",
     "`severity` 'apocalyptic' is not recognised"),
    ("labels not strings", b'{"title": "x", "labels": {"a": [1]}}', {}, 400,
     "invalid_request", "`labels` must be an object of strings"),
    ("fingerprint too long", orjson.dumps({"title": "x", "fingerprint": "f" * 256}), {}, 400,
     "invalid_request", "1-255 characters"),
    ("half-bad batch", b'{"alerts": [{"title": "fine"}, {"title": ""}]}', {}, 400,
     "invalid_request", "alerts[1]: `title` is required"),
    ("huge body", _huge(), {}, 413, "payload_too_large", "larger than 1048576 bytes"),
    # Declared 1-2 KiB on the wire; aiohttp inflates it past the limit as it reads.
    ("huge gzip body", gzip.compress(_huge()), {"Content-Encoding": "gzip"}, 413,
     "payload_too_large", "larger than 1048576 bytes"),
]


@pytest.fixture
async def hook(hooks: dict[str, Hook]) -> Hook:
    return hooks["acme"]


async def _deliveries(db: Database) -> list[WebhookDelivery]:
    async with db.read() as session:
        stmt = select(WebhookDelivery).order_by(col(WebhookDelivery.received_at))
        return list((await session.execute(stmt)).scalars())


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_refused_with_a_clear_message_and_nothing_written(
    server: Server,
    db: Database,
    hook: Hook,
    raw: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    fragment: str,
) -> None:
    before = await row_counts(db)
    reply = await post(server, hook.path(), raw=raw, headers=headers)
    assert reply.status == status, reply.body
    assert reply.body["error"]["code"] == code
    assert fragment in reply.body["error"]["message"], reply.body
    assert reply.body["error"]["request_id"] == reply.headers["X-Request-ID"]
    no_rows_but_the_delivery(before, await row_counts(db))
    (delivery,) = await _deliveries(db)
    assert delivery.status_code == status and fragment in (delivery.error or "")
    assert delivery.accepted == 0 and delivery.alert_ids == []


async def test_exactly_one_mib_is_accepted(server: Server, hook: Hook) -> None:
    raw = _exactly_one_mib()
    assert len(raw) == MIB
    reply = await post(server, hook.path(), raw=raw)
    assert reply.status == 202, reply.body


async def test_a_gzip_body_within_the_limit_is_ingested(
    server: Server, db: Database, hook: Hook
) -> None:
    raw = gzip.compress(orjson.dumps({"title": "compressed", "fingerprint": "gz-1"}))
    reply = await post(server, hook.path(), raw=raw, headers={"Content-Encoding": "gzip"})
    assert reply.status == 202, reply.body
    assert any(a.fingerprint == "gz-1" for a in await alerts_of(db, hook.workspace_id))


async def test_huge_chunked_body_without_length(server: Server, db: Database, hook: Hook) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        piece = b"x" * 65536
        yield b'{"title": "big", "description": "'
        for _ in range(17):
            yield piece
        yield b'"}'

    before = await row_counts(db)
    async with server.http.post(f"{server.url}{hook.path()}", data=chunks()) as response:
        assert response.status == 413
        body = await response.json()
    assert body["error"]["code"] == "payload_too_large"
    no_rows_but_the_delivery(before, await row_counts(db))


async def test_wrong_token_unknown_slug_and_foreign_token_look_the_same(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    acme, globex = hooks["acme"], hooks["globex"]
    before = await row_counts(db)
    paths = [
        f"/webhook/acme/{acme.token}x",  # wrong token
        "/webhook/acme/whk_" + "A" * 43,  # well-formed, wrong
        f"/webhook/nosuchworkspace/{acme.token}",  # unknown slug
        f"/webhook/globex/{acme.token}",  # another workspace's token
        f"/webhook/{globex.slug}/{acme.token[:-1]}",
    ]
    bodies = []
    for path in paths:
        reply = await post(server, path, {"title": "x"})
        assert reply.status == 404, (path, reply.body)
        error = dict(reply.body["error"])
        error.pop("request_id")
        bodies.append(error)
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0] == {
        "code": "not_found",
        "message": "no webhook at this URL: check the workspace slug and the token",
    }
    # Unattributable requests are not even logged.
    assert await row_counts(db) == before


def _signature_cases(raw: bytes) -> list[tuple[str, dict[str, str], str]]:
    now = int(time.time())
    return [
        ("missing", {}, "requires a signature"),
        ("malformed", {"X-Seliq-Signature": "sha256=abc"}, "malformed X-Seliq-Signature"),
        ("bad signature", {"X-Seliq-Signature": sign("whsec_wrong", raw, now)},
         "does not match"),
        ("other body", {"X-Seliq-Signature": sign(SECRET, raw + b" ", now)}, "does not match"),
        ("stale timestamp", {"X-Seliq-Signature": sign(SECRET, raw, now - 301)},
         "more than 300 s away"),
        ("future timestamp", {"X-Seliq-Signature": sign(SECRET, raw, now + 400)},
         "more than 300 s away"),
    ]


async def test_signature_refusals(server: Server, db: Database, hook: Hook) -> None:
    await enable_signing(db, hook.workspace_id, SECRET)
    raw = b'{"title": "signed?"}'
    for name, headers, fragment in _signature_cases(raw):
        before = await row_counts(db)
        reply = await post(server, hook.path(), raw=raw, headers=headers)
        assert reply.status == 401, (name, reply.body)
        assert reply.body["error"]["code"] == "unauthenticated"
        assert fragment in reply.body["error"]["message"], (name, reply.body)
        no_rows_but_the_delivery(before, await row_counts(db))
    good = await post(
        server, hook.path(), raw=raw,
        headers={"X-Seliq-Signature": sign(SECRET, raw, int(time.time()) - 200)},
    )
    assert good.status == 202, good.body


async def test_method_not_allowed(server: Server, hook: Hook) -> None:
    async with server.http.get(f"{server.url}{hook.path()}") as response:
        assert response.status == 405
        body: Any = await response.json()
    assert body["error"]["code"] == "method_not_allowed"
