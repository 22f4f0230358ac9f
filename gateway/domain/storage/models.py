"""SQLModel tables. Every row that belongs to a tenant carries `workspace_id`, and every index a
list query uses starts with it, so tenant scoping and keyset pagination are the same index walk.

Enumerations are stored as lower-case strings (the REST spelling); GraphQL upper-cases them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.domain.timeutil import utcnow

TIERS = ("starter", "growth", "enterprise")
SEVERITIES = ("critical", "high", "medium", "low", "info")
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
# The statuses that still take alerts and still run SLA clocks.
OPEN_STATUSES = ("triggered", "acknowledged")
ALERT_STATUSES = ("firing", "resolved")
KEY_SCOPES = ("read", "write")
REPORT_KINDS = ("incident_summary", "sla")
REPORT_STATUSES = ("queued", "running", "ready", "failed")
EVENT_TYPES = (
    "incident.created",
    "alert.attached",
    "alert.resolved",
    "status.changed",
    "assignee.changed",
    "severity.changed",
    "note.added",
    "sla.breached",
)

# Highest first; used to compare severities and to sort by them.
SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}


# Default factories are plain functions, not the builtins `dict` and `list`: pydantic inspects a
# factory's signature on every model construction, and for a builtin that means parsing its text
# signature (~0.13 ms each; alerts, events and deliveries are made thousands of times a second).
def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[str]:
    return []


def _json_column() -> Any:
    return Field(default_factory=_empty_dict, sa_column=Column(JSON, nullable=False))


def _json_list_column() -> Any:
    return Field(default_factory=_empty_list, sa_column=Column(JSON, nullable=False))


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"

    id: str = Field(primary_key=True, max_length=40)
    slug: str = Field(max_length=63, unique=True)
    name: str = Field(max_length=200)
    tier: str = Field(default="starter", max_length=16)
    parent_id: str | None = Field(default=None, foreign_key="workspaces.id", index=True)
    rate_limit_per_minute: int | None = None
    correlation_window_seconds: int = 1800
    sla_policy: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    incident_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    # Ingestion: when set, webhook posts must carry `X-Seliq-Signature` (HMAC-SHA256 with this
    # secret). Kept in clear because verifying an HMAC needs the key itself.
    webhook_signing_secret: str | None = Field(default=None, max_length=100)
    # Labels whose first present value goes into the correlation group key; null = the default
    # (host, instance, service).
    correlation_labels: list[str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", index=True)
    name: str = Field(max_length=200)
    scope: str = Field(default="write", max_length=8)
    secret_hash: str = Field(max_length=64, unique=True)
    secret_prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class WebhookToken(SQLModel, table=True):
    __tablename__ = "webhook_tokens"

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", index=True)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number", name="uq_incidents_workspace_number"),
        Index("ix_incidents_ws_created", "workspace_id", "created_at", "id"),
        Index("ix_incidents_ws_updated", "workspace_id", "updated_at", "id"),
        Index("ix_incidents_ws_status_created", "workspace_id", "status", "created_at"),
        # totalCount of a status and severity filter (a triage queue's "open critical and high")
        # read from the index alone; without it SQLite scans the table (migration 0004).
        Index("ix_incidents_ws_status_severity", "workspace_id", "status", "severity"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id")
    number: int
    title: str = Field(max_length=500)
    status: str = Field(default="triggered", max_length=16)
    severity: str = Field(default="info", max_length=16)
    severity_manual: bool = False
    assignee: str | None = Field(default=None, max_length=200)
    alert_count: int = 0
    group_key: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_ws_received", "workspace_id", "received_at", "id"),
        Index("ix_alerts_incident_received", "incident_id", "received_at", "id"),
        Index("ix_alerts_ws_fingerprint_status", "workspace_id", "fingerprint", "status"),
        Index("ix_alerts_ws_fingerprint_received", "workspace_id", "fingerprint", "received_at",
              "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id")
    incident_id: str | None = Field(default=None, foreign_key="incidents.id")
    source: str = Field(default="api", max_length=200)
    title: str = Field(max_length=500)
    description: str | None = None
    severity: str = Field(default="info", max_length=16)
    status: str = Field(default="firing", max_length=16)
    fingerprint: str = Field(max_length=255)
    labels: dict[str, Any] = _json_column()
    raw_payload: dict[str, Any] = _json_column()
    occurrences: int = 1
    first_seen_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    received_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_incident_at", "incident_id", "at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", index=True)
    incident_id: str = Field(foreign_key="incidents.id")
    type: str = Field(max_length=32)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=200)
    message: str = Field(default="", max_length=1000)
    data: dict[str, Any] = _json_column()


class Note(SQLModel, table=True):
    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_incident_created", "incident_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", index=True)
    incident_id: str = Field(foreign_key="incidents.id")
    body: str
    author: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Report(SQLModel, table=True):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_ws_created", "workspace_id", "created_at", "id"),
        Index("ix_reports_status_created", "status", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id")
    kind: str = Field(max_length=32)
    status: str = Field(default="queued", max_length=16)
    period_start: datetime
    period_end: datetime
    content: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = None
    requested_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # The worker's lease on a `running` job (migration 0003): which process holds it and until
    # when; the holder renews it while it works, and an expired lease makes the job claimable
    # again. `attempts` counts claims, so a job that keeps killing its worker is failed.
    claimed_by: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = None
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a request sent with an `Idempotency-Key`, replayed for 24 hours."""

    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_ws_created", "workspace_id", "created_at"),)

    workspace_id: str = Field(foreign_key="workspaces.id", primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    response_status: int
    response_body: dict[str, Any] = _json_column()
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One request to a workspace's webhook URL: what arrived and what became of it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_ws_received", "workspace_id", "received_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id")
    received_at: datetime = Field(default_factory=utcnow)
    request_id: str = Field(default="", max_length=128)
    size_bytes: int = 0
    format: str | None = Field(default=None, max_length=16)
    status_code: int
    accepted: int = 0
    alert_ids: list[str] = _json_list_column()
    incident_ids: list[str] = _json_list_column()
    outcomes: list[str] = _json_list_column()
    error: str | None = Field(default=None, max_length=1000)
