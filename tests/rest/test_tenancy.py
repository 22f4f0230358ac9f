"""The tenancy matrix over REST: another workspace's ids are 404 on every route with an id,
`X-Workspace-ID` follows the same rules as for GraphQL, and lists never leak another tenant."""

from __future__ import annotations

from typing import Any

import pytest

from rest_compat.routes import ROUTES
from tests.rest.conftest import Rest
from tests.support.data import Tenant, Tenants

ID_ROUTES = [route for route in ROUTES if "{id}" in route.path]
LIST_ROUTES = [route for route in ROUTES if route.method == "GET" and "{id}" not in route.path]
WRITE_ROUTES = [route for route in ROUTES if route.method != "GET"]

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/incidents/{id}"): {"status": "acknowledged", "assignee": "mallory"},
    ("POST", "/v1/incidents/{id}/notes"): {"body": "pwned"},
    ("POST", "/v1/reports"): {"kind": "sla"},
}


def body_for(method: str, path: str) -> Any:
    return BODIES.get((method, path)) if method != "GET" else None


async def foreign_id(rest: Rest, path: str, owner: Tenant) -> str:
    """An id of `owner`'s for the kind of object `path` names."""
    if path.startswith("/v1/alerts/"):
        return owner.alerts[0].id
    if path.startswith("/v1/workspaces/"):
        return owner.id
    if path.startswith("/v1/reports/"):
        answer = await rest.post("/v1/reports", key=owner.key, json={"kind": "sla"})
        assert answer.status == 202
        return str(answer.body["id"])
    return owner.incidents[0].id


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_another_workspaces_ids_are_404(rest: Rest, tenants: Tenants, route: Any) -> None:
    for owner in (tenants.globex, tenants.other, tenants.mssp):
        ident = await foreign_id(rest, route.path, owner)
        if route.path == "/v1/workspaces/{id}" and owner is tenants.mssp:
            ident = owner.slug  # by slug as well as by id
        path = route.path.replace("{id}", ident)
        answer = await rest.call(
            route.method, path, key=tenants.acme.key, json=body_for(route.method, route.path)
        )
        assert answer.status == 404, (route.method, path, answer.body)
        assert answer.error["code"] == "not_found"
        # Nothing of the owner's changed.
        if route.method != "GET":
            incident = await rest.get(f"/v1/incidents/{owner.incidents[0].id}", key=owner.key)
            assert incident.body["status"] == "triggered" and incident.body["assignee"] is None
            timeline = await rest.get(
                f"/v1/incidents/{owner.incidents[0].id}/timeline", key=owner.key
            )
            assert len(timeline.body["data"]) == 3


async def test_mssp_acts_on_its_customers(rest: Rest, tenants: Tenants) -> None:
    key = tenants.mssp.key
    for ref in ("acme", tenants.acme.id):
        listed = await rest.get("/v1/incidents", key=key, workspace=ref)
        assert listed.status == 200
        assert {i["id"] for i in listed.body["data"]} == {i.id for i in tenants.acme.incidents}
        assert {i["workspace_id"] for i in listed.body["data"]} == {tenants.acme.id}
    incident = tenants.globex.incidents[0]
    path = f"/v1/incidents/{incident.id}"
    assert (await rest.get(path, key=key, workspace="globex")).status == 200
    patched = await rest.patch(path, key=key, workspace="globex", json={"assignee": "soc-1"})
    assert patched.status == 200 and patched.body["assignee"] == "soc-1"
    note = await rest.post(f"{path}/notes", key=key, workspace="globex", json={"body": "on it"})
    assert note.status == 201 and note.body["workspace_id"] == tenants.globex.id
    report = await rest.post("/v1/reports", key=key, workspace="globex", json={"kind": "sla"})
    assert report.status == 202 and report.body["workspace_id"] == tenants.globex.id
    alerts = await rest.get("/v1/alerts", key=key, workspace="globex")
    assert {a["id"] for a in alerts.body["data"]} == {a.id for a in tenants.globex.alerts}
    # Without the header the MSSP acts on its own workspace: the customer's incident is not there.
    assert (await rest.get(path, key=key)).status == 404
    # The workspace a request acts on does not change what `/v1/workspaces` lists.
    listed = await rest.get("/v1/workspaces", key=key, workspace="acme")
    assert {w["slug"] for w in listed.body["data"]} == {"mssp", "acme", "globex"}


async def test_workspace_header_outside_the_tree_is_403(rest: Rest, tenants: Tenants) -> None:
    """acme may not act on its MSSP, its sibling, an unrelated workspace or one that does not
    exist: 403 on every route, byte for byte the same body each time."""
    bodies = set()
    for route in ROUTES:
        path = route.path.replace("{id}", tenants.acme.incidents[0].id)
        for ref in ("mssp", tenants.globex.id, "other", "no-such-workspace", "ws_doesnotexist"):
            answer = await rest.call(
                route.method, path, key=tenants.acme.key, workspace=ref,
                json=body_for(route.method, route.path), headers={"X-Request-ID": "same-id"},
            )
            assert answer.status == 403, (route.method, route.path, ref, answer.body)
            assert answer.error["code"] == "forbidden"
            bodies.add(answer.raw)
    assert len(bodies) == 1


async def test_customer_key_acts_on_itself_by_header(rest: Rest, tenants: Tenants) -> None:
    for ref in ("acme", tenants.acme.id):
        answer = await rest.get("/v1/incidents", key=tenants.acme.key, workspace=ref)
        assert answer.status == 200 and len(answer.body["data"]) == 3


async def test_lists_never_contain_another_tenants_rows(rest: Rest, tenants: Tenants) -> None:
    for tenant in tenants.all():
        created = await rest.post("/v1/reports", key=tenant.key, json={"kind": "sla"})
        assert created.status == 202
    tree = {
        "mssp": {tenants.mssp.id, tenants.acme.id, tenants.globex.id},
        "acme": {tenants.acme.id},
        "globex": {tenants.globex.id},
        "other": {tenants.other.id},
    }
    for route in LIST_ROUTES:
        for tenant in tenants.all():
            answer = await rest.get(route.path, key=tenant.key, params={"limit": "100"})
            assert answer.status == 200
            items = answer.body["data"]
            assert items, route.path
            workspace_ids = {item["workspace_id"] for item in items}
            if route.path == "/v1/workspaces":
                assert workspace_ids == tree[tenant.slug]
            else:
                assert workspace_ids == {tenant.id}, (route.path, tenant.slug)
            if route.path == "/v1/incidents":
                assert {i["id"] for i in items} == {i.id for i in tenant.incidents}
            if route.path == "/v1/alerts":
                assert {a["id"] for a in items} == {a.id for a in tenant.alerts}
