"""`/v1/openapi.json` describes every route of the table, and Schemathesis, driven by it against
the real server, finds no 5xx and no response that breaks the documented schema."""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Workspace
from rest_compat.routes import ROUTES
from tests.rest.conftest import Rest
from tests.support.data import Tenants
from tests.support.server import Server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


async def test_openapi_document(rest: Rest) -> None:
    answer = await rest.get("/v1/openapi.json")  # public: no key needed
    assert answer.status == 200
    spec = answer.body
    assert spec["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    assert set(operations) == {(route.method, route.path) for route in ROUTES}
    operation_ids = [op["operationId"] for op in operations.values()]
    assert len(set(operation_ids)) == len(operation_ids)
    for (method, path), op in operations.items():
        assert {"400", "401", "403", "500"} <= set(op["responses"]), (method, path)
        if "{id}" in path:
            assert "404" in op["responses"]
            assert any(p.get("in") == "path" and p["name"] == "id" for p in op["parameters"])
        if method != "GET":
            assert "422" in op["responses"] and "requestBody" in op
    list_incidents = operations[("GET", "/v1/incidents")]
    names = {p["name"] for p in list_incidents["parameters"] if "name" in p}
    assert names == {
        "status", "severity", "assignee", "q", "created_after", "created_before", "limit", "cursor"
    }
    assert operations[("POST", "/v1/reports")]["responses"]["202"]
    assert operations[("POST", "/v1/incidents/{id}/notes")]["responses"]["201"]
    assert "409" in operations[("GET", "/v1/reports/{id}")]["responses"]
    assert spec["components"]["schemas"]["Incident"]["additionalProperties"] is False


def run_schemathesis(
    spec: dict[str, Any], base_url: str, key: str, ids: dict[str, list[str]]
) -> int:
    """Drive every operation with generated requests (blocking: runs in a worker thread)."""
    schema = schemathesis.openapi.from_dict(spec)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    calls = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document loads without errors
        operation = result.ok()
        real_ids = next(
            (pool for prefix, pool in ids.items() if operation.path.startswith(prefix)), []
        )
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(
                case=operation.as_strategy(generation_mode=mode),
                real_id=st.sampled_from([None, *real_ids]),
            )
            def check(case: Any, real_id: str | None) -> None:
                nonlocal calls
                if real_id is not None and case.path_parameters and "id" in case.path_parameters:
                    case.path_parameters["id"] = real_id  # reach past the 404 to the real work
                response = case.call(base_url=base_url, session=session, timeout=10)
                calls += 1
                case.validate_response(response, checks=CHECKS)

            check()
    return calls


async def test_schemathesis(rest: Rest, server: Server, db: Database, tenants: Tenants) -> None:
    spec = (await rest.get("/v1/openapi.json")).body
    acme = tenants.acme
    async with db.write() as session:  # rate limits are not what this run is about
        workspace = await session.get(Workspace, acme.id)
        assert workspace is not None
        workspace.rate_limit_per_minute = 1_000_000
        session.add(workspace)
    report = await rest.post("/v1/reports", key=acme.key, json={"kind": "sla"})
    ids = {
        "/v1/incidents/": [i.id for i in acme.incidents],
        "/v1/alerts/": [a.id for a in acme.alerts],
        "/v1/workspaces/": [acme.id, acme.slug],
        "/v1/reports/": [report.body["id"]],
    }
    calls = await asyncio.to_thread(run_schemathesis, spec, server.url, acme.key, ids)
    assert calls >= len(ROUTES) * 2 * 10
