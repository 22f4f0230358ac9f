"""`node(id:)` resolves every id the API prints: a walk over everything a key can read feeds
each id back to `node` and `nodes`. The prefixes beyond the contract's: `key_` (the calling key,
as the Viewer, and no other key), `dlv_` (a webhook delivery of the acting workspace), and `whk_`
(a webhook token's id, printed by the CLI only), which is null for everyone. Tenancy holds for
the new kinds as for the others: another workspace's id is null."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.domain.reports import service as reports
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Workspace
from gateway.domain.tenancy.webhook_tokens import create_token
from tests.support.data import Tenant, Tenants, make_note
from tests.support.server import Server

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Viewer { name scope workspace { id } }
    ... on WebhookDelivery { statusCode accepted alertIds }
  }
  nodes(ids: [$id]) { __typename id }
}
"""

# Every id-bearing field a key can read, one level of each relation deep.
EVERYTHING = """
{
  viewer { id workspace { id } actingWorkspace { id } }
  workspace {
    id
    webhookDeliveries { nodes { id alertIds incidentIds } }
    children { id }
  }
  workspaces { nodes { id } }
  incidents {
    nodes {
      id workspace { id }
      alerts { nodes { id incident { id } } }
      timeline { nodes { id incident { id } } }
      notes { nodes { id incident { id } } }
    }
  }
  alerts { nodes { id incident { id } workspace { id } } }
  reports { nodes { id workspace { id } } }
}
"""


def _ids(value: Any) -> set[str]:
    """Every value of an `id`, `...Id` or `...Ids` key in a GraphQL result."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" or key.endswith("Id"):
                if isinstance(item, str):
                    found.add(item)
            elif key.endswith("Ids") and isinstance(item, list):
                found.update(item)
            else:
                found |= _ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= _ids(item)
    return found


async def _deliver(server: Server, db: Database, tenant: Tenant, title: str) -> str:
    """One accepted webhook delivery into `tenant`'s workspace (header auth); its `dlv_` id."""
    async with db.write() as session:
        workspace = await session.get(Workspace, tenant.id)
        assert workspace is not None
        _, token = await create_token(session, workspace)
    async with server.http.post(
        f"{server.url}/webhook/{tenant.slug}",
        data=orjson.dumps({"title": title, "labels": {"host": "h"}}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 202, await response.text()
    body = await server.graphql(
        "{ workspace { webhookDeliveries(first: 1) { nodes { id } } } }", key=tenant.key
    )
    delivery_id: str = body["data"]["workspace"]["webhookDeliveries"]["nodes"][0]["id"]
    assert delivery_id.startswith("dlv_")
    return delivery_id


async def _node(
    server: Server, node_id: str, key: str, workspace: str | None = None
) -> dict[str, Any] | None:
    body = await server.graphql(NODE, {"id": node_id}, key=key, workspace=workspace)
    assert "errors" not in body, body
    node, (listed,) = body["data"]["node"], body["data"]["nodes"]
    assert (listed is None) == (node is None), body
    if node is not None:
        assert (listed["__typename"], listed["id"]) == (node["__typename"], node["id"])
    return node  # type: ignore[no-any-return]


async def test_every_printed_id_resolves(
    server: Server, db: Database, tenants: Tenants
) -> None:
    acme = tenants.acme
    await _deliver(server, db, acme, "Through the webhook")
    await make_note(db, acme.incidents[0])
    async with db.write() as session:
        await reports.request_report(session, acme.id, "sla", None, None, "test")
    body = await server.graphql(EVERYTHING, key=acme.key)
    assert "errors" not in body, body
    printed = _ids(body["data"])
    prefixes = {value.split("_", 1)[0] for value in printed}
    assert prefixes == {"ws", "inc", "alt", "evt", "note", "rpt", "key", "dlv"}, prefixes
    for printed_id in sorted(printed):
        node = await _node(server, printed_id, acme.key)
        assert node is not None and node["id"] == printed_id, printed_id


async def test_key_id_is_the_viewer_and_only_the_calling_key(
    server: Server, tenants: Tenants
) -> None:
    acme = tenants.acme
    viewer = (await server.graphql("{ viewer { id name scope } }", key=acme.key))["data"]
    own_id = viewer["viewer"]["id"]
    assert own_id.startswith("key_")
    node = await _node(server, own_id, acme.key)
    assert node == {
        "__typename": "Viewer", "id": own_id, "name": viewer["viewer"]["name"],
        "scope": "WRITE", "workspace": {"id": acme.id},
    }
    # Acting on a customer, an MSSP key still resolves its own id (it is still the caller).
    mssp_id = (await server.graphql("{ viewer { id } }", key=tenants.mssp.key))["data"]
    mssp_node = await _node(server, mssp_id["viewer"]["id"], tenants.mssp.key, workspace="acme")
    assert mssp_node is not None and mssp_node["workspace"] == {"id": tenants.mssp.id}

    # Another key's id is null: its own workspace's read key, the MSSP above, anyone else.
    for other_key in (acme.read_key, tenants.mssp.key, tenants.other.key):
        other = (await server.graphql("{ viewer { id } }", key=other_key))["data"]
        assert await _node(server, other["viewer"]["id"], acme.key) is None
        # ...and the other key does not see acme's key either.
        assert await _node(server, own_id, other_key) is None


async def test_delivery_ids_follow_the_acting_workspace(
    server: Server, db: Database, tenants: Tenants
) -> None:
    acme_delivery = await _deliver(server, db, tenants.acme, "Acme delivery")
    node = await _node(server, acme_delivery, tenants.acme.key)
    assert node is not None and node["__typename"] == "WebhookDelivery"
    assert node["statusCode"] == 202 and node["accepted"] == 1
    assert len(node["alertIds"]) == 1
    # A read key of the workspace reads it too.
    assert await _node(server, acme_delivery, tenants.acme.read_key) is not None

    # Another workspace's delivery is null, exactly like its incidents: a sibling, an unrelated
    # workspace, and the MSSP acting on its own workspace.
    for key in (tenants.globex.key, tenants.other.key, tenants.mssp.key):
        assert await _node(server, acme_delivery, key) is None
    # The MSSP acting on acme (X-Workspace-ID) reaches it, as it reaches acme's incidents.
    reached = await _node(server, acme_delivery, tenants.mssp.key, workspace="acme")
    assert reached is not None and reached["id"] == acme_delivery
    # A customer never reaches its MSSP's deliveries.
    mssp_delivery = await _deliver(server, db, tenants.mssp, "MSSP delivery")
    assert await _node(server, mssp_delivery, tenants.acme.key) is None
    assert await _node(server, mssp_delivery, tenants.mssp.key) is not None


async def test_webhook_token_ids_and_tokens_are_null(
    server: Server, db: Database, tenants: Tenants
) -> None:
    async with db.write() as session:
        workspace = await session.get(Workspace, tenants.acme.id)
        assert workspace is not None
        row, token = await create_token(session, workspace)
    assert row.id.startswith("whk_") and token.startswith("whk_")
    for value in (row.id, token, "whk_" + "0" * 26, "dlv_" + "0" * 26, "key_" + "0" * 26):
        assert await _node(server, value, tenants.acme.key) is None, value
