"""The root `Query`. Everything is scoped to the acting workspace, except the workspace fields,
which range over the key's own workspace and those below it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import strawberry

from gateway.domain import ids
from gateway.domain.errors import InvalidInput
from gateway.domain.ingest import deliveries
from gateway.domain.pagination import page_args
from gateway.domain.tenancy import workspaces
from schema.alerts import Alert, AlertFilter
from schema.context import Context, Info
from schema.enums import KeyScope
from schema.incidents import Incident, IncidentFilter, IncidentOrder
from schema.ingest import WebhookDelivery
from schema.lists import (
    alert_connection,
    incident_connection,
    report_connection,
    workspace_connection,
)
from schema.node import Node
from schema.notes import Note
from schema.pagination import Connection
from schema.reports import Report
from schema.timeline import TimelineEvent
from schema.viewer import Viewer
from schema.workspaces import Workspace

MAX_NODE_IDS = 100


async def _load_scoped(info: Info, prefix: str, node_id: str) -> Node | None:
    """Load a tenant-owned row of the acting workspace by id, as its GraphQL type."""
    loaders = info.context.loaders
    table: dict[str, tuple[Any, Callable[[Any], Node]]] = {
        ids.INCIDENT: (loaders.incident, Incident.from_row),
        ids.ALERT: (loaders.alert, Alert.from_row),
        ids.EVENT: (loaders.event, TimelineEvent.from_row),
        ids.NOTE: (loaders.note, Note.from_row),
        ids.REPORT: (loaders.report, Report.from_row),
    }
    loader, convert = table[prefix]
    row = await loader.load((info.context.workspace_id, node_id))
    return convert(row) if row else None


async def resolve_node(info: Info, node_id: str) -> Node | None:
    """Any id, or null when it is unknown, of another tenant, or of a kind with no node.

    `key_`: the calling key only (the Viewer); one key never reads another. `dlv_`: a webhook
    delivery of the acting workspace. `whk_` (a webhook token's id, printed by the CLI) is
    always null: a token is a credential, not an object of the graph (docs/api.md)."""
    prefix = ids.prefix_of(node_id)
    if prefix == ids.WORKSPACE:
        row = await info.context.loaders.workspace.load(node_id)
        return Workspace.from_row(row) if row else None
    if prefix in (ids.INCIDENT, ids.ALERT, ids.EVENT, ids.NOTE, ids.REPORT):
        return await _load_scoped(info, prefix, node_id)
    if prefix == ids.API_KEY:
        principal = info.context.principal
        return Viewer.of(principal) if node_id == principal.key_id else None
    if prefix == ids.DELIVERY:
        async with info.context.db.read() as session:
            found = await deliveries.deliveries_by_ids(
                session, info.context.workspace_id, [node_id]
            )
        delivery = found.get(node_id)
        return WebhookDelivery.from_row(delivery) if delivery else None
    return None


async def _typed(
    info: Info, node_id: str, prefix: str, load: Callable[[], Awaitable[Any]]
) -> Any:
    """Fetch by id when the prefix matches; a wrong-type id is simply not found (null)."""
    if ids.prefix_of(node_id) != prefix:
        return None
    return await load()


@strawberry.type(description="The calling workspace's rate-limit budget after this request.")
class RateLimit:
    limit: int = strawberry.field(description="Units per minute.")
    remaining: int
    reset_at: datetime = strawberry.field(description="When the bucket is full again.")
    cost: int = strawberry.field(description="What this operation cost.")


def rate_limit_of(context: Context) -> RateLimit | None:
    """`Query.rateLimit` (the cached plans in schema/plan answer it with this too)."""
    decision = context.rate_limit
    if decision is None:
        return None
    return RateLimit(
        limit=decision.limit,
        remaining=decision.remaining,
        reset_at=datetime.fromtimestamp(decision.reset_at, UTC),
        cost=decision.cost,
    )


@strawberry.type
class Query:
    @strawberry.field
    def rate_limit(self, info: Info) -> RateLimit | None:
        return rate_limit_of(info.context)

    @strawberry.field(description="Fetch any object by its id; null if it is not visible.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description=f"Fetch up to {MAX_NODE_IDS} objects by id, in order.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODE_IDS:
            raise InvalidInput(f"at most {MAX_NODE_IDS} ids per call", field="ids")
        return [await resolve_node(info, node_id) for node_id in ids]

    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return Viewer(
            id=strawberry.ID(principal.key_id),
            name=principal.key_name,
            scope=KeyScope(principal.scope),
            own_workspace_id=principal.own_workspace_id,
            acting_workspace_id=principal.acting_workspace_id,
        )

    @strawberry.field(description="A workspace by id or slug; default the acting workspace.")
    async def workspace(self, info: Info, id: strawberry.ID | None = None) -> Workspace | None:
        principal = info.context.principal
        if id is None:
            row = await info.context.loaders.workspace.load(principal.acting_workspace_id)
        else:
            async with info.context.db.read() as session:
                row = await workspaces.find_workspace(
                    session, id, principal.permitted_workspace_ids
                )
        return Workspace.from_row(row) if row else None

    @strawberry.field(description="The key's own workspace and every workspace below it.")
    async def workspaces(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Workspace]:
        return await workspace_connection(info, page_args(first, after, last, before))

    @strawberry.field
    async def incident(self, info: Info, id: strawberry.ID) -> Incident | None:
        return await _typed(info, id, ids.INCIDENT, lambda: _load_scoped(info, ids.INCIDENT, id))

    @strawberry.field
    async def incidents(
        self,
        info: Info,
        filter: IncidentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: IncidentOrder | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Incident]:
        return await incident_connection(
            info, info.context.workspace_id, filter, first, after, order_by, last, before
        )

    @strawberry.field
    async def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        return await _typed(info, id, ids.ALERT, lambda: _load_scoped(info, ids.ALERT, id))

    @strawberry.field
    async def alerts(
        self,
        info: Info,
        filter: AlertFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Alert]:
        return await alert_connection(
            info, info.context.workspace_id, filter, first, after, last, before
        )

    @strawberry.field
    async def report(self, info: Info, id: strawberry.ID) -> Report | None:
        return await _typed(info, id, ids.REPORT, lambda: _load_scoped(info, ids.REPORT, id))

    @strawberry.field
    async def reports(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Report]:
        return await report_connection(
            info, info.context.workspace_id, page_args(first, after, last, before)
        )
