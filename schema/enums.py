"""GraphQL enums. Values are the lower-case strings stored in the database (and used by REST);
names are the upper-case GraphQL spelling."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class IncidentStatus(Enum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.enum
class Severity(Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@strawberry.enum
class AlertStatus(Enum):
    FIRING = "firing"
    RESOLVED = "resolved"


@strawberry.enum
class Tier(Enum):
    STARTER = "starter"
    GROWTH = "growth"
    ENTERPRISE = "enterprise"


@strawberry.enum
class KeyScope(Enum):
    READ = "read"
    WRITE = "write"


@strawberry.enum
class TimelineEventType(Enum):
    INCIDENT_CREATED = "incident.created"
    ALERT_ATTACHED = "alert.attached"
    ALERT_RESOLVED = "alert.resolved"
    STATUS_CHANGED = "status.changed"
    ASSIGNEE_CHANGED = "assignee.changed"
    SEVERITY_CHANGED = "severity.changed"
    NOTE_ADDED = "note.added"
    SLA_BREACHED = "sla.breached"


@strawberry.enum
class ReportKind(Enum):
    INCIDENT_SUMMARY = "incident_summary"
    SLA = "sla"


@strawberry.enum
class ReportStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


@strawberry.enum
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class IncidentOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NUMBER = "number"
