"""Tenancy matrix: a key sees its acting workspace only; an MSSP key reaches its customers with
X-Workspace-ID; a customer key never sees its MSSP, its siblings, or anyone else."""

from __future__ import annotations

import pytest

from gateway.domain.reports import service as reports
from gateway.domain.storage.engine import Database
from tests.support.data import Tenants, make_note
from tests.support.server import Server

BY_ID_FIELDS = ("incident", "alert", "report", "node")


async def _report_id(db: Database, workspace_id: str) -> str:
    async with db.write() as session:
        row = await reports.request_report(session, workspace_id, "sla", None, None, "test")
    return row.id


async def _foreign_ids(server: Server, tenants: Tenants) -> dict[str, str]:
    """One id of each kind belonging to `other`."""
    other = tenants.other
    note = await make_note(server.db, other.incidents[0])
    body = await server.graphql(
        "query($id: ID!) { incident(id: $id) { timeline(first: 1) { nodes { id } } } }",
        {"id": other.incidents[0].id},
        key=other.key,
    )
    event_id = body["data"]["incident"]["timeline"]["nodes"][0]["id"]
    return {
        "incident": other.incidents[0].id,
        "alert": other.alerts[0].id,
        "note": note.id,
        "event": event_id,
        "report": await _report_id(server.db, other.id),
        "workspace": other.id,
    }


async def test_other_tenants_ids_are_null_everywhere(server: Server, tenants: Tenants) -> None:
    foreign = await _foreign_ids(server, tenants)
    for kind, foreign_id in foreign.items():
        body = await server.graphql(
            "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }",
            {"id": foreign_id},
            key=tenants.acme.key,
        )
        assert body["data"] == {"node": None, "nodes": [None]}, kind
    for field in ("incident", "alert", "report"):
        body = await server.graphql(
            f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}", {"id": foreign[field]},
            key=tenants.acme.key,
        )
        assert body["data"] == {field: None}
    body = await server.graphql(
        "query($id: ID!) { workspace(id: $id) { id } }", {"id": foreign["workspace"]},
        key=tenants.acme.key,
    )
    assert body["data"] == {"workspace": None}
    body = await server.graphql(
        '{ workspace(id: "other") { id } }', key=tenants.acme.key
    )
    assert body["data"] == {"workspace": None}


async def test_lists_hold_only_the_acting_workspace(server: Server, tenants: Tenants) -> None:
    for tenant in tenants.all():
        await _report_id(server.db, tenant.id)
    for tenant in tenants.all():
        body = await server.graphql(
            "{ incidents { nodes { id workspace { id } alerts { nodes { id workspace { id } } } } }"
            "  alerts { nodes { id workspace { id } incident { id } } }"
            "  reports { nodes { id workspace { id } } } }",
            key=tenant.key,
        )
        data = body["data"]
        assert {n["id"] for n in data["incidents"]["nodes"]} == {i.id for i in tenant.incidents}
        assert {n["id"] for n in data["alerts"]["nodes"]} == {a.id for a in tenant.alerts}
        workspace_ids = {n["workspace"]["id"] for n in data["incidents"]["nodes"]}
        workspace_ids |= {n["workspace"]["id"] for n in data["alerts"]["nodes"]}
        workspace_ids |= {n["workspace"]["id"] for n in data["reports"]["nodes"]}
        for incident in data["incidents"]["nodes"]:
            workspace_ids |= {a["workspace"]["id"] for a in incident["alerts"]["nodes"]}
        assert workspace_ids == {tenant.id}
        assert len(data["reports"]["nodes"]) == 1


async def test_mssp_reaches_children_only_with_header(server: Server, tenants: Tenants) -> None:
    query = "{ viewer { actingWorkspace { slug } } incidents { nodes { id } } }"
    own = await server.graphql(query, key=tenants.mssp.key)
    assert {n["id"] for n in own["data"]["incidents"]["nodes"]} == {
        i.id for i in tenants.mssp.incidents
    }
    for child in (tenants.acme, tenants.globex):
        for ref in (child.id, child.slug):
            body = await server.graphql(query, key=tenants.mssp.key, workspace=ref)
            assert body["data"]["viewer"]["actingWorkspace"]["slug"] == child.slug
            assert {n["id"] for n in body["data"]["incidents"]["nodes"]} == {
                i.id for i in child.incidents
            }
    # The MSSP's own incidents are not visible while acting on a child.
    body = await server.graphql(
        "query($id: ID!) { incident(id: $id) { id } }", {"id": tenants.mssp.incidents[0].id},
        key=tenants.mssp.key, workspace=tenants.acme.slug,
    )
    assert body["data"]["incident"] is None


async def test_mssp_workspaces_list_and_tree(server: Server, tenants: Tenants) -> None:
    body = await server.graphql(
        "{ workspaces { totalCount nodes { slug parent { slug } children { slug } } } }",
        key=tenants.mssp.key,
    )
    nodes = {n["slug"]: n for n in body["data"]["workspaces"]["nodes"]}
    assert set(nodes) == {"mssp", "acme", "globex"}
    assert body["data"]["workspaces"]["totalCount"] == 3
    assert {c["slug"] for c in nodes["mssp"]["children"]} == {"acme", "globex"}
    assert nodes["acme"]["parent"] == {"slug": "mssp"}


async def test_customer_never_sees_its_mssp_or_siblings(server: Server, tenants: Tenants) -> None:
    body = await server.graphql(
        "{ workspaces { nodes { slug } } workspace { slug parent { slug } children { slug } } "
        "  viewer { workspace { parent { id } } } }",
        key=tenants.acme.key,
    )
    assert body["data"]["workspaces"]["nodes"] == [{"slug": "acme"}]
    assert body["data"]["workspace"] == {"slug": "acme", "parent": None, "children": []}
    assert body["data"]["viewer"]["workspace"]["parent"] is None
    for ref in ("mssp", tenants.mssp.id, "globex", tenants.globex.id):
        body = await server.graphql(
            "query($id: ID!) { workspace(id: $id) { id } }", {"id": ref}, key=tenants.acme.key
        )
        assert body["data"]["workspace"] is None


@pytest.mark.parametrize("ref", ["mssp", "globex", "other", "does-not-exist", "ws_01nothere"])
async def test_forbidden_workspace_header_same_body(
    server: Server, tenants: Tenants, ref: str
) -> None:
    body = await server.graphql(
        "{ viewer { id } }", key=tenants.acme.key, workspace=ref, expect_status=403
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "this API key may not act on that workspace"
    assert "data" not in body


async def test_workspace_connection_of_a_child_is_scoped(server: Server, tenants: Tenants) -> None:
    body = await server.graphql(
        "{ workspace(id: \"acme\") { incidents { nodes { id } } alerts { nodes { id } } } }",
        key=tenants.mssp.key,
    )
    ws = body["data"]["workspace"]
    assert {n["id"] for n in ws["incidents"]["nodes"]} == {i.id for i in tenants.acme.incidents}
    assert {n["id"] for n in ws["alerts"]["nodes"]} == {a.id for a in tenants.acme.alerts}


async def test_wrong_type_id_is_null(server: Server, tenants: Tenants) -> None:
    alert_id = tenants.acme.alerts[0].id
    body = await server.graphql(
        "query($id: ID!) { incident(id: $id) { id } report(id: $id) { id } "
        "node(id: \"garbage\") { id } }",
        {"id": alert_id}, key=tenants.acme.key,
    )
    assert body["data"] == {"incident": None, "report": None, "node": None}
    body = await server.graphql(
        "query($id: ID!) { node(id: $id) { __typename id } }", {"id": alert_id},
        key=tenants.acme.key,
    )
    assert body["data"]["node"] == {"__typename": "Alert", "id": alert_id}
