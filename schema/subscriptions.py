"""The root `Subscription`: live events, over graphql-transport-ws on /graphql.

Each field follows one workspace: the acting one (the key's own, or `X-Workspace-ID` given in
`connection_init`), or the one named by `workspaceId`, which must be a workspace the key may act
on (its own or, for an MSSP key, one below it), exactly as for queries. A workspace the key may
not act on is a FORBIDDEN error whether it exists or not.

Events arrive from `gateway.domain.events.hub` after their transaction committed; the row each
points at is
loaded from the database (once per process and event), scoped to the subscribed workspace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.events import hub as events
from gateway.domain.incidents import alerts, timeline
from gateway.domain.reports import service as reports
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import FORBIDDEN_WORKSPACE
from gateway.domain.tenancy.workspaces import find_workspace
from schema.alerts import Alert
from schema.context import Context, Info
from schema.errors import CodedError
from schema.ingest import IngestOutcome
from schema.loaders import Loaders
from schema.reports import Report
from schema.timeline import TimelineEvent

WEBSOCKET_ONLY = (
    "subscriptions are served over WebSocket: connect to /graphql with the "
    "graphql-transport-ws subprotocol"
)


@dataclass
class SubscriptionContext(Context):
    """The context of one WebSocket connection: the principal is set by `connection_init`."""

    hub: events.EventHub | None = None
    # What `connection_init` carried (Strawberry stores it here), and the credentials taken
    # from it, kept to re-check the key while the connection lives.
    connection_params: dict[str, Any] | None = None
    authorization: str | None = None
    workspace_ref: str | None = None


@strawberry.type(description="An alert that went through ingestion (webhook, REST or GraphQL).")
class AlertIngested:
    outcome: IngestOutcome = strawberry.field(description="What ingestion did with it.")
    alert: Alert = strawberry.field(description="The alert as stored after that ingestion.")


def _hub(info: Info) -> events.EventHub:
    hub = getattr(info.context, "hub", None)
    if not isinstance(hub, events.EventHub):
        raise CodedError(WEBSOCKET_ONLY, "BAD_REQUEST")
    return hub


async def _workspace(info: Info, workspace_id: strawberry.ID | None) -> str:
    principal = info.context.principal
    if workspace_id is None:
        return principal.acting_workspace_id
    async with info.context.db.read() as session:
        row = await find_workspace(session, str(workspace_id), principal.permitted_workspace_ids)
    if row is None:
        raise CodedError(FORBIDDEN_WORKSPACE, "FORBIDDEN")
    return row.id


Fetch = Callable[[Database, events.Event], Awaitable[Any]]
ByIds = Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, Any]]]


async def _stream(
    info: Info, topic: str, workspace_id: str, fetch: Fetch,
    keep: Callable[[events.Event], bool] | None = None,
) -> AsyncIterator[tuple[events.Event, Any]]:
    """(event, row) for every committed event of `topic` in `workspace_id`; rows that are gone
    are skipped. Each event gets fresh dataloaders: nothing is served from an earlier event's
    cache, and a long-lived connection does not accumulate one."""
    context: Context = info.context
    hub = _hub(info)
    db = context.db

    async def load(event: events.Event) -> Any:
        return await fetch(db, event)

    with hub.subscribe(topic, workspace_id) as subscriber:
        try:
            async for delivery in subscriber:
                if keep is not None and not keep(delivery.event):
                    continue
                row = await delivery.load(load)
                if row is None:
                    continue
                context.loaders = Loaders(db, context.principal)
                yield delivery.event, row
        except events.SubscriberTooSlow as exc:
            raise CodedError(str(exc), "SUBSCRIBER_TOO_SLOW") from None
        except events.StreamClosed:
            return


def _row_of(by_ids: ByIds) -> Fetch:
    """The row an event points at, read with `by_ids` in the event's workspace (None if gone)."""

    async def fetch(db: Database, event: events.Event) -> Any:
        async with db.read() as session:
            found = await by_ids(session, event.workspace_id, [event.id])
        return found.get(event.id)

    return fetch


_timeline_row = _row_of(timeline.events_by_ids)
_alert_row = _row_of(alerts.alerts_by_ids)
_report_row = _row_of(reports.reports_by_ids)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Every timeline event of a workspace (the acting one by default), as it "
        "is committed: incidents opened, alerts attached and resolved, status, assignee and "
        "severity changes, notes, SLA breaches. `incidentId` follows one incident."
    )
    async def incident_events(
        self,
        info: Info,
        workspace_id: strawberry.ID | None = None,
        incident_id: strawberry.ID | None = None,
    ) -> AsyncIterator[TimelineEvent]:
        _hub(info)
        workspace = await _workspace(info, workspace_id)
        wanted = str(incident_id) if incident_id is not None else None

        async def run() -> AsyncIterator[TimelineEvent]:
            async for _, row in _stream(
                info, events.INCIDENT_EVENT, workspace, _timeline_row,
                keep=None if wanted is None else (lambda e: e.incident_id == wanted),
            ):
                yield TimelineEvent.from_row(row)

        return run()

    @strawberry.subscription(
        description="Every alert ingested into a workspace (the acting one by default), with "
        "what ingestion did with it, once its transaction is committed."
    )
    async def alerts_ingested(
        self, info: Info, workspace_id: strawberry.ID | None = None
    ) -> AsyncIterator[AlertIngested]:
        _hub(info)
        workspace = await _workspace(info, workspace_id)

        async def run() -> AsyncIterator[AlertIngested]:
            async for event, row in _stream(info, events.ALERT_INGESTED, workspace, _alert_row):
                yield AlertIngested(
                    outcome=IngestOutcome(event.kind or "created"), alert=Alert.from_row(row)
                )

        return run()

    @strawberry.subscription(
        description="Reports of a workspace (the acting one by default) as they become READY "
        "or FAILED."
    )
    async def report_completed(
        self, info: Info, workspace_id: strawberry.ID | None = None
    ) -> AsyncIterator[Report]:
        _hub(info)
        workspace = await _workspace(info, workspace_id)

        async def run() -> AsyncIterator[Report]:
            async for _, row in _stream(info, events.REPORT_COMPLETED, workspace, _report_row):
                yield Report.from_row(row)

        return run()
