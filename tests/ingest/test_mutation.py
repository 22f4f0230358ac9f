"""`ingestAlert` over GraphQL: typed fields, whole payloads, outcomes, write scope, tenancy,
idempotency keys and userErrors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, IdempotencyRecord
from tests.ingest.conftest import alerts_of, get_row, row_counts
from tests.ingest.payloads import alertmanager_group
from tests.support.data import Tenants
from tests.support.server import Server

INGEST = """
mutation Ingest($input: IngestAlertInput!) {
  ingestAlert(input: $input) {
    outcome format deduplicated replayed
    alert { id title severity status source fingerprint labels occurrences firstSeenAt
            incident { id } }
    incident { id number title severity status alertCount }
    results { outcome alert { id } incident { id } }
    userErrors { field message code }
  }
}
"""


async def _ingest(
    server: Server, key: str, input: dict, workspace: str | None = None
) -> dict:
    body = await server.graphql(INGEST, {"input": input}, key=key, workspace=workspace)
    assert "errors" not in body, body
    return dict(body["data"]["ingestAlert"])


async def test_typed_fields(server: Server, db: Database, tenants: Tenants) -> None:
    payload = await _ingest(
        server, tenants.acme.key,
        {
            "title": "Suspicious PowerShell", "severity": "CRITICAL", "source": "crowdstrike",
            "labels": {"host": "laptop-7"}, "occurredAt": "2026-11-27T08:00:00Z",
            "dedupKey": "cs-123",
        },
    )
    assert payload["userErrors"] == []
    assert (payload["outcome"], payload["format"], payload["deduplicated"]) == (
        "CREATED", "GENERIC", False
    )
    alert = payload["alert"]
    assert alert["title"] == "Suspicious PowerShell" and alert["severity"] == "CRITICAL"
    assert (alert["source"], alert["fingerprint"], alert["occurrences"]) == (
        "crowdstrike", "cs-123", 1
    )
    assert alert["firstSeenAt"] == "2026-11-27T08:00:00.000Z"
    assert alert["incident"]["id"] == payload["incident"]["id"]
    assert payload["incident"]["title"] == "Suspicious PowerShell"
    assert payload["incident"]["alertCount"] == 1
    assert payload["results"] == [
        {"outcome": "CREATED", "alert": {"id": alert["id"]},
         "incident": {"id": payload["incident"]["id"]}}
    ]

    again = await _ingest(
        server, tenants.acme.key,
        {"title": "Suspicious PowerShell", "source": "crowdstrike", "dedupKey": "cs-123"},
    )
    assert (again["outcome"], again["deduplicated"]) == ("DEDUPLICATED", True)
    assert again["alert"]["id"] == alert["id"] and again["alert"]["occurrences"] == 2
    row = await get_row(db, Alert, alert["id"])
    assert row.workspace_id == tenants.acme.id


async def test_payload_and_raw_body(server: Server, tenants: Tenants) -> None:
    grouped = await _ingest(server, tenants.globex.key, {"payload": alertmanager_group("firing")})
    assert grouped["format"] == "ALERTMANAGER"
    assert [r["outcome"] for r in grouped["results"]] == ["CREATED", "GROUPED"]
    assert grouped["alert"]["id"] == grouped["results"][0]["alert"]["id"]
    assert grouped["alert"]["source"] == "alertmanager"

    raw = await _ingest(
        server, tenants.globex.key,
        {"rawBody": orjson.dumps(alertmanager_group("resolved")).decode(), "source": "prom"},
    )
    assert [r["outcome"] for r in raw["results"]] == ["RESOLVED", "RESOLVED"]
    assert raw["incident"]["status"] == "RESOLVED"

    generic = await _ingest(server, tenants.globex.key, {"payload": {"title": "From payload"}})
    assert generic["alert"]["source"] == "api"


async def test_user_errors_write_nothing(server: Server, db: Database, tenants: Tenants) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({}, "title", "at least `title`"),
        ({"title": "x", "payload": {"title": "y"}}, "payload", "send one of"),
        ({"payload": [1, 2]}, "payload", "got an array"),
        ({"payload": {"alerts": []}}, "alerts", "`alerts` is empty"),
        ({"rawBody": "{oops"}, "payload", "not valid JSON"),
        ({"labels": {"host": "a"}}, "title", "`title` is required"),
        ({"title": "x", "fingerprint": "f" * 300}, "fingerprint", "1-255"),
        ({"title": "x", "idempotencyKey": "k" * 256}, "idempotencyKey", "1-255"),
    ]
    before = await row_counts(db)
    for input, field, fragment in cases:
        payload = await _ingest(server, tenants.acme.key, input)
        assert payload["alert"] is None and payload["results"] == [], input
        (error,) = payload["userErrors"]
        assert error["field"] == field and fragment in error["message"], (input, error)
        assert error["code"] == "BAD_USER_INPUT"
    assert await row_counts(db) == before


async def test_read_key_is_refused(server: Server, db: Database, tenants: Tenants) -> None:
    before = await row_counts(db)
    body = await server.graphql(
        INGEST, {"input": {"title": "Nope"}}, key=tenants.acme.read_key
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "read scope" in body["errors"][0]["message"]
    assert await row_counts(db) == before


async def test_acting_workspace(server: Server, db: Database, tenants: Tenants) -> None:
    payload = await _ingest(
        server, tenants.mssp.key, {"title": "On behalf of acme"}, workspace=tenants.acme.slug
    )
    assert payload["userErrors"] == []
    row = await get_row(db, Alert, payload["alert"]["id"])
    assert row.workspace_id == tenants.acme.id
    body = await server.graphql(
        INGEST, {"input": {"title": "x"}}, key=tenants.mssp.key, workspace=tenants.other.slug,
        expect_status=403,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert {a.id for a in await alerts_of(db, tenants.other.id)} == {
        a.id for a in tenants.other.alerts
    }


async def test_idempotency_key(server: Server, db: Database, tenants: Tenants) -> None:
    input = {"title": "Retry me", "severity": "HIGH", "idempotencyKey": "req-1"}
    first = await _ingest(server, tenants.acme.key, input)
    assert (first["outcome"], first["replayed"]) == ("CREATED", False)
    before = await row_counts(db)
    second = await _ingest(server, tenants.acme.key, input)
    assert second["replayed"] is True
    assert second["alert"]["id"] == first["alert"]["id"]
    assert second["outcome"] == "CREATED"
    assert second["alert"]["occurrences"] == 1
    assert await row_counts(db) == before

    # Same key, different input: refused, nothing written.
    refused = await _ingest(server, tenants.acme.key, {**input, "severity": "LOW"})
    assert refused["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert refused["userErrors"][0]["field"] == "idempotencyKey"
    assert await row_counts(db) == before

    # Keys are scoped by workspace.
    elsewhere = await _ingest(server, tenants.globex.key, input)
    assert elsewhere["replayed"] is False and elsewhere["alert"]["id"] != first["alert"]["id"]

    # After 24 hours the key is forgotten: the same request ingests again (deduplicated).
    async with db.write() as session:
        record = await session.get(IdempotencyRecord, (tenants.acme.id, "req-1"))
        assert record is not None
        record.created_at = record.created_at - timedelta(hours=25)
        session.add(record)
    later = await _ingest(server, tenants.acme.key, input)
    assert (later["replayed"], later["outcome"]) == (False, "DEDUPLICATED")
    assert later["alert"]["occurrences"] == 2
    async with db.read() as session:
        record = await session.get(IdempotencyRecord, (tenants.acme.id, "req-1"))
        assert record is not None and record.response_status == 200
