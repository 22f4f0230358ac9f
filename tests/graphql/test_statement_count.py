"""The dashboard query runs the same number of SQL statements for 10 and for 100 incidents."""

from __future__ import annotations

from gateway.domain import ids
from gateway.domain.incidents.timeline import record
from gateway.domain.storage.models import Alert, Incident
from gateway.domain.timeutil import utcnow
from tests.support.data import Tenants
from tests.support.server import Server

DASHBOARD = """query($first: Int!) {
  incidents(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id number title status severity assignee alertCount createdAt
      workspace { id slug }
      alerts(first: 5) { totalCount nodes { id title severity status incident { id } } }
      timeline(last: 3) { nodes { type at actor message } }
      notes(first: 2) { totalCount nodes { body } }
    } }
  }
}"""


async def _bulk(server: Server, workspace_id: str, count: int) -> None:
    now = utcnow()
    async with server.db.write() as session:
        for number in range(1000, 1000 + count):
            incident = Incident(
                id=ids.new_id(ids.INCIDENT), workspace_id=workspace_id, number=number,
                title=f"bulk {number}", severity="low", created_at=now, updated_at=now,
                alert_count=3,
            )
            session.add(incident)
            await session.flush()
            for index in range(3):
                session.add(Alert(
                    id=ids.new_id(ids.ALERT), workspace_id=workspace_id,
                    incident_id=incident.id, title=f"a{index}", fingerprint=f"{number}-{index}",
                ))
                record(session, incident, "alert.attached", "system", "attached")


async def _statements(server: Server, key: str, first: int) -> int:
    body = await server.graphql(DASHBOARD, {"first": first}, key=key)
    assert "errors" not in body, body
    assert len(body["data"]["incidents"]["edges"]) == first
    return int(body["_headers"]["X-Seliq-SQL-Statements"])


async def test_statement_count_does_not_grow_with_page_size(
    server: Server, tenants: Tenants
) -> None:
    await _bulk(server, tenants.acme.id, 110)
    await _statements(server, tenants.acme.key, 10)  # the key lookup is cached from then on
    small = await _statements(server, tenants.acme.key, 10)
    large = await _statements(server, tenants.acme.key, 100)
    assert small == large
    # auth (key + workspace tree), page, count, workspace, alerts, alert->incident,
    # timeline, notes, note counts: a fixed handful, whatever the page size.
    assert large <= 12
