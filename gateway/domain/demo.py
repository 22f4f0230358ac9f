"""Demo data: an MSSP with two customers, ~60 incidents and ~300 alerts over the last 30 days in
every status and severity, with notes and timelines, so a newcomer sees a real graph at once.

The data is generated from a fixed seed (the same shape every time), relative to "now".
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain import ids
from gateway.domain.incidents import timeline
from gateway.domain.storage.models import (
    SEVERITIES,
    SEVERITY_RANK,
    Alert,
    Incident,
    Note,
    Workspace,
)
from gateway.domain.tenancy.workspaces import create_workspace, find_workspace
from gateway.domain.timeutil import utcnow

MSSP_SLUG = "northwind-mssp"
CUSTOMERS = (("acme-corp", "Acme Corp", "growth", 34), ("globex", "Globex", "starter", 20))
MSSP_INCIDENTS = 6

SCENARIOS = (
    ("prometheus", "HighCPUUsage", "CPU usage above 90% on {host}", "node_cpu", ("web", "db")),
    (
        "prometheus",
        "DiskWillFillIn4Hours",
        "Disk {disk} on {host} will fill within 4 hours",
        "disk",
        ("db", "storage"),
    ),
    ("grafana", "HTTP 5xx ratio high", "5xx ratio above 5% for {service}", "http", ("api",)),
    (
        "wazuh",
        "Multiple authentication failures",
        "Repeated failed SSH logins on {host}",
        "auth",
        ("bastion", "web"),
    ),
    (
        "crowdstrike",
        "Suspicious PowerShell execution",
        "Encoded PowerShell launched on {host}",
        "edr",
        ("laptop", "win"),
    ),
    (
        "suricata",
        "ET SCAN Nmap scripting engine",
        "Port scan from {ip} against {host}",
        "ids",
        ("edge", "fw"),
    ),
    (
        "guardduty",
        "Unusual IAM API activity",
        "Console login from new country for {user}",
        "cloud",
        ("aws",),
    ),
)
ANALYSTS = ("maria.lopez", "sam.okafor", "li.wei", "ana.costa")
NOTES = (
    "Looked at the graphs: started right after the 14:00 deploy.",
    "Customer confirmed this is a scheduled maintenance job.",
    "Escalated to the customer's on-call engineer.",
    "Blocked the source IP at the edge firewall.",
    "Isolated the host pending forensics.",
)


async def seed(session: AsyncSession) -> dict[str, Workspace]:
    """Create the demo workspaces and their data, unless they already exist."""
    existing = await find_workspace(session, MSSP_SLUG, None)
    if existing is not None:
        found = {MSSP_SLUG: existing}
        for slug, *_ in CUSTOMERS:
            workspace = await find_workspace(session, slug, None)
            if workspace is not None:
                found[slug] = workspace
        return found
    rng = random.Random(20261127)
    now = utcnow()
    mssp = await create_workspace(
        session,
        slug=MSSP_SLUG,
        name="Northwind Security (MSSP)",
        tier="enterprise",
        rate_limit=1200,
    )
    created = {MSSP_SLUG: mssp}
    await _incidents(session, rng, mssp, MSSP_INCIDENTS, now)
    for slug, name, tier, count in CUSTOMERS:
        customer = await create_workspace(
            session, slug=slug, name=name, tier=tier, parent_slug=MSSP_SLUG
        )
        created[slug] = customer
        await _incidents(session, rng, customer, count, now)
    await session.flush()
    return created


async def _incidents(
    session: AsyncSession, rng: random.Random, workspace: Workspace, count: int, now: datetime
) -> None:
    for number in range(1, count + 1):
        created_at = now - timedelta(minutes=rng.randint(10, 30 * 24 * 60))
        await _incident(session, rng, workspace, number, created_at, now)
    workspace.incident_seq = count
    session.add(workspace)


async def _incident(
    session: AsyncSession,
    rng: random.Random,
    workspace: Workspace,
    number: int,
    created_at: datetime,
    now: datetime,
) -> None:
    source, name, template, _, hosts = rng.choice(SCENARIOS)
    host = f"{rng.choice(hosts)}-{rng.randint(1, 12):02d}.{workspace.slug}.internal"
    details = {
        "host": host,
        "disk": "/var",
        "service": "checkout-api",
        "ip": f"203.0.113.{rng.randint(2, 250)}",
        "user": rng.choice(ANALYSTS),
    }
    age = now - created_at
    status = rng.choices(
        ("triggered", "acknowledged", "resolved"),
        weights=(1, 1, 4) if age > timedelta(days=2) else (3, 2, 1),
    )[0]
    incident = Incident(
        id=ids.new_id(ids.INCIDENT),
        workspace_id=workspace.id,
        number=number,
        title=f"{name} on {host}",
        status="triggered",
        severity="info",
        created_at=created_at,
        updated_at=created_at,
        group_key=f"{source}|{name}|{host}",
    )
    # Rows refer to the incident by foreign key only (no ORM relationship), so it is inserted
    # first; the unit of work would not order the inserts for us.
    session.add(incident)
    await session.flush()
    timeline.record(
        session,
        incident,
        "incident.created",
        "system",
        f"opened by alert {name}",
        {},
        at=created_at,
    )
    alert_total = rng.randint(2, 8)
    last_at = created_at
    highest = "info"
    alerts = []
    for index in range(alert_total):
        seen = created_at + timedelta(minutes=index * rng.randint(1, 9))
        severity = rng.choices(SEVERITIES, weights=(1, 2, 3, 2, 1))[0]
        if SEVERITY_RANK[severity] > SEVERITY_RANK[highest]:
            highest = severity
        labels = {"alertname": name, "host": host, "env": rng.choice(("prod", "staging"))}
        fingerprint = hashlib.sha256(f"{workspace.id}|{source}|{name}|{host}|{index}".encode())
        alert = Alert(
            id=ids.new_id(ids.ALERT),
            workspace_id=workspace.id,
            incident_id=incident.id,
            source=source,
            title=name if index == 0 else f"{name} ({index + 1})",
            description=template.format(**details),
            severity=severity,
            status="firing",
            fingerprint=fingerprint.hexdigest()[:32],
            labels=labels,
            raw_payload={"title": name, "labels": labels, "source": source},
            occurrences=rng.randint(1, 12),
            first_seen_at=seen,
            last_seen_at=seen + timedelta(minutes=rng.randint(0, 30)),
            received_at=seen,
        )
        alerts.append(alert)
        timeline.record(
            session,
            incident,
            "alert.attached",
            "system",
            f"alert {alert.title} attached",
            {"alert_id": alert.id},
            at=seen,
        )
        last_at = max(last_at, seen)
    incident.alert_count = alert_total
    if highest != "info":
        timeline.record(
            session,
            incident,
            "severity.changed",
            "system",
            f"severity info → {highest}",
            {"from": "info", "to": highest},
            at=created_at,
        )
    incident.severity = highest
    actor = f"key:{rng.choice(ANALYSTS)}"
    if rng.random() < 0.6:
        incident.assignee = rng.choice(ANALYSTS)
        timeline.record(
            session,
            incident,
            "assignee.changed",
            actor,
            f"assigned to {incident.assignee}",
            {"from": None, "to": incident.assignee},
            at=last_at + timedelta(minutes=1),
        )
    moment = last_at + timedelta(minutes=rng.randint(2, 40))
    if status in ("acknowledged", "resolved"):
        moment = min(moment, now)
        incident.status = "acknowledged"
        incident.acknowledged_at = moment
        timeline.record(
            session,
            incident,
            "status.changed",
            actor,
            "triggered → acknowledged",
            {"from": "triggered", "to": "acknowledged"},
            at=moment,
        )
    if rng.random() < 0.5:
        note_at = min(moment + timedelta(minutes=rng.randint(1, 30)), now)
        note = Note(
            id=ids.new_id(ids.NOTE),
            workspace_id=workspace.id,
            incident_id=incident.id,
            body=rng.choice(NOTES),
            author=actor.removeprefix("key:"),
            created_at=note_at,
        )
        session.add(note)
        timeline.record(
            session,
            incident,
            "note.added",
            actor,
            f"note by {note.author}",
            {"note_id": note.id, "author": note.author},
            at=note_at,
        )
        moment = max(moment, note_at)
    if status == "resolved":
        resolved_at = min(moment + timedelta(minutes=rng.randint(5, 600)), now)
        for alert in alerts:
            alert.status = "resolved"
            alert.resolved_at = resolved_at
        incident.status = "resolved"
        incident.resolved_at = resolved_at
        timeline.record(
            session,
            incident,
            "status.changed",
            actor,
            "acknowledged → resolved",
            {"from": "acknowledged", "to": "resolved"},
            at=resolved_at,
        )
        moment = resolved_at
    incident.updated_at = max(moment, last_at)
    session.add(incident)
    session.add_all(alerts)
