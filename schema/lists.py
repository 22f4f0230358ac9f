"""The top-level lists (incidents, alerts, reports, workspaces), shared by the root query fields
and the same fields on `Workspace`. The workspace id passed in is always one already authorized.

Domain errors (a bad cursor, `first: 500`) propagate: the execution layer turns every DomainError
into a GraphQL error with its code."""

from __future__ import annotations

from gateway.domain.incidents import alerts, incidents
from gateway.domain.incidents.incidents import DEFAULT_ORDER
from gateway.domain.pagination import PageArgs, page_args
from gateway.domain.reports import service as reports
from gateway.domain.tenancy import workspaces
from schema.alerts import Alert, AlertFilter
from schema.context import Info
from schema.incidents import Incident, IncidentFilter, IncidentOrder
from schema.pagination import Connection, connection, workspace_rows
from schema.reports import Report
from schema.workspaces import Workspace


async def incident_connection(
    info: Info,
    workspace_id: str,
    flt: IncidentFilter | None,
    first: int | None,
    after: str | None,
    order_by: IncidentOrder | None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[Incident]:
    args = page_args(first, after, last, before)
    domain_filter = (flt or IncidentFilter()).to_domain()
    order = order_by.key() if order_by else DEFAULT_ORDER
    db = info.context.db
    async with db.read() as session:
        page = await incidents.list_incidents(session, workspace_id, domain_filter, args, order)

    async def count() -> int:
        async with db.read() as session:
            return await incidents.count_incidents(session, workspace_id, domain_filter)

    return connection(page, Incident.from_row, count)


async def alert_connection(
    info: Info,
    workspace_id: str,
    flt: AlertFilter | None,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[Alert]:
    args = page_args(first, after, last, before)
    domain_filter = (flt or AlertFilter()).to_domain()
    db = info.context.db
    async with db.read() as session:
        page = await alerts.list_alerts(session, workspace_id, domain_filter, args)

    async def count() -> int:
        async with db.read() as session:
            return await alerts.count_alerts(session, workspace_id, domain_filter)

    return connection(page, Alert.from_row, count)


async def report_connection(info: Info, workspace_id: str, args: PageArgs) -> Connection[Report]:
    return await workspace_rows(
        info.context.db, workspace_id, args, reports.list_reports,
        reports.count_reports, Report.from_row,
    )


async def workspace_connection(info: Info, args: PageArgs) -> Connection[Workspace]:
    permitted = info.context.principal.permitted_workspace_ids
    async with info.context.db.read() as session:
        page = await workspaces.list_workspaces(session, permitted, args)

    async def count() -> int:
        return len(permitted)

    return connection(page, Workspace.from_row, count)
