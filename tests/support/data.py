"""Test data written straight to the database (no ingestion involved): incidents with alerts and
timeline, notes, and the tenant tree every tenancy test uses (an MSSP, two customers below it,
one unrelated workspace), each with a write key and a read key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.domain import ids
from gateway.domain.incidents.timeline import record
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Incident, Note, Workspace
from gateway.domain.tenancy.auth import create_key
from gateway.domain.tenancy.workspaces import create_workspace
from gateway.domain.timeutil import utcnow


@dataclass
class Tenant:
    workspace: Workspace
    key: str
    read_key: str
    incidents: list[Incident] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.workspace.id

    @property
    def slug(self) -> str:
        return self.workspace.slug


@dataclass
class Tenants:
    """mssp -> (acme, globex); `other` is unrelated to all of them."""

    mssp: Tenant
    acme: Tenant
    globex: Tenant
    other: Tenant

    def all(self) -> list[Tenant]:
        return [self.mssp, self.acme, self.globex, self.other]


async def make_incident(
    db: Database,
    workspace: Workspace,
    *,
    title: str = "Disk full",
    severity: str = "high",
    status: str = "triggered",
    alerts: int = 2,
    created_at: datetime | None = None,
    assignee: str | None = None,
) -> tuple[Incident, list[Alert]]:
    """An incident with its alerts and timeline, written directly (no ingestion involved)."""
    created = created_at or utcnow()
    async with db.write() as session:
        ws = await session.get(Workspace, workspace.id)
        assert ws is not None
        ws.incident_seq += 1
        incident = Incident(
            id=ids.new_id(ids.INCIDENT), workspace_id=ws.id, number=ws.incident_seq, title=title,
            severity=severity, status=status, created_at=created, updated_at=created,
            alert_count=alerts, assignee=assignee,
            acknowledged_at=created if status != "triggered" else None,
            resolved_at=created if status == "resolved" else None,
        )
        session.add(ws)
        session.add(incident)
        await session.flush()
        record(session, incident, "incident.created", "system", "opened", at=created)
        rows = []
        for index in range(alerts):
            seen = created + timedelta(seconds=index)
            alert = Alert(
                id=ids.new_id(ids.ALERT), workspace_id=ws.id, incident_id=incident.id,
                source="test", title=f"{title} #{index}", description=f"{title} on host-{index}",
                severity=severity, status="resolved" if status == "resolved" else "firing",
                fingerprint=f"fp-{incident.id}-{index}", labels={"host": f"host-{index}"},
                raw_payload={"title": title}, first_seen_at=seen, last_seen_at=seen,
                received_at=seen,
            )
            rows.append(alert)
            session.add(alert)
            record(session, incident, "alert.attached", "system", "attached",
                   {"alert_id": alert.id}, at=seen)
        await session.flush()
    return incident, rows


async def make_note(db: Database, incident: Incident, body: str = "looked at it") -> Note:
    async with db.write() as session:
        note = Note(
            id=ids.new_id(ids.NOTE), workspace_id=incident.workspace_id, incident_id=incident.id,
            body=body, author="tester",
        )
        session.add(note)
        await session.flush()
        row = await session.get(Incident, incident.id)
        assert row is not None
        record(session, row, "note.added", "key:tester", "note", {"note_id": note.id})
    return note


async def make_tenant(db: Database, slug: str, tier: str, parent: str | None = None) -> Tenant:
    async with db.write() as session:
        workspace = await create_workspace(
            session, slug=slug, name=slug.title(), tier=tier, parent_slug=parent
        )
        _, key = await create_key(session, workspace, f"{slug} writer", "write")
        _, read_key = await create_key(session, workspace, f"{slug} reader", "read")
    tenant = Tenant(workspace=workspace, key=key, read_key=read_key)
    for number in range(3):
        incident, alerts = await make_incident(
            db, workspace, title=f"{slug} incident {number}", severity="high"
        )
        tenant.incidents.append(incident)
        tenant.alerts.extend(alerts)
    return tenant
