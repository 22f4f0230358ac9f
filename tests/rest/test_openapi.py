"""`/v1/openapi.json` describes every route of the table, states what each parameter and body
takes, links what creates or lists resources to what reads them, and its examples are valid.
Whether the server agrees: tests/rest/test_openapi_truth.py, and Schemathesis with every check in
tests/rest/test_schemathesis.py."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from rest_compat.routes import ROUTES
from tests.rest.conftest import Rest


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
    assert "409" in operations[("PATCH", "/v1/incidents/{id}")]["responses"]  # forward only
    assert spec["components"]["schemas"]["Incident"]["additionalProperties"] is False


def _parameters(spec: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in op["parameters"]:
        if "$ref" in item:
            item = spec["components"]["parameters"][item["$ref"].rsplit("/", 1)[-1]]
        out.append(item)
    return out


async def test_every_parameter_states_what_it_takes(rest: Rest) -> None:
    spec = (await rest.get("/v1/openapi.json")).body
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for param in _parameters(spec, op):
                schema = param["schema"]
                where = (method, path, param["name"])
                # A string without a pattern, length or enum would call anything valid.
                if schema.get("type") == "string":
                    assert "pattern" in schema and "maxLength" in schema, where
                else:
                    assert schema.get("type") == "integer" and "maximum" in schema, where
            if "requestBody" in op:
                media = op["requestBody"]["content"]["application/json"]
                validator = jsonschema_rs.Draft202012Validator(
                    {**media["schema"], "components": spec["components"]}
                )
                assert media.get("examples"), (method, path)
                for name, example in media["examples"].items():
                    assert validator.is_valid(example["value"]), (method, path, name)


async def test_links_lead_from_creating_and_listing_to_reading(rest: Rest) -> None:
    spec = (await rest.get("/v1/openapi.json")).body
    by_id = {
        op["operationId"]: (path, op)
        for path, item in spec["paths"].items()
        for op in item.values()
    }
    walks = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                for link in response.get("links", {}).values():
                    assert status.startswith("2"), (method, path, status)
                    target_path, target = by_id[link["operationId"]]
                    names = {p["name"] for p in _parameters(spec, target)}
                    assert set(link["parameters"]) <= names, link
                    walks.add((op["operationId"], link["operationId"]))
    # create -> read -> update chains Schemathesis's stateful phase can walk
    assert {
        ("ingestAlert", "getAlert"), ("ingestAlert", "getIncident"),
        ("getIncident", "updateIncident"),
        ("updateIncident", "addIncidentNote"), ("addIncidentNote", "incidentTimeline"),
        ("generateReport", "getReport"), ("listIncidents", "getIncident"),
        ("listWorkspaces", "getWorkspace"), ("listReports", "getReport"),
    } <= walks
