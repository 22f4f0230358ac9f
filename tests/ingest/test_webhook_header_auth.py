"""`POST /webhook/{slug}` with `Authorization: Bearer <webhook token>`, beside the token-in-path
form: the same token, the same 404 body for anything wrong, signing required on both once on,
rotation revoking both, and the access-log line naming the workspace once the token proved it."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from gateway.domain.ingest.webhook_auth import set_signing, sign
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Workspace
from gateway.domain.tenancy.webhook_tokens import create_token
from gateway.service.logs import configure_logging
from tests.ingest.conftest import Hook, Reply, alerts_of, get_row, post, row_counts
from tests.support.data import Tenants
from tests.support.server import Server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_header(
    server: Server, hook: Hook, body: Any = None, *, raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return await post(
        server, f"/webhook/{hook.slug}", body, raw=raw,
        headers={**bearer(hook.token), **(headers or {})},
    )


def without_request_id(reply: Reply) -> Any:
    """The error body minus its request id (which differs per request by design)."""
    assert isinstance(reply.body, dict), reply.body
    error = dict(reply.body["error"])
    assert error.pop("request_id") == reply.headers["X-Request-ID"]
    return {"error": error}


async def test_header_form_creates_an_alert(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    reply = await post_header(
        server, hook, {"title": "Header auth works", "severity": "high", "labels": {"host": "h1"}}
    )
    assert reply.status == 202, reply.body
    assert reply.body["accepted"] == 1 and reply.body["results"][0]["outcome"] == "created"
    alert = await get_row(db, Alert, reply.body["alerts"][0])
    assert alert.workspace_id == hook.workspace_id
    assert (alert.title, alert.severity, alert.source) == ("Header auth works", "high", "webhook")
    # The same token in the path reaches the same webhook: the repeat deduplicates.
    again = await post(server, hook.path(), {
        "title": "Header auth works", "severity": "high", "labels": {"host": "h1"},
    })
    assert again.status == 202 and again.body["results"][0]["outcome"] == "deduplicated"
    assert again.body["alerts"] == reply.body["alerts"]
    # `?source=` and the bearer scheme in any case work as on the path form.
    named = await post(
        server, f"/webhook/{hook.slug}?source=zabbix", {"title": "Named"},
        headers={"Authorization": f"bearer {hook.token}"},
    )
    assert named.status == 202, named.body
    assert (await get_row(db, Alert, named.body["alerts"][0])).source == "zabbix"


async def test_anything_wrong_is_the_same_404_and_writes_nothing(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook]
) -> None:
    acme, globex, mssp = hooks["acme"], hooks["globex"], hooks["mssp"]
    reference = await post(server, f"/webhook/{acme.slug}/{acme.token}x", {"title": "x"})
    assert reference.status == 404
    expected = without_request_id(reference)
    assert expected["error"]["code"] == "not_found"

    before = await row_counts(db)
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("wrong token", f"/webhook/{acme.slug}", bearer(acme.token + "x")),
        ("another workspace's token", f"/webhook/{acme.slug}", bearer(globex.token)),
        ("the MSSP's token on a customer", f"/webhook/{acme.slug}", bearer(mssp.token)),
        ("right token, wrong slug", f"/webhook/{globex.slug}", bearer(acme.token)),
        ("unknown slug", "/webhook/no-such-workspace", bearer(acme.token)),
        ("slug that cannot be one", "/webhook/NOT_A_SLUG", bearer(acme.token)),
        ("an API key", f"/webhook/{acme.slug}", bearer(tenants.acme.key)),
        ("missing header", f"/webhook/{acme.slug}", {}),
        ("empty header", f"/webhook/{acme.slug}", {"Authorization": ""}),
        ("scheme only", f"/webhook/{acme.slug}", {"Authorization": "Bearer"}),
        ("scheme and blanks", f"/webhook/{acme.slug}", {"Authorization": "Bearer   "}),
        ("token without scheme", f"/webhook/{acme.slug}", {"Authorization": acme.token}),
        ("basic auth", f"/webhook/{acme.slug}", {"Authorization": f"Basic {acme.token}"}),
        ("two tokens", f"/webhook/{acme.slug}",
         {"Authorization": f"Bearer {acme.token} {acme.token}"}),
        ("not a b64token", f"/webhook/{acme.slug}", {"Authorization": "Bearer a\"b;c"}),
        # The path form ignores the header: a wrong path token stays wrong.
        ("wrong path token, right header", f"/webhook/{acme.slug}/{acme.token}x",
         bearer(acme.token)),
    ]
    for name, path, headers in cases:
        reply = await post(server, path, {"title": "Sneaky"}, headers=headers)
        assert reply.status == 404, (name, reply.body)
        assert without_request_id(reply) == expected, name
        assert "WWW-Authenticate" not in reply.headers, name
    assert await row_counts(db) == before  # not even a delivery row: no workspace was named


async def test_signing_on_requires_a_signature_on_the_header_form_too(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    raw = b'{"title": "Before signing"}'
    assert (await post_header(server, hook, raw=raw)).status == 202  # now in the auth cache
    async with db.write() as session:
        workspace = await session.get(Workspace, hook.workspace_id)
        assert workspace is not None
        secret = set_signing(workspace, True)
        session.add(workspace)
    assert secret is not None

    raw = b'{"title": "Signed", "severity": "critical"}'

    async def send(form: str, signature: str | None = None) -> Reply:
        headers = {"X-Seliq-Signature": signature} if signature is not None else None
        if form == "header":
            return await post_header(server, hook, raw=raw, headers=headers)
        return await post(server, hook.path(), raw=raw, headers=headers)

    for form in ("header", "path"):
        unsigned = await send(form)
        assert unsigned.status == 401, (form, unsigned.body)
        assert unsigned.body["error"]["code"] == "unauthenticated"
        assert "requires a signature" in unsigned.body["error"]["message"]
        wrong = await send(form, sign("whsec_wrong", raw, int(time.time())))
        assert wrong.status == 401, (form, wrong.body)
        stale = await send(form, sign(secret, raw, int(time.time()) - 3600))
        assert stale.status == 401, (form, stale.body)
        signed = await send(form, sign(secret, raw, int(time.time())))
        assert signed.status == 202, (form, signed.body)
    titles = [alert.title for alert in await alerts_of(db, hook.workspace_id)]
    assert titles.count("Signed") == 1  # the second signed post deduplicated into the first


async def test_rotation_revokes_the_old_token_in_both_forms(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["globex"]
    assert (await post_header(server, hook, {"title": "before"})).status == 202  # cached
    async with db.write() as session:
        workspace = await session.get(Workspace, hook.workspace_id)
        assert workspace is not None
        _, fresh = await create_token(session, workspace)
    assert (await post_header(server, hook, {"title": "old token"})).status == 404
    assert (await post(server, hook.path(), {"title": "old token"})).status == 404
    rotated = Hook(slug=hook.slug, workspace_id=hook.workspace_id, token=fresh)
    assert (await post_header(server, rotated, {"title": "new"})).status == 202
    assert (await post(server, rotated.path(), {"title": "new"})).status == 202


# --- the access-log line ----------------------------------------------------------------------


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """The process logging as `serve` sets it up, written to a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def access_line(stream: io.StringIO, reply: Reply) -> dict[str, Any]:
    request_id = reply.headers["X-Request-ID"]
    found = [
        entry for entry in map(orjson.loads, filter(None, stream.getvalue().splitlines()))
        if entry["logger"] == "seliq.access" and entry.get("request_id") == request_id
    ]
    assert len(found) == 1, stream.getvalue()
    return dict(found[0])


async def test_access_log_names_the_workspace_once_the_token_proved_it(
    server: Server, db: Database, hooks: dict[str, Hook], access_lines: io.StringIO
) -> None:
    hook = hooks["acme"]
    accepted = [
        await post_header(server, hook, {"title": "Logged"}),
        await post(server, hook.path(), {"title": "Logged"}),
    ]
    # Refused after the token proved the workspace: still that workspace's line.
    refused = await post_header(server, hook, raw=b"not json")
    assert [reply.status for reply in accepted] == [202, 202] and refused.status == 400
    for reply, route in zip(
        [*accepted, refused], ["/webhook/{slug}", "/webhook/{slug}/{token}", "/webhook/{slug}"],
        strict=True,
    ):
        line = access_line(access_lines, reply)
        assert line["route"] == route
        assert line["status"] == reply.status
        assert line["workspace_id"] == hook.workspace_id
        assert line["key_id"].startswith("whk_")  # the token's id, never the token
    # A wrong token names no workspace.
    unknown = await post_header(server, Hook(hook.slug, hook.workspace_id, hook.token + "x"))
    line = access_line(access_lines, unknown)
    assert line["status"] == 404 and "workspace_id" not in line and "key_id" not in line
    assert hook.token not in access_lines.getvalue()
