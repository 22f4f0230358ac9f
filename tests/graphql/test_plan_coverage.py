"""The cached execution plans (schema/plan/) answer every REST route's query operation and every
documented dashboard example (`bench.queries.DASHBOARD_EXAMPLES`, the T9 suite), and what does
fall back is visible: counted in `seliq_graphql_fallbacks_total{reason}` and logged once per
document, without its variables.

`KNOWN_FALLBACKS` is a ratchet: what still falls back today, with its reason. The test fails
when anything else falls back, and when something listed no longer does (take it off the list
then, and off docs/performance.md's list)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest

from bench.queries import DASHBOARD, DASHBOARD_EXAMPLES
from gateway.domain import ids
from gateway.domain.reports.content import build_sla
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report
from gateway.domain.timeutil import utcnow
from gateway.service.app import EXECUTOR_KEY, create_app
from rest_compat.routes import ROUTES
from schema.executor import GraphQLExecutor
from tests.support.data import Tenants, make_incident, make_note
from tests.support.metrics import scrape
from tests.support.server import GatewayTestServer

# name -> reason, for what still runs on the standard executor.
KNOWN_FALLBACKS: dict[str, str] = {}


class Gateway:
    def __init__(self, url: str, http: aiohttp.ClientSession, executor: GraphQLExecutor) -> None:
        self.url = url
        self.http = http
        self.executor = executor

    async def get(self, path: str, key: str) -> int:
        headers = {"Authorization": f"Bearer {key}"}
        async with self.http.get(f"{self.url}{path}", headers=headers) as response:
            await response.read()
            return response.status

    async def graphql(
        self, query: str, variables: dict[str, Any], name: str | None, key: str
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"}
        body = {"query": query, "variables": variables, "operationName": name}
        async with self.http.post(f"{self.url}/graphql", json=body, headers=headers) as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            assert "errors" not in answer, answer
            return answer

    async def fallbacks(self) -> dict[str, float]:
        return {
            sample.labels["reason"]: sample.value
            for sample in await scrape(self.http, self.url)
            if sample.name == "seliq_graphql_fallbacks_total"
        }


@asynccontextmanager
async def gateway(settings: Settings, db: Database) -> AsyncIterator[Gateway]:
    app = create_app(settings, db=db)
    server = GatewayTestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("")).rstrip("/")
            yield Gateway(url, http, app[EXECUTOR_KEY])
    finally:
        await server.close()


async def _report(db: Database, workspace_id: str) -> str:
    """A READY SLA report, its content built as the report worker builds it."""
    now = utcnow()
    async with db.write() as session:
        report = Report(
            id=ids.new_id(ids.REPORT), workspace_id=workspace_id, kind="sla", status="ready",
            period_start=now - timedelta(days=7), period_end=now + timedelta(minutes=1),
            created_at=now, started_at=now, completed_at=now,
        )
        report.content = await build_sla(session, report, now)
        session.add(report)
    return report.id


def _rest_cases(tenants: Tenants, report_id: str) -> dict[str, str]:
    incident = tenants.acme.incidents[0]
    return {
        "GET /v1/incidents": "/v1/incidents?limit=2",
        "GET /v1/incidents?status=...": "/v1/incidents?status=triggered&severity=high&limit=2",
        "GET /v1/incidents/{id}": f"/v1/incidents/{incident.id}",
        "GET /v1/incidents/{id}/timeline": f"/v1/incidents/{incident.id}/timeline?limit=2",
        "GET /v1/alerts": "/v1/alerts?status=firing&limit=3",
        "GET /v1/alerts/{id}": f"/v1/alerts/{tenants.acme.alerts[0].id}",
        "GET /v1/workspaces": "/v1/workspaces",
        "GET /v1/workspaces/{id}": f"/v1/workspaces/{tenants.acme.slug}",
        "GET /v1/reports": "/v1/reports",
        "GET /v1/reports/{id}": f"/v1/reports/{report_id}",
        "GET /v1/reports/{id}?format=markdown": f"/v1/reports/{report_id}?format=markdown",
    }


async def test_every_rest_query_and_dashboard_example_runs_from_a_plan(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    acme = tenants.acme
    await make_note(db, acme.incidents[0])
    for number in range(4):
        await make_incident(
            db, acme.workspace, title=f"disk full {number}", severity="critical",
            status="acknowledged", assignee="ana@soc.example",
        )
    report_id = await _report(db, acme.id)
    rest = _rest_cases(tenants, report_id)
    # Every GET route has a case here, so a new route is covered as soon as it is added.
    covered = {name.split("?")[0] for name in rest}
    assert {f"GET {r.path}" for r in ROUTES if r.method == "GET"} <= covered

    fell_back: dict[str, str] = {}
    async with gateway(settings, db) as gw:
        plans = gw.executor.plans

        async def twice(name: str, send: Any) -> None:
            await send()  # the standard executor runs it and the plan is learned
            before, answered = await gw.fallbacks(), plans.answered
            await send()
            after = await gw.fallbacks()
            grown = [reason for reason, n in after.items() if n > before.get(reason, 0)]
            if plans.answered == answered + 1 and not grown:
                return
            fell_back[name] = grown[0] if grown else "not learned"

        for name, path in rest.items():
            async def get(path: str = path) -> None:
                assert await gw.get(path, acme.key) == 200

            await twice(name, get)

        first = await gw.graphql(DASHBOARD, {"first": 2}, "Dashboard", acme.key)
        found = {
            "id": acme.incidents[0].id,
            "after": first["data"]["incidents"]["pageInfo"]["endCursor"],
            "assignee": "ana@soc.example",
        }
        for example in DASHBOARD_EXAMPLES:
            key = tenants.mssp.key if example.name == "MsspOverview" else acme.key
            if example.rest_path is not None:
                path = example.rest_path.format(first=2)

                async def rest_example(path: str = path, key: str = key) -> None:
                    assert await gw.get(path, key) == 200

                await twice(example.name, rest_example)
                continue
            body = orjson.loads(example.request(key, 2, found).body)

            async def send(body: dict[str, Any] = body, key: str = key) -> None:
                await gw.graphql(body["query"], body["variables"], body["operationName"], key)

            await twice(example.name, send)
    assert fell_back == KNOWN_FALLBACKS


UNSUPPORTED = """query WithUnsupported($secret: String) {
  incidents(first: 2, after: $secret) { nodes { id } }
  viewer { name workspace { id } }
}"""


async def test_fallbacks_are_counted_by_reason_and_logged_once_per_document(
    settings: Settings, db: Database, tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="seliq.plans")
    secret = "variable-text-that-must-not-be-logged"
    async with gateway(settings, db) as gw:
        variables = {"secret": None}
        await gw.graphql(UNSUPPORTED, variables, None, tenants.acme.key)  # learned: no plan
        assert await gw.fallbacks() == {}
        for _ in range(3):
            await gw.graphql(UNSUPPORTED, {"secret": None}, None, tenants.acme.key)
        assert (await gw.fallbacks()).get("unsupported_field") == 3
        # A document with a plan whose request needs the standard executor (a bad cursor).
        query = "query Paged($after: String) { incidents(first: 1, after: $after) { nodes {id} } }"
        await gw.graphql(query, {}, "Paged", tenants.acme.key)
        for _ in range(2):
            headers = {"Authorization": f"Bearer {tenants.acme.key}"}
            body = {"query": query, "variables": {"after": secret}, "operationName": "Paged"}
            async with gw.http.post(f"{gw.url}/graphql", json=body, headers=headers) as response:
                assert (await response.json())["errors"][0]["extensions"]["code"] == (
                    "BAD_USER_INPUT"
                )
        assert (await gw.fallbacks()).get("error") == 2
    warnings = [r for r in caplog.records if r.name == "seliq.plans"]
    assert [(r.__dict__["operation"], r.__dict__["reason"]) for r in warnings] == [
        (None, "unsupported_field"), ("Paged", "error"),
    ]
    assert all(secret not in r.getMessage() for r in warnings)
