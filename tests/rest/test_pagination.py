"""Walking a list by `next_cursor` returns every row exactly once, in the GraphQL order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.domain.storage.engine import Database
from gateway.domain.timeutil import utcnow
from tests.rest.conftest import Rest
from tests.support.data import Tenants, make_incident
from tests.support.server import Server


async def walk(rest: Rest, path: str, key: str, limit: int, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": str(limit), **params}
        if cursor:
            query["cursor"] = cursor
        answer = await rest.get(path, key=key, params=query)
        assert answer.status == 200, answer.body
        page = answer.body
        pages += 1
        assert len(page["data"]) <= limit
        assert page["pagination"]["limit"] == limit
        items.extend(page["data"])
        if not page["pagination"]["has_more"]:
            assert page["pagination"]["next_cursor"] is None
            return items
        assert len(page["data"]) == limit
        cursor = page["pagination"]["next_cursor"]
        assert isinstance(cursor, str) and cursor
        assert pages < 100


async def test_walk_incidents(rest: Rest, server: Server, db: Database, tenants: Tenants) -> None:
    start = utcnow() - timedelta(hours=5)
    same_time = start + timedelta(hours=1)
    for index in range(8):
        # Several rows share a timestamp: the id breaks ties, so none repeats or vanishes.
        created = same_time if index % 2 else start + timedelta(minutes=index)
        await make_incident(
            db, tenants.acme.workspace, title=f"walk {index}", alerts=1, created_at=created,
            status="acknowledged" if index % 3 == 0 else "triggered",
        )
    key = tenants.acme.key
    data = await server.graphql("{ incidents(first: 100) { nodes { id } } }", key=key)
    expected = [node["id"] for node in data["data"]["incidents"]["nodes"]]
    assert len(expected) == 11
    for limit in (1, 2, 3, 10, 11, 50):
        items = await walk(rest, "/v1/incidents", key, limit)
        assert [item["id"] for item in items] == expected

    # Filters stay applied across pages.
    acked = await walk(rest, "/v1/incidents", key, 1, status="acknowledged")
    assert len(acked) == 3
    assert {item["status"] for item in acked} == {"acknowledged"}


async def test_walk_alerts_timeline_workspaces_reports(
    rest: Rest, db: Database, tenants: Tenants
) -> None:
    key = tenants.acme.key
    incident, _ = await make_incident(db, tenants.acme.workspace, title="noisy", alerts=6)
    alerts = await walk(rest, "/v1/alerts", key, 4)
    assert len(alerts) == len({a["id"] for a in alerts}) == 12

    events = await walk(rest, f"/v1/incidents/{incident.id}/timeline", key, 2)
    assert len(events) == len({e["id"] for e in events}) == 7
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)

    workspaces = await walk(rest, "/v1/workspaces", tenants.mssp.key, 1)
    assert sorted(w["slug"] for w in workspaces) == ["acme", "globex", "mssp"]

    created = []
    for _ in range(5):
        answer = await rest.post("/v1/reports", key=key, json={"kind": "sla"})
        created.append(answer.body["id"])
    reports = await walk(rest, "/v1/reports", key, 2)
    assert [r["id"] for r in reports] == list(reversed(created))
