"""GraphQL `Incident` and its filter/order inputs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.domain.incidents.alerts import NO_FILTER as NO_ALERT_FILTER
from gateway.domain.incidents.incidents import IncidentFilter as DomainIncidentFilter
from gateway.domain.pagination import page_args
from gateway.domain.storage import models
from schema.context import Info
from schema.enums import IncidentOrderField, IncidentStatus, OrderDirection, Severity
from schema.node import Node
from schema.pagination import Connection, connection, enum_values, fixed_count
from schema.rows import from_row

if TYPE_CHECKING:
    from schema.alerts import Alert, AlertFilter
    from schema.notes import Note
    from schema.sla import IncidentSla
    from schema.timeline import TimelineEvent
    from schema.workspaces import Workspace


@strawberry.input
class IncidentFilter:
    status: list[IncidentStatus] | None = None
    severity: list[Severity] | None = None
    assignee: str | None = None
    query: str | None = strawberry.field(default=None, description="Text to find in the title.")
    created_after: datetime | None = None
    created_before: datetime | None = None

    def to_domain(self) -> DomainIncidentFilter:
        return DomainIncidentFilter(
            status=enum_values(self.status),
            severity=enum_values(self.severity),
            assignee=self.assignee,
            query=self.query,
            created_after=self.created_after,
            created_before=self.created_before,
        )


@strawberry.input
class IncidentOrder:
    field: IncidentOrderField = IncidentOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC

    def key(self) -> str:
        return f"{self.field.value}:{self.direction.value}"


@strawberry.type
class Incident(Node):
    id: strawberry.ID
    number: int
    title: str
    status: IncidentStatus
    severity: Severity
    assignee: str | None
    alert_count: int
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    workspace_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.Incident) -> Incident:
        return from_row(cls, row)

    @strawberry.field
    async def workspace(
        self, info: Info
    ) -> Annotated[Workspace, strawberry.lazy("schema.workspaces")]:
        from schema.workspaces import Workspace

        row = await info.context.loaders.workspace.load(self.workspace_id)
        assert row is not None, "an incident's workspace is always one the caller may read"
        return Workspace.from_row(row)

    @strawberry.field(description="Due times and breaches under its workspace's SLA policy.")
    async def sla(self, info: Info) -> Annotated[IncidentSla, strawberry.lazy("schema.sla")]:
        from schema.sla import incident_sla

        return await incident_sla(info, self)

    @strawberry.field(
        description="Alerts attached to this incident, newest first (`filter.incidentId` is "
        "this incident's id or matches nothing)."
    )
    async def alerts(
        self,
        info: Info,
        filter: Annotated[AlertFilter, strawberry.lazy("schema.alerts")] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Alert, strawberry.lazy("schema.alerts")]]:
        from schema.alerts import Alert

        args = page_args(first, after, last, before)
        flt = filter.to_domain() if filter is not None else NO_ALERT_FILTER
        loaders = info.context.loaders
        page = await loaders.alert_page.load((self.workspace_id, self.id, args, flt))
        if flt == NO_ALERT_FILTER:
            return connection(page, Alert.from_row, fixed_count(self.alert_count))
        key = (self.workspace_id, self.id, flt)
        return connection(page, Alert.from_row, lambda: loaders.alert_count.load(key))

    @strawberry.field(description="Notes, oldest first.")
    async def notes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Note, strawberry.lazy("schema.notes")]]:
        from schema.notes import Note

        args = page_args(first, after, last, before)
        page = await info.context.loaders.note_page.load((self.workspace_id, self.id, args))
        loader = info.context.loaders.note_count
        key = (self.workspace_id, self.id)
        return connection(page, Note.from_row, lambda: loader.load(key))

    @strawberry.field(
        description="Timeline events, oldest first. `last: 3` gives the three latest."
    )
    async def timeline(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[TimelineEvent, strawberry.lazy("schema.timeline")]]:
        from schema.timeline import TimelineEvent

        args = page_args(first, after, last, before)
        page = await info.context.loaders.timeline_page.load((self.workspace_id, self.id, args))
        loader = info.context.loaders.timeline_count
        key = (self.workspace_id, self.id)
        return connection(page, TimelineEvent.from_row, lambda: loader.load(key))
