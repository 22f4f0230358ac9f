"""Every connection pages both ways (`first/after` and `last/before`), and an incident's alerts
take the alert filter with a `totalCount` that counts what the filter kept.

Each document is sent twice: the first answer comes from the standard executor, the second
from the cached plan it taught (schema/plan); both must be the same, and right."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.storage.models import Alert, Report, WebhookDelivery
from gateway.domain.timeutil import utcnow
from gateway.service.app import EXECUTOR_KEY
from tests.support.data import Tenants, make_incident, make_note
from tests.support.server import Server

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


async def twice(server: Server, query: str, variables: dict[str, Any], key: str) -> Any:
    """The answer, checked to be the same from the standard executor and from the plan."""
    assert server.app is not None
    plans = server.app[EXECUTOR_KEY].plans
    first = await server.graphql(query, variables, key=key)
    assert "errors" not in first, first
    answered = plans.answered
    second = await server.graphql(query, variables, key=key)
    assert plans.answered == answered + 1, f"no plan answered {query}"
    assert second["data"] == first["data"], (query, variables)
    return first["data"]


FILTERED_ALERTS = """query($id: ID!, $filter: AlertFilter) { incident(id: $id) {
  alertCount
  alerts(filter: $filter) { totalCount nodes { id status severity } }
} }"""


async def test_an_incidents_alerts_take_the_alert_filter(
    server: Server, tenants: Tenants
) -> None:
    acme = tenants.acme
    incident, alerts = await make_incident(server.db, acme.workspace, alerts=5)
    resolved = [alert.id for alert in alerts[:2]]
    async with server.db.write() as session:
        await session.execute(
            update(Alert).where(col(Alert.id).in_(resolved)).values(status="resolved")
        )
    cases: list[tuple[dict[str, Any] | None, set[str]]] = [
        (None, {a.id for a in alerts}),
        ({}, {a.id for a in alerts}),
        ({"status": ["RESOLVED"]}, set(resolved)),
        ({"status": ["FIRING"], "severity": ["HIGH"]}, {a.id for a in alerts[2:]}),
        ({"severity": ["LOW"]}, set()),
        ({"query": "#3"}, {alerts[3].id}),
        ({"incidentId": incident.id}, {a.id for a in alerts}),
        # Another incident's id inside this incident's list matches nothing.
        ({"incidentId": acme.incidents[0].id}, set()),
    ]
    for flt, expected in cases:
        data = await twice(server, FILTERED_ALERTS, {"id": incident.id, "filter": flt}, acme.key)
        found = data["incident"]["alerts"]
        assert {node["id"] for node in found["nodes"]} == expected, flt
        assert found["totalCount"] == len(expected), flt
        assert data["incident"]["alertCount"] == 5


async def test_the_filter_applies_to_each_incident_of_a_page(
    server: Server, tenants: Tenants
) -> None:
    """One statement serves a whole page of incidents: each keeps its own filtered count."""
    acme = tenants.acme
    query = """{ incidents(first: 10) { nodes { id alertCount
      firing: alerts(filter: {status: [FIRING]}, first: 1) { totalCount nodes { id } }
      all: alerts(first: 1) { totalCount } } } }"""
    await make_incident(server.db, acme.workspace, status="resolved", alerts=3)
    data = await twice(server, query, {}, acme.key)
    nodes = data["incidents"]["nodes"]
    assert len(nodes) == len(acme.incidents) + 1
    for node in nodes:
        assert node["all"]["totalCount"] == node["alertCount"]
        resolved = node["id"] not in {i.id for i in acme.incidents}
        assert node["firing"]["totalCount"] == (0 if resolved else node["alertCount"])
        assert len(node["firing"]["nodes"]) == (0 if resolved else 1)


async def _deliveries_and_reports(server: Server, workspace_id: str) -> None:
    now = utcnow()
    async with server.db.write() as session:
        for index in range(3):
            session.add(WebhookDelivery(
                id=ids.new_id(ids.DELIVERY), workspace_id=workspace_id, status_code=202,
                received_at=now - timedelta(minutes=index), accepted=1,
            ))
            session.add(Report(
                id=ids.new_id(ids.REPORT), workspace_id=workspace_id, kind="sla",
                period_start=now - timedelta(days=7), period_end=now,
                created_at=now - timedelta(minutes=index),
            ))


# (name, the list's path in `data`, the document with {args} where the list's arguments go)
CONNECTIONS = [
    ("incidents", ("incidents",), "{ incidents({args}) { %s } }"),
    ("alerts", ("alerts",), "{ alerts({args}) { %s } }"),
    ("reports", ("reports",), "{ reports({args}) { %s } }"),
    ("workspaces", ("workspaces",), "{ workspaces({args}) { %s } }"),
    ("Incident.alerts", ("incident", "alerts"),
     "query($id: ID!) { incident(id: $id) { alerts({args}) { %s } } }"),
    ("Incident.notes", ("incident", "notes"),
     "query($id: ID!) { incident(id: $id) { notes({args}) { %s } } }"),
    ("Incident.timeline", ("incident", "timeline"),
     "query($id: ID!) { incident(id: $id) { timeline({args}) { %s } } }"),
    ("Workspace.incidents", ("workspace", "incidents"),
     "{ workspace { incidents({args}, orderBy: {field: NUMBER, direction: ASC}) { %s } } }"),
    ("Workspace.alerts", ("workspace", "alerts"), "{ workspace { alerts({args}) { %s } } }"),
    ("Workspace.webhookDeliveries", ("workspace", "webhookDeliveries"),
     "{ workspace { webhookDeliveries({args}) { %s } } }"),
]


async def _walk(
    server: Server, template: str, path: tuple[str, ...], key: str, variables: dict[str, Any],
    backward: bool,
) -> list[str]:
    """Every id of a list, one row per page, following the cursors one way."""
    args = "last: 1, before: $cursor" if backward else "first: 1, after: $cursor"
    query = template.replace("{args}", args) % f"totalCount {PAGE_INFO} nodes {{ id }}"
    declared = query.replace("query(", "query($cursor: String, ", 1) if query.startswith(
        "query(") else "query($cursor: String) " + query
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        data = await twice(server, declared, {**variables, "cursor": cursor}, key)
        for step in path:
            data = data[step]
        seen.extend(node["id"] for node in data["nodes"])
        assert len(data["nodes"]) <= 1
        more = data["pageInfo"]["hasPreviousPage" if backward else "hasNextPage"]
        if not more:
            assert data["totalCount"] == len(seen) or not seen
            return seen
        cursor = data["pageInfo"]["startCursor" if backward else "endCursor"]
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(("name", "path", "template"), CONNECTIONS, ids=[c[0] for c in CONNECTIONS])
async def test_every_connection_pages_both_ways(
    server: Server, tenants: Tenants, name: str, path: tuple[str, ...], template: str
) -> None:
    acme = tenants.acme
    incident, _ = await make_incident(server.db, acme.workspace, alerts=3)
    for body in ("one", "two", "three"):
        await make_note(server.db, incident, body)
    await _deliveries_and_reports(server, acme.id)
    key = tenants.mssp.key if name == "workspaces" else acme.key
    variables = {"id": incident.id} if "$id" in template else {}
    forward = await _walk(server, template, path, key, variables, backward=False)
    backward = await _walk(server, template, path, key, variables, backward=True)
    assert len(forward) >= 3, forward
    assert backward == forward[::-1]
