"""GraphQL for SLAs: `Incident.sla`, `Workspace.slaPolicy`, `Workspace.slaSummary` and the
`updateSlaPolicy` mutation. The maths lives in `gateway.domain.sla.maths`; this module only
translates."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.domain.errors import DomainError
from gateway.domain.sla import maths
from gateway.domain.sla import policy as sla
from gateway.domain.storage.engine import Database
from gateway.domain.timeutil import utcnow
from schema.context import Info
from schema.enums import Severity
from schema.errors import UserError, user_error

if TYPE_CHECKING:
    from schema.incidents import Incident
    from schema.workspaces import Workspace


@strawberry.type(description="An incident's SLA: due times and whether each target was missed.")
class IncidentSla:
    ack_due_at: datetime | None = strawberry.field(
        description="When the incident must be acknowledged by; null when there is no target."
    )
    resolve_due_at: datetime | None = strawberry.field(
        description="When the incident must be resolved by; null when there is no target."
    )
    ack_breached: bool = strawberry.field(
        description="The first response (acknowledge, or resolve without one) came after "
        "ackDueAt, or has not come and ackDueAt has passed. Exactly at ackDueAt is in time."
    )
    resolve_breached: bool = strawberry.field(
        description="Resolved after resolveDueAt, or still open and resolveDueAt has passed."
    )
    ack_target_seconds: int | None
    resolve_target_seconds: int | None


@strawberry.type(description="Targets for one severity, in seconds; null means no target.")
class SlaTarget:
    severity: Severity
    ack_seconds: int | None
    resolve_seconds: int | None


@strawberry.type(description="A workspace's acknowledge and resolve targets per severity.")
class SlaPolicy:
    targets: list[SlaTarget] = strawberry.field(description="One per severity, highest first.")
    is_default: bool = strawberry.field(description="True while the defaults apply unchanged.")

    @classmethod
    def from_policy(cls, policy: sla.Policy) -> SlaPolicy:
        return cls(
            targets=[
                SlaTarget(
                    severity=Severity(row["severity"]),
                    ack_seconds=row["ack_seconds"],
                    resolve_seconds=row["resolve_seconds"],
                )
                for row in maths.policy_rows(policy)
            ],
            is_default=dict(policy) == sla.DEFAULT_POLICY,
        )


@strawberry.type(description="Mean, median and 90th percentile (nearest rank), in seconds.")
class DurationStats:
    count: int = strawberry.field(description="How many incidents the figures are taken over.")
    mean: float | None
    p50: float | None
    p90: float | None

    @classmethod
    def from_domain(cls, stats: maths.DurationStats) -> DurationStats:
        return cls(count=stats.count, mean=stats.mean, p50=stats.p50, p90=stats.p90)


@strawberry.interface(description="SLA figures over a set of incidents.")
class SlaFigures:
    incidents_total: int
    incidents_open: int
    mtta_seconds: DurationStats = strawberry.field(
        description="Time to first response (acknowledge, or resolve without one)."
    )
    mttr_seconds: DurationStats = strawberry.field(description="Time to resolve.")
    ack_breaches: int = strawberry.field(description="Incidents that missed the ack target.")
    resolve_breaches: int = strawberry.field(
        description="Incidents that missed the resolve target."
    )
    measured: int = strawberry.field(description="Incidents with at least one target.")
    within_targets: int = strawberry.field(description="Measured incidents with no breach.")
    compliance: float | None = strawberry.field(
        description="withinTargets / measured (0..1); null when nothing is measured."
    )


def _figure_fields(figures: maths.Figures) -> dict[str, Any]:
    return {
        "incidents_total": figures.incidents_total,
        "incidents_open": figures.incidents_open,
        "mtta_seconds": DurationStats.from_domain(figures.mtta),
        "mttr_seconds": DurationStats.from_domain(figures.mttr),
        "ack_breaches": figures.ack_breaches,
        "resolve_breaches": figures.resolve_breaches,
        "measured": figures.measured,
        "within_targets": figures.within_targets,
        "compliance": figures.compliance,
    }


@strawberry.type
class SeveritySlaFigures(SlaFigures):
    severity: Severity


@strawberry.type(
    description="SLA figures of the incidents created in [since, until), as of `asOf`."
)
class SlaSummary(SlaFigures):
    since: datetime
    until: datetime
    as_of: datetime
    workspace_ids: list[strawberry.ID] = strawberry.field(
        description="The workspaces whose incidents are counted (with includeChildren, the "
        "workspace and every workspace below it that the caller may see)."
    )
    by_severity: list[SeveritySlaFigures] = strawberry.field(
        description="The same figures per severity, highest first."
    )

    @classmethod
    def from_domain(cls, summary: maths.SlaSummary) -> SlaSummary:
        return cls(
            since=summary.since,
            until=summary.until,
            as_of=summary.now,
            workspace_ids=[strawberry.ID(ws) for ws in summary.workspace_ids],
            by_severity=[
                SeveritySlaFigures(severity=Severity(severity), **_figure_fields(figures))
                for severity, figures in summary.by_severity.items()
            ],
            **_figure_fields(summary.overall),
        )


# --- resolvers used by Incident and Workspace ---------------------------------------------------


async def incident_sla(info: Info, incident: Incident) -> IncidentSla:
    workspace = await info.context.loaders.workspace.load(incident.workspace_id)
    times = maths.IncidentRow(
        id=str(incident.id), workspace_id=incident.workspace_id, number=incident.number,
        title=incident.title, severity=incident.severity.value, status=incident.status.value,
        created_at=incident.created_at, acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
    )
    policy = sla.policy_from_json(workspace.sla_policy if workspace else None)
    return sla_of(policy, times, utcnow())


def sla_of(policy: sla.Policy, times: maths.IncidentRow, now: datetime) -> IncidentSla:
    """`Incident.sla` of an incident under its workspace's policy (the cached plans in
    schema/plan call it once per row too, with each workspace's policy read once)."""
    target = policy[times.severity]
    state = maths.incident_sla(times, target, now)
    return IncidentSla(
        ack_due_at=state.ack_due_at,
        resolve_due_at=state.resolve_due_at,
        ack_breached=state.ack_breached,
        resolve_breached=state.resolve_breached,
        ack_target_seconds=target.ack_seconds,
        resolve_target_seconds=target.resolve_seconds,
    )


def workspace_sla_policy(stored: dict[str, Any] | None) -> SlaPolicy:
    return SlaPolicy.from_policy(sla.policy_from_json(stored))


async def workspace_sla_summary(
    info: Info,
    workspace_id: str,
    since: datetime | None,
    until: datetime | None,
    include_children: bool,
) -> SlaSummary:
    return await sla_summary_of(
        info.context.db, info.context.principal.permitted_workspace_ids, workspace_id, since,
        until, include_children,
    )


async def sla_summary_of(
    db: Database,
    permitted: frozenset[str],
    workspace_id: str,
    since: datetime | None,
    until: datetime | None,
    include_children: bool,
) -> SlaSummary:
    """`Workspace.slaSummary` (the cached plans in schema/plan call it too)."""
    async with db.read() as session:
        summary = await maths.summary_for(
            session, workspace_id, since=since, until=until, include_children=include_children,
            permitted=permitted,
        )
    return SlaSummary.from_domain(summary)


# --- the mutation -------------------------------------------------------------------------------


@strawberry.input
class SlaTargetInput:
    severity: Severity
    ack_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Seconds; null removes the target; omit to keep."
    )
    resolve_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Seconds; null removes the target; omit to keep."
    )


@strawberry.input
class UpdateSlaPolicyInput:
    targets: list[SlaTargetInput] = strawberry.field(
        default_factory=list, description="Changes, at most one per severity."
    )
    reset_to_defaults: bool = strawberry.field(
        default=False, description="Start from the defaults instead of the current policy."
    )


@strawberry.type
class UpdateSlaPolicyPayload:
    workspace: Annotated[Workspace, strawberry.lazy("schema.workspaces")] | None
    sla_policy: SlaPolicy | None
    user_errors: list[UserError]


def _change(target: SlaTargetInput) -> sla.TargetChange:
    return sla.TargetChange(
        severity=target.severity.value,
        ack_seconds=sla.UNSET if target.ack_seconds is strawberry.UNSET else target.ack_seconds,
        resolve_seconds=(
            sla.UNSET if target.resolve_seconds is strawberry.UNSET else target.resolve_seconds
        ),
    )


async def resolve_update_sla_policy(
    info: Info, input: UpdateSlaPolicyInput
) -> UpdateSlaPolicyPayload:
    """`Mutation.updateSlaPolicy`."""
    from schema.workspaces import Workspace

    ctx = info.context
    ctx.require_write()
    try:
        async with ctx.db.write() as session:
            row, policy = await sla.update_policy(
                session, ctx.workspace_id, [_change(t) for t in input.targets],
                reset=input.reset_to_defaults,
            )
    except DomainError as exc:
        return UpdateSlaPolicyPayload(
            workspace=None, sla_policy=None, user_errors=[user_error(exc)]
        )
    ctx.loaders.workspace.prime(row.id, row, force=True)
    return UpdateSlaPolicyPayload(
        workspace=Workspace.from_row(row),
        sla_policy=SlaPolicy.from_policy(policy),
        user_errors=[],
    )
