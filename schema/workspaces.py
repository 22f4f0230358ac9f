"""GraphQL `Workspace`: a tenant, its place in the MSSP tree, and its incidents and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.domain.pagination import page_args
from gateway.domain.storage import models
from schema.context import Info
from schema.enums import Tier
from schema.node import Node
from schema.pagination import Connection
from schema.rows import from_row

if TYPE_CHECKING:
    from schema.alerts import Alert, AlertFilter
    from schema.incidents import Incident, IncidentFilter, IncidentOrder
    from schema.ingest import WebhookDelivery
    from schema.sla import SlaPolicy, SlaSummary


@strawberry.type
class Workspace(Node):
    id: strawberry.ID
    slug: str
    name: str
    tier: Tier
    created_at: datetime
    parent_id: strawberry.Private[str | None]
    stored_sla_policy: strawberry.Private[dict[str, Any] | None]  # what `slaPolicy` reads

    @classmethod
    def from_row(cls, row: models.Workspace) -> Workspace:
        return from_row(cls, row, stored_sla_policy=row.sla_policy)

    @strawberry.field(
        description="The MSSP workspace that manages this one, if the caller may see it."
    )
    async def parent(self, info: Info) -> Workspace | None:
        if self.parent_id is None:
            return None
        row = await info.context.loaders.workspace.load(self.parent_id)
        return Workspace.from_row(row) if row else None

    @strawberry.field(description="Customer workspaces managed by this one.")
    async def children(self, info: Info) -> list[Workspace]:
        rows = await info.context.loaders.children.load(self.id)
        return [Workspace.from_row(row) for row in rows]

    @strawberry.field
    async def incidents(
        self,
        info: Info,
        filter: Annotated[IncidentFilter, strawberry.lazy("schema.incidents")] | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: Annotated[IncidentOrder, strawberry.lazy("schema.incidents")] | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Incident, strawberry.lazy("schema.incidents")]]:
        from schema.lists import incident_connection

        return await incident_connection(
            info, self.id, filter, first, after, order_by, last, before
        )

    @strawberry.field
    async def alerts(
        self,
        info: Info,
        filter: Annotated[AlertFilter, strawberry.lazy("schema.alerts")] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Alert, strawberry.lazy("schema.alerts")]]:
        from schema.lists import alert_connection

        return await alert_connection(info, self.id, filter, first, after, last, before)

    @strawberry.field(
        description="Requests to this workspace's webhook URL, newest first: size, format, "
        "status answered, alerts produced, and why a refused one was refused."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[WebhookDelivery, strawberry.lazy("schema.ingest")]]:
        from schema.ingest import delivery_connection

        return await delivery_connection(info, self.id, page_args(first, after, last, before))

    @strawberry.field(description="Acknowledge and resolve targets per severity.")
    def sla_policy(self) -> Annotated[SlaPolicy, strawberry.lazy("schema.sla")]:
        from schema.sla import workspace_sla_policy

        return workspace_sla_policy(self.stored_sla_policy)

    @strawberry.field(
        description="SLA figures of the incidents created in [since, until) (default: the last "
        "30 days, at most 366). With includeChildren, this workspace and every workspace below "
        "it that the caller may see, pooled."
    )
    async def sla_summary(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        include_children: bool = False,
    ) -> Annotated[SlaSummary, strawberry.lazy("schema.sla")]:
        from schema.sla import workspace_sla_summary

        return await workspace_sla_summary(info, self.id, since, until, include_children)
