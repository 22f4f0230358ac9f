"""Tenancy: a webhook token writes into its own workspace and nowhere else, and dedup and
correlation never reach across workspaces."""

from __future__ import annotations

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, Workspace
from gateway.domain.tenancy.webhook_tokens import create_token
from tests.ingest.conftest import Hook, alerts_of, get_row, post, row_counts
from tests.support.data import Tenants
from tests.support.server import Server


async def test_a_token_writes_only_into_its_workspace(
    server: Server, db: Database, tenants: Tenants, hooks: dict[str, Hook]
) -> None:
    acme, globex = hooks["acme"], hooks["globex"]
    others = {
        t.id: len(await alerts_of(db, t.id)) for t in tenants.all() if t.id != acme.workspace_id
    }
    # X-Workspace-ID means nothing to the webhook: the token decides.
    reply = await post(
        server, acme.path(), {"title": "Mine", "labels": {"host": "h"}},
        headers={"X-Workspace-ID": globex.slug},
    )
    assert reply.status == 202
    alert = await get_row(db, Alert, reply.body["alerts"][0])
    incident = await get_row(db, Incident, reply.body["incidents"][0])
    assert alert.workspace_id == incident.workspace_id == acme.workspace_id
    assert {t: len(await alerts_of(db, t)) for t in others} == others


async def test_another_workspaces_token_is_refused_and_writes_nothing(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    acme, globex, mssp = hooks["acme"], hooks["globex"], hooks["mssp"]
    before = await row_counts(db)
    for path in (
        f"/webhook/{globex.slug}/{acme.token}",
        f"/webhook/{acme.slug}/{globex.token}",
        # The MSSP's token does not open its customers' webhooks either.
        f"/webhook/{acme.slug}/{mssp.token}",
    ):
        reply = await post(server, path, {"title": "Sneaky"})
        assert reply.status == 404
    assert await row_counts(db) == before


async def test_dedup_and_correlation_stay_inside_a_workspace(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    body = {"title": "Shared name", "fingerprint": "same-everywhere", "labels": {"host": "x"}}
    replies = [await post(server, hooks[slug].path(), body) for slug in ("acme", "globex", "mssp")]
    assert [r.body["results"][0]["outcome"] for r in replies] == ["created"] * 3
    assert len({r.body["alerts"][0] for r in replies}) == 3
    assert len({r.body["incidents"][0] for r in replies}) == 3
    # A resolution in one workspace resolves nothing elsewhere.
    await post(server, hooks["acme"].path(), {**body, "status": "resolved"})
    globex_alert = await get_row(db, Alert, replies[1].body["alerts"][0])
    assert globex_alert.status == "firing"


async def test_rotated_token_stops_working(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["globex"]
    assert (await post(server, hook.path(), {"title": "before"})).status == 202
    async with db.write() as session:
        workspace = await session.get(Workspace, hook.workspace_id)
        assert workspace is not None
        _, fresh = await create_token(session, workspace)
    assert (await post(server, hook.path(), {"title": "old token"})).status == 404
    assert (await post(server, f"/webhook/{hook.slug}/{fresh}", {"title": "new"})).status == 202
