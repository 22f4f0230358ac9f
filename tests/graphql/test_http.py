"""GraphQL over HTTP: auth statuses, GET for queries only, request ids, masked errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.domain.incidents import incidents as incident_service
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import revoke_key
from tests.support.data import Tenants
from tests.support.server import Server

QUERY = "{ viewer { id } }"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer seliq_wrong", "Basic dXNlcjpwYXNz", "seliq_x"]
)
async def test_missing_or_bad_key_is_401(
    server: Server, tenants: Tenants, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with server.http.post(
        f"{server.url}/graphql", json={"query": QUERY}, headers=headers
    ) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoked_key_is_401(server: Server, tenants: Tenants, db: Database) -> None:
    body = await server.graphql("{ viewer { id } }", key=tenants.acme.key)
    async with db.write() as session:
        await revoke_key(session, body["data"]["viewer"]["id"])
    await server.graphql(QUERY, key=tenants.acme.key, expect_status=401)


async def test_get_query_and_get_mutation(server: Server, tenants: Tenants) -> None:
    headers = {"Authorization": f"Bearer {tenants.acme.key}"}
    async with server.http.get(
        f"{server.url}/graphql", params={"query": "{ viewer { scope } }"}, headers=headers
    ) as response:
        assert response.status == 200
        assert (await response.json())["data"] == {"viewer": {"scope": "WRITE"}}
    mutation = 'mutation { addIncidentNote(input: {incidentId: "x", body: "y"}) { note { id } } }'
    async with server.http.get(
        f"{server.url}/graphql", params={"query": mutation}, headers=headers
    ) as response:
        assert response.status == 405
        body = await response.json()
        assert "POST" in body["errors"][0]["message"]


async def test_request_id_is_echoed_or_generated(server: Server, tenants: Tenants) -> None:
    headers = {"Authorization": f"Bearer {tenants.acme.key}", "X-Request-ID": "trace-123"}
    async with server.http.post(
        f"{server.url}/graphql", json={"query": QUERY}, headers=headers
    ) as response:
        assert response.headers["X-Request-ID"] == "trace-123"
    async with server.http.post(f"{server.url}/graphql", json={"query": QUERY}) as response:
        assert response.headers["X-Request-ID"].startswith("req_")
    async with server.http.get(f"{server.url}/healthz") as response:
        assert response.headers["X-Request-ID"].startswith("req_")
        assert await response.json() == {"status": "ok"}
    async with server.http.get(f"{server.url}/readyz") as response:
        assert (await response.json())["checks"]["database"] == "ok"


async def test_unexpected_error_is_masked(
    server: Server, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/app.py:42")

    monkeypatch.setattr(incident_service, "list_incidents", explode)
    body = await server.graphql("{ incidents { totalCount } }", key=tenants.acme.key)
    error = body["errors"][0]
    request_id = body["_headers"]["X-Request-ID"]
    assert error["message"] == f"Unexpected error (request id {request_id})"
    assert error["extensions"]["code"] == "INTERNAL"
    assert "hunter2" not in json.dumps(body)


async def test_bad_requests(server: Server, tenants: Tenants) -> None:
    headers = {"Authorization": f"Bearer {tenants.acme.key}"}
    cases: list[tuple[dict[str, Any], int]] = [
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": "query { viewer { id } }", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"json": [{"query": QUERY}, {"query": QUERY}]}, 400),
        ({"json": {"query": QUERY, "variables": [1]}}, 400),
        ({"json": {"variables": {}}}, 400),
    ]
    for kwargs, status in cases:
        extra = kwargs.pop("headers", {})
        async with server.http.post(
            f"{server.url}/graphql", headers={**headers, **extra}, **kwargs
        ) as response:
            assert response.status == status, kwargs
            body = await response.json()
            assert body["errors"][0]["message"]
    async with server.http.put(f"{server.url}/graphql", headers=headers) as response:
        assert response.status == 405


async def test_validation_errors_are_coded(server: Server, tenants: Tenants) -> None:
    body = await server.graphql("{ incidnt { id } }", key=tenants.acme.key)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    async with server.http.post(
        f"{server.url}/graphql", json={"query": "{ incidnt { id } }"},
        headers={
            "Authorization": f"Bearer {tenants.acme.key}",
            "Accept": "application/graphql-response+json",
        },
    ) as response:
        assert response.status == 400
        assert response.content_type == "application/graphql-response+json"


async def test_bad_literal_is_a_validation_error_not_internal(
    server: Server, tenants: Tenants
) -> None:
    body = await server.graphql(
        '{ incidents(filter: {createdAfter: "garbage"}) { totalCount } }', key=tenants.acme.key
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "garbage" in error["message"] and "Unexpected" not in error["message"]
