"""Automatic persisted queries, as Apollo clients send them: an unknown hash asks for the query
(HTTP 200, PERSISTED_QUERY_NOT_FOUND), the query with its hash registers it, and from then on
the hash alone runs it (POST or GET), with the same answer and the same SQL statements as the
full text, and still scoped to the caller's workspace."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from gateway.service.http.persisted_queries import PersistedQueries, PersistedQueryNotFound
from gateway.web.operations import OperationRefused
from tests.support.data import Tenants
from tests.support.server import Server

DASHBOARD = """query Dashboard($first: Int!) {
  incidents(first: $first) { nodes { id number title status alertCount
    alerts(first: 3) { nodes { id title } } } }
}"""
HASH = hashlib.sha256(DASHBOARD.encode()).hexdigest()


def apq(digest: str = HASH, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def send(
    server: Server, body: dict[str, Any], key: str | None, method: str = "POST"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if method == "GET":
        params = {name: json.dumps(value) if isinstance(value, dict) else value
                  for name, value in body.items()}
        request = server.http.get(f"{server.url}/graphql", params=params, headers=headers)
    else:
        request = server.http.post(f"{server.url}/graphql", json=body, headers=headers)
    async with request as response:
        return response.status, await response.json(), dict(response.headers)


async def test_the_apollo_round_trip(server: Server, tenants: Tenants) -> None:
    variables = {"first": 5}
    key = tenants.acme.key
    status, body, headers = await send(server, {"extensions": apq(), "variables": variables}, key)
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert "no-cache" in headers["Cache-Control"]

    full = {"query": DASHBOARD, "variables": variables, "extensions": apq()}
    status, registered, _ = await send(server, full, key)
    assert status == 200 and "errors" not in registered
    status, by_hash, headers = await send(server, {"extensions": apq(), "variables": variables},
                                          key)
    assert status == 200 and by_hash["data"] == registered["data"]
    assert headers["X-Seliq-SQL-Statements"] == (
        (await send(server, {"query": DASHBOARD, "variables": variables}, key))[2][
            "X-Seliq-SQL-Statements"]
    )
    status, by_get, _ = await send(
        server, {"extensions": apq(), "variables": variables}, key, method="GET"
    )
    assert status == 200 and by_get["data"] == registered["data"]
    ids = {node["id"] for node in by_hash["data"]["incidents"]["nodes"]}
    assert ids and ids <= {incident.id for incident in tenants.acme.incidents}


async def test_a_hash_registered_by_one_tenant_is_unknown_to_another(
    server: Server, tenants: Tenants
) -> None:
    """The store is per calling workspace: a shared one would tell `other` whether `acme` had
    sent this document. Registered by `other` too, it runs in `other`'s own workspace."""
    await send(server, {"query": DASHBOARD, "variables": {"first": 5}, "extensions": apq()},
               tenants.acme.key)
    status, body, _ = await send(server, {"extensions": apq(), "variables": {"first": 5}},
                                 tenants.other.key)
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    await send(server, {"query": DASHBOARD, "variables": {"first": 5}, "extensions": apq()},
               tenants.other.key)
    status, body, _ = await send(server, {"extensions": apq(), "variables": {"first": 5}},
                                 tenants.other.key)
    assert status == 200
    ids = {node["id"] for node in body["data"]["incidents"]["nodes"]}
    assert ids == {incident.id for incident in tenants.other.incidents}


@pytest.mark.parametrize(
    ("extensions", "query", "message"),
    [
        (apq("0" * 64), DASHBOARD, "provided sha does not match query"),
        (apq(version=2), None, "Unsupported persisted query version"),
        (apq("not-a-hash"), None, "64 hexadecimal characters"),
        ({"persistedQuery": "x"}, None, "must be an object"),
    ],
)
async def test_bad_persisted_queries_are_400(
    server: Server, tenants: Tenants, extensions: dict[str, Any], query: str | None,
    message: str,
) -> None:
    body: dict[str, Any] = {"extensions": extensions, "variables": {"first": 1}}
    if query:
        body["query"] = query
    status, answer, _ = await send(server, body, tenants.acme.key)
    assert status == 400
    assert message in answer["errors"][0]["message"]
    # Nothing was stored: the right hash is still unknown.
    status, answer, _ = await send(server, {"extensions": apq(), "variables": {"first": 1}},
                                   tenants.acme.key)
    assert answer["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_authentication_comes_first(server: Server, tenants: Tenants) -> None:
    full = {"query": DASHBOARD, "variables": {"first": 1}, "extensions": apq()}
    status, _, _ = await send(server, full, None)
    assert status == 401
    status, answer, _ = await send(server, {"extensions": apq(), "variables": {"first": 1}},
                                   tenants.acme.key)
    assert answer["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_persisted_mutation_is_refused_over_get(server: Server, tenants: Tenants) -> None:
    mutation = 'mutation { ingestAlert(input: {title: "x"}) { outcome } }'
    digest = hashlib.sha256(mutation.encode()).hexdigest()
    await send(server, {"query": "{ viewer { id } }"}, tenants.acme.key)
    status, _, _ = await send(server, {"query": mutation, "extensions": apq(digest)},
                              tenants.acme.key, method="GET")
    assert status == 405


def test_the_store_keeps_the_most_recently_used() -> None:
    store = PersistedQueries(max_entries=2, max_query_characters=50)
    documents = ["{ a }", "{ b }", "{ c }"]
    digests = [hashlib.sha256(d.encode()).hexdigest() for d in documents]
    store.resolve(documents[0], apq(digests[0]))
    store.resolve(documents[1], apq(digests[1]))
    assert store.resolve(None, apq(digests[0])) == documents[0]  # a is now the most recent
    store.resolve(documents[2], apq(digests[2]))
    assert len(store) == 2
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(digests[1]))
    long = "{ " + "x " * 40 + "}"
    store.resolve(long, apq(hashlib.sha256(long.encode()).hexdigest()))  # too long to keep
    with pytest.raises(PersistedQueryNotFound):
        store.resolve(None, apq(hashlib.sha256(long.encode()).hexdigest()))
    with pytest.raises(OperationRefused):
        store.resolve(None, {"persistedQuery": {"version": 1, "sha256Hash": "0x" + "1" * 62}})
