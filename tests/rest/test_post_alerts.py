"""POST /v1/alerts: a row of the REST table running `ingestAlert`; 201 new, 200 deduplicated,
400 unreadable, Idempotency-Key replays, tenancy."""

from __future__ import annotations

from tests.ingest.conftest import row_counts
from tests.rest.conftest import Rest
from tests.support.data import Tenants


async def test_created_then_deduplicated(rest: Rest, tenants: Tenants) -> None:
    body = {"title": "Disk almost full", "severity": "warning", "dedup_key": "disk-db-1",
            "labels": {"host": "db-1"}}
    first = await rest.post("/v1/alerts", key=tenants.acme.key, json=body)
    assert first.status == 201, first.body
    alert = first.body
    assert alert["id"].startswith("alt_") and alert["workspace_id"] == tenants.acme.id
    assert alert["outcome"] == "created" and alert["occurrences"] == 1
    assert alert["severity"] == "medium" and alert["incident_id"].startswith("inc_")
    # No summary here: it would be written after the commit (GET /v1/alerts/{id} has it).
    assert "summary" not in alert
    again = await rest.post("/v1/alerts", key=tenants.acme.key, json=body)
    assert again.status == 200
    assert again.body["id"] == alert["id"]
    assert again.body["outcome"] == "deduplicated" and again.body["occurrences"] == 2
    fetched = await rest.get(f"/v1/alerts/{alert['id']}", key=tenants.acme.key)
    assert fetched.body["occurrences"] == 2


async def test_unreadable_bodies_are_400_and_write_nothing(rest: Rest, tenants: Tenants) -> None:
    before = await row_counts(rest.server.db)
    for data in ("{not json", "[1, 2]", '{"alerts": []}', '{"severity": "high"}'):
        answer = await rest.post(
            "/v1/alerts", key=tenants.acme.key, data=data,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status == 400, (data, answer.body)
        assert answer.error["code"] == "invalid_request"
        assert answer.error["message"]
    assert await row_counts(rest.server.db) == before


async def test_idempotency_key(rest: Rest, tenants: Tenants) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    first = await rest.post("/v1/alerts", key=tenants.acme.key, headers=headers,
                            json={"title": "once"})
    replay = await rest.post("/v1/alerts", key=tenants.acme.key, headers=headers,
                             json={"title": "once"})
    assert replay.status == first.status == 201
    assert replay.body == first.body
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = await rest.post("/v1/alerts", key=tenants.acme.key, headers=headers,
                            json={"title": "different"})
    assert other.status == 422
    # Another workspace may use the same key string: it is a new key there.
    theirs = await rest.post("/v1/alerts", key=tenants.globex.key, headers=headers,
                             json={"title": "once"})
    assert theirs.status == 201 and theirs.body["workspace_id"] == tenants.globex.id


async def test_scopes_and_tenancy(rest: Rest, tenants: Tenants) -> None:
    denied = await rest.post("/v1/alerts", key=tenants.acme.read_key, json={"title": "x"})
    assert denied.status == 403
    via_mssp = await rest.post("/v1/alerts", key=tenants.mssp.key, workspace="acme",
                               json={"title": "from the MSSP"})
    assert via_mssp.status == 201 and via_mssp.body["workspace_id"] == tenants.acme.id
    refused = await rest.post("/v1/alerts", key=tenants.acme.key, workspace="globex",
                              json={"title": "x"})
    assert refused.status == 403
    missing = await rest.post("/v1/alerts", json={"title": "x"})
    assert missing.status == 401
