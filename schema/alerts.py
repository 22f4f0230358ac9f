"""GraphQL `Alert` and its filter input."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.domain.incidents.alerts import AlertFilter as DomainAlertFilter
from gateway.domain.storage import models
from schema.context import Info
from schema.enums import AlertStatus, Severity
from schema.node import Node
from schema.pagination import enum_values
from schema.rows import from_row
from schema.scalars import JSON

if TYPE_CHECKING:
    from schema.incidents import Incident
    from schema.summaries import AlertSummary
    from schema.workspaces import Workspace


@strawberry.input
class AlertFilter:
    status: list[AlertStatus] | None = None
    severity: list[Severity] | None = None
    source: str | None = None
    incident_id: strawberry.ID | None = None
    query: str | None = strawberry.field(
        default=None, description="Text to find in the title or description."
    )

    def to_domain(self) -> DomainAlertFilter:
        return DomainAlertFilter(
            status=enum_values(self.status),
            severity=enum_values(self.severity),
            source=self.source,
            incident_id=self.incident_id,
            query=self.query,
        )


@strawberry.type
class Alert(Node):
    id: strawberry.ID
    title: str
    description: str | None
    severity: Severity
    status: AlertStatus
    source: str
    fingerprint: str
    labels: JSON
    raw_payload: JSON
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    received_at: datetime
    resolved_at: datetime | None
    workspace_id: strawberry.Private[str]
    incident_id: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: models.Alert) -> Alert:
        return from_row(cls, row)

    @strawberry.field
    async def incident(
        self, info: Info
    ) -> Annotated[Incident, strawberry.lazy("schema.incidents")] | None:
        from schema.incidents import Incident

        if self.incident_id is None:
            return None
        row = await info.context.loaders.incident.load((self.workspace_id, self.incident_id))
        return Incident.from_row(row) if row else None

    @strawberry.field
    async def workspace(
        self, info: Info
    ) -> Annotated[Workspace, strawberry.lazy("schema.workspaces")]:
        from schema.workspaces import Workspace

        row = await info.context.loaders.workspace.load(self.workspace_id)
        assert row is not None
        return Workspace.from_row(row)

    @strawberry.field(
        description="What fired, where, how bad, how often, which incident, what to check "
        "first. Only a single alert may call the configured model; in lists it is the cached "
        "model summary or the built-in one."
    )
    async def summary(
        self, info: Info
    ) -> Annotated[AlertSummary, strawberry.lazy("schema.summaries")]:
        from schema.summaries import alert_summary

        return await alert_summary(info, self)
