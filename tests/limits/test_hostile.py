"""Hostile input against the real server: each gets its documented answer before anything runs,
and the server answers a normal query right after."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.data import Tenants
from tests.support.server import Server

NORMAL = "{ incidents(first: 1) { totalCount } }"


def _deep(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"incident {{ alerts(first: 1) {{ nodes {{ {inner} }} }} }}"
    return "{ alerts(first: 1) { nodes { " + inner + " } } }"


def _fragment_bomb() -> str:
    # Each fragment doubles the previous one: 2^12 copies of `id` after expansion.
    parts = ["fragment F0 on Incident { id title }"]
    for index in range(1, 13):
        parts.append(f"fragment F{index} on Incident {{ ...F{index - 1} ...F{index - 1} }}")
    return "{ incidents(first: 100) { nodes { ...F12 } } } " + " ".join(parts)


HOSTILE: list[tuple[str, dict[str, Any], int, str]] = [
    ("deep query", {"query": _deep(12)}, 200, "GRAPHQL_VALIDATION_FAILED"),
    ("alias bomb", {"query": "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(16)) + " }"},
     200, "GRAPHQL_VALIDATION_FAILED"),
    ("circular fragments", {"query": "{ viewer { ...A } } fragment A on Viewer { ...B } "
                                     "fragment B on Viewer { ...A }"},
     200, "GRAPHQL_VALIDATION_FAILED"),
    ("token flood", {"query": "{ viewer { " + "id " * 2500 + "} }"}, 200,
     "GRAPHQL_VALIDATION_FAILED"),
    ("100x100x100", {"query": "{ incidents(first: 100) { nodes { alerts(first: 100) { nodes { "
                              "incident { timeline(first: 100) { nodes { id } } } } } } } }"},
     200, "COST_LIMIT"),
    ("first: 101", {"query": "{ incidents(first: 101) { totalCount } }"}, 200,
     "GRAPHQL_VALIDATION_FAILED"),
    ("first: -1", {"query": "{ alerts(first: -1) { totalCount } }"}, 200,
     "GRAPHQL_VALIDATION_FAILED"),
    ("too many ids", {"query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                      "variables": {"ids": [f"inc_{i}" for i in range(101)]}},
     200, "GRAPHQL_VALIDATION_FAILED"),
    ("huge input list", {"query": "query($s: [IncidentStatus!]) { incidents(filter: "
                                  "{status: $s}) { totalCount } }",
                         "variables": {"s": ["TRIGGERED"] * 251}},
     200, "GRAPHQL_VALIDATION_FAILED"),
    ("too many characters", {"query": "{ viewer { id } }" + " " * 15_001}, 200,
     "GRAPHQL_VALIDATION_FAILED"),
    ("ambiguous operation", {"query": "query A { viewer { id } } query B { viewer { id } }"},
     200, "GRAPHQL_VALIDATION_FAILED"),
]


@pytest.mark.parametrize(("name", "payload", "status", "code"), HOSTILE,
                         ids=[case[0] for case in HOSTILE])
async def test_hostile_query_is_refused(
    server: Server, tenants: Tenants, name: str, payload: dict[str, Any], status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {tenants.mssp.key}"}
    async with server.http.post(f"{server.url}/graphql", json=payload, headers=headers) as resp:
        assert resp.status == status, name
        body = await resp.json()
    assert body.get("data") is None, name
    assert body["errors"][0]["extensions"]["code"] == code, body
    assert body["errors"][0]["message"]
    after = await server.graphql(NORMAL, key=tenants.mssp.key)
    assert after["data"]["incidents"]["totalCount"] == 3


async def test_fragment_multiplication_is_bounded(server: Server, tenants: Tenants) -> None:
    headers = {"Authorization": f"Bearer {tenants.mssp.key}"}
    async with server.http.post(
        f"{server.url}/graphql", json={"query": _fragment_bomb()}, headers=headers
    ) as resp:
        body = await resp.json()
    # Either refused, or answered with one copy per field (fields merge): never 4096 copies.
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] in {
            "GRAPHQL_VALIDATION_FAILED", "COST_LIMIT"
        }
    else:
        assert body["data"]["incidents"]["nodes"][0].keys() == {"id", "title"}
    after = await server.graphql(NORMAL, key=tenants.mssp.key)
    assert after["data"]["incidents"]["totalCount"] == 3


@pytest.mark.parametrize(
    ("name", "kwargs", "status"),
    [
        ("batch array", {"json": [{"query": NORMAL}, {"query": NORMAL}]}, 400),
        ("wrong content type", {"data": NORMAL, "headers": {"Content-Type": "text/plain"}}, 415),
        ("form content type", {"data": {"query": NORMAL}}, 415),
        ("oversized body", {"json": {"query": NORMAL, "variables": {"x": "a" * 1_100_000}}},
         413),
        ("huge variables", {"json": {"query": NORMAL, "variables": {
            f"v{i}": "x" * 1000 for i in range(900)}}}, 200),
    ],
)
async def test_hostile_http_is_refused(
    server: Server, tenants: Tenants, name: str, kwargs: dict[str, Any], status: int
) -> None:
    extra = kwargs.pop("headers", {})
    headers = {"Authorization": f"Bearer {tenants.mssp.key}", **extra}
    async with server.http.post(f"{server.url}/graphql", headers=headers, **kwargs) as resp:
        assert resp.status == status, name
        body = await resp.json()
    if status != 200:  # every refusal on /graphql is GraphQL-shaped, with a request id
        assert body["errors"][0]["extensions"]["request_id"], body
    if status == 413:
        assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE", body
    after = await server.graphql(NORMAL, key=tenants.mssp.key)
    assert after["data"]["incidents"]["totalCount"] == 3


async def test_get_mutation_is_405(server: Server, tenants: Tenants) -> None:
    headers = {"Authorization": f"Bearer {tenants.mssp.key}"}
    mutation = 'mutation { generateReport(input: {kind: SLA}) { report { id } } }'
    async with server.http.get(
        f"{server.url}/graphql", params={"query": mutation}, headers=headers
    ) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST"
    after = await server.graphql(NORMAL, key=tenants.mssp.key)
    assert after["data"]["incidents"]["totalCount"] == 3


async def test_no_suggestions_for_unauthenticated(server: Server) -> None:
    body = await server.graphql("{ incidnt { id } }", expect_status=401)
    assert "Did you mean" not in str(body)


async def test_limits_are_settable(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SELIQ_QUERY_MAX_* settings reach the checks: a depth of 3 refuses what 10 allows."""
    from gateway.domain.settings import load_settings
    from gateway.service.app import query_limits

    monkeypatch.setenv("SELIQ_QUERY_MAX_DEPTH", "3")
    monkeypatch.setenv("SELIQ_QUERY_MAX_ALIASES", "2")
    limits = query_limits(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert (limits.max_depth, limits.max_aliases, limits.max_nodes) == (3, 2, 10_000)

    from graphql import parse

    from schema.build import build_schema
    from schema.limits import LimitExceeded, analyse

    schema = build_schema(limits)._schema
    with pytest.raises(LimitExceeded, match="deeper than 3"):
        analyse(schema, parse(_deep(2)), None, None, limits)
