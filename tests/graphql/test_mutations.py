"""Mutations: each change writes exactly its timeline event; bad input is a userError and writes
nothing; a read-scope key cannot mutate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from gateway.domain.storage.models import Note, TimelineEvent
from tests.support.data import Tenants
from tests.support.server import Server

UPDATE = """mutation($input: UpdateIncidentInput!) {
  updateIncident(input: $input) {
    incident { id status assignee severity acknowledgedAt resolvedAt updatedAt }
    userErrors { field message code }
  }
}"""
NOTE = """mutation($input: AddIncidentNoteInput!) {
  addIncidentNote(input: $input) {
    note { id body author createdAt incident { id } }
    incident { id }
    userErrors { field message code }
  }
}"""


async def _events(server: Server, incident_id: str) -> list[tuple[str, str]]:
    """The incident's events as (type, actor), in the order they were written (ids are
    time-ordered; the fixture's alerts are stamped slightly in the future, so `at` is not)."""
    async with server.db.read() as session:
        rows = (await session.execute(
            select(col(TimelineEvent.type), col(TimelineEvent.actor))
            .where(col(TimelineEvent.incident_id) == incident_id)
            .order_by(col(TimelineEvent.id))
        )).all()
    return [(row[0], row[1]) for row in rows]


async def _update(server: Server, key: str, **fields: Any) -> dict[str, Any]:
    body = await server.graphql(UPDATE, {"input": fields}, key=key)
    return body["data"]["updateIncident"]


async def test_each_change_writes_one_event(server: Server, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    before = await _events(server, incident.id)

    result = await _update(server, tenants.acme.key, id=incident.id, status="ACKNOWLEDGED")
    assert result["userErrors"] == []
    assert result["incident"]["status"] == "ACKNOWLEDGED"
    assert result["incident"]["acknowledgedAt"].endswith("Z")
    after = await _events(server, incident.id)
    assert after[len(before):] == [("status.changed", "key:acme writer")]

    result = await _update(server, tenants.acme.key, id=incident.id, assignee="maria")
    assert result["incident"]["assignee"] == "maria"
    result = await _update(server, tenants.acme.key, id=incident.id, assignee=None)
    assert result["incident"]["assignee"] is None
    result = await _update(server, tenants.acme.key, id=incident.id, severity="CRITICAL")
    assert result["incident"]["severity"] == "CRITICAL"
    result = await _update(server, tenants.acme.key, id=incident.id, status="RESOLVED")
    assert result["incident"]["resolvedAt"] is not None
    types = [t for t, _ in (await _events(server, incident.id))[len(before):]]
    assert types == [
        "status.changed", "assignee.changed", "assignee.changed", "severity.changed",
        "status.changed",
    ]


async def test_no_change_writes_nothing(server: Server, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    before = await _events(server, incident.id)
    result = await _update(server, tenants.acme.key, id=incident.id, status="TRIGGERED")
    assert result["userErrors"] == []
    assert await _events(server, incident.id) == before


async def test_invalid_transition_is_user_error_and_writes_nothing(
    server: Server, tenants: Tenants
) -> None:
    incident = tenants.acme.incidents[0]
    await _update(server, tenants.acme.key, id=incident.id, status="RESOLVED")
    before = await _events(server, incident.id)
    result = await _update(
        server, tenants.acme.key, id=incident.id, status="ACKNOWLEDGED", assignee="sam"
    )
    assert result["incident"] is None
    assert result["userErrors"] == [{
        "field": "status", "code": "CONFLICT",
        "message": "an incident cannot go from resolved to acknowledged",
    }]
    assert await _events(server, incident.id) == before
    body = await server.graphql(
        "query($id: ID!) { incident(id: $id) { assignee status } }", {"id": incident.id},
        key=tenants.acme.key,
    )
    assert body["data"]["incident"] == {"assignee": None, "status": "RESOLVED"}


async def test_unknown_and_foreign_incidents_are_not_found(
    server: Server, tenants: Tenants
) -> None:
    for incident_id in ("inc_01doesnotexist", tenants.other.incidents[0].id):
        result = await _update(server, tenants.acme.key, id=incident_id, status="ACKNOWLEDGED")
        assert result["incident"] is None
        assert result["userErrors"][0]["code"] == "NOT_FOUND"
    assert [t for t, _ in await _events(server, tenants.other.incidents[0].id)].count(
        "status.changed"
    ) == 0


async def test_add_note_writes_note_and_event(server: Server, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[1]
    before = await _events(server, incident.id)
    body = await server.graphql(
        NOTE, {"input": {"incidentId": incident.id, "body": "  Blocked 203.0.113.7  "}},
        key=tenants.acme.key,
    )
    payload = body["data"]["addIncidentNote"]
    assert payload["userErrors"] == []
    assert payload["note"]["body"] == "Blocked 203.0.113.7"
    assert payload["note"]["author"] == "key:acme writer"
    assert payload["note"]["incident"]["id"] == incident.id
    assert (await _events(server, incident.id))[len(before):] == [
        ("note.added", "key:acme writer")
    ]
    body = await server.graphql(
        NOTE, {"input": {"incidentId": incident.id, "body": "x", "author": "maria"}},
        key=tenants.acme.key,
    )
    assert body["data"]["addIncidentNote"]["note"]["author"] == "maria"


async def test_bad_note_writes_nothing(server: Server, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[1]
    for variables, code in (
        ({"incidentId": incident.id, "body": "   "}, "BAD_USER_INPUT"),
        ({"incidentId": incident.id, "body": "x" * 10_001}, "BAD_USER_INPUT"),
        ({"incidentId": tenants.other.incidents[0].id, "body": "hi"}, "NOT_FOUND"),
    ):
        body = await server.graphql(NOTE, {"input": variables}, key=tenants.acme.key)
        payload = body["data"]["addIncidentNote"]
        assert payload["note"] is None
        assert payload["userErrors"][0]["code"] == code
    async with server.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Note))).scalar_one() == 0


async def test_read_key_cannot_mutate(server: Server, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    before = await _events(server, incident.id)
    body = await server.graphql(
        UPDATE, {"input": {"id": incident.id, "status": "ACKNOWLEDGED"}},
        key=tenants.acme.read_key,
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await server.graphql(
        NOTE, {"input": {"incidentId": incident.id, "body": "hi"}}, key=tenants.acme.read_key
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await _events(server, incident.id) == before
    body = await server.graphql("{ viewer { scope } }", key=tenants.acme.read_key)
    assert body["data"]["viewer"]["scope"] == "READ"
