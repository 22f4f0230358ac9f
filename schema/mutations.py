"""The root `Mutation`. Every mutation takes one input object and returns a payload whose
`userErrors` explain input the caller can fix; nothing is written when there are any."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.domain.errors import DomainError
from gateway.domain.incidents import incidents
from gateway.domain.incidents.incidents import IncidentChanges
from gateway.domain.reports import service as reports
from schema.context import Info
from schema.enums import IncidentStatus, ReportKind, Severity
from schema.errors import UserError, user_error
from schema.incidents import Incident
from schema.ingest import IngestAlertPayload, resolve_ingest_alert
from schema.notes import Note
from schema.reports import Report
from schema.sla import UpdateSlaPolicyInput, UpdateSlaPolicyPayload, resolve_update_sla_policy


@strawberry.input
class UpdateIncidentInput:
    id: strawberry.ID
    status: IncidentStatus | None = None
    assignee: str | None = strawberry.field(
        default=strawberry.UNSET, description="null unassigns; omit to leave as is."
    )
    severity: Severity | None = strawberry.field(
        default=None, description="Set by hand: later alerts no longer raise it."
    )


@strawberry.type
class UpdateIncidentPayload:
    incident: Incident | None
    user_errors: list[UserError]


@strawberry.input
class AddIncidentNoteInput:
    incident_id: strawberry.ID
    body: str
    author: str | None = strawberry.field(default=None, description="Default: the key's name.")


@strawberry.type
class AddIncidentNotePayload:
    note: Note | None
    incident: Incident | None
    user_errors: list[UserError]


@strawberry.input
class GenerateReportInput:
    kind: ReportKind
    period_start: datetime | None = None
    period_end: datetime | None = None


@strawberry.type
class GenerateReportPayload:
    report: Report | None
    user_errors: list[UserError]


@strawberry.type
class Mutation:
    ingest_alert: IngestAlertPayload = strawberry.mutation(
        resolver=resolve_ingest_alert,
        description="Ingest an alert (typed fields) or a whole body (`payload`: generic, batch, "
        "Alertmanager, Grafana, any object): deduplicate, correlate, commit, then answer.",
    )

    @strawberry.mutation(description="Change an incident's status, assignee or severity.")
    async def update_incident(
        self, info: Info, input: UpdateIncidentInput
    ) -> UpdateIncidentPayload:
        ctx = info.context
        ctx.require_write()
        changes = IncidentChanges(
            status=input.status.value if input.status else None,
            severity=input.severity.value if input.severity else None,
            assignee=input.assignee if input.assignee is not strawberry.UNSET else None,
            assignee_given=input.assignee is not strawberry.UNSET,
        )
        try:
            async with ctx.db.write() as session:
                row = await incidents.update_incident(
                    session, ctx.workspace_id, input.id, changes, ctx.principal.actor
                )
        except DomainError as exc:
            return UpdateIncidentPayload(incident=None, user_errors=[user_error(exc)])
        return UpdateIncidentPayload(incident=Incident.from_row(row), user_errors=[])

    @strawberry.mutation(description="Add a note to an incident (writes `note.added`).")
    async def add_incident_note(
        self, info: Info, input: AddIncidentNoteInput
    ) -> AddIncidentNotePayload:
        ctx = info.context
        ctx.require_write()
        try:
            async with ctx.db.write() as session:
                note = await incidents.add_note(
                    session,
                    ctx.workspace_id,
                    input.incident_id,
                    input.body,
                    input.author,
                    ctx.principal.actor,
                )
                incident = await incidents.get_incident(session, ctx.workspace_id, note.incident_id)
        except DomainError as exc:
            return AddIncidentNotePayload(note=None, incident=None, user_errors=[user_error(exc)])
        return AddIncidentNotePayload(
            note=Note.from_row(note), incident=Incident.from_row(incident), user_errors=[]
        )

    @strawberry.mutation(description="Queue a report; poll `report(id:)` until it is READY.")
    async def generate_report(
        self, info: Info, input: GenerateReportInput
    ) -> GenerateReportPayload:
        ctx = info.context
        ctx.require_write()
        try:
            async with ctx.db.write() as session:
                row = await reports.request_report(
                    session,
                    ctx.workspace_id,
                    input.kind.value,
                    input.period_start,
                    input.period_end,
                    ctx.principal.actor,
                )
        except DomainError as exc:
            return GenerateReportPayload(report=None, user_errors=[user_error(exc)])
        return GenerateReportPayload(report=Report.from_row(row), user_errors=[])

    @strawberry.mutation(
        description="Change the acting workspace's SLA targets (write scope). Targets not "
        "mentioned keep their value; nothing is written when there are userErrors."
    )
    async def update_sla_policy(
        self, info: Info, input: UpdateSlaPolicyInput
    ) -> UpdateSlaPolicyPayload:
        return await resolve_update_sla_policy(info, input)
