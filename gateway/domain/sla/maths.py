"""SLA maths: due dates and breach flags per incident, and the summary over a period.

Per incident. Targets run from `created_at`. The first response is `acknowledged_at`, or
`resolved_at` for an incident resolved without being acknowledged. A target is breached when the
response (or, while there is none yet, the current time) is strictly later than the due time:
acknowledging at exactly the due time is within target.

Summary. Incidents created in `[since, until)`, in their state as of `now`:
- `mtta`: first response minus creation, over incidents that had a response;
- `mttr`: resolution minus creation, over resolved incidents;
- mean, p50 and p90 in seconds (millisecond precision); percentiles are nearest-rank (the value
  at position ceil(p/100 * n) of the sorted durations, so always a duration that occurred);
- `ack_breaches` / `resolve_breaches`: incidents whose target is breached (open ones count as
  soon as their due time has passed);
- `compliance`: `within_targets / measured`, where `measured` counts incidents that have at
  least one target and `within_targets` those of them with no breach; null when nothing is
  measured (e.g. only `info` incidents).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.errors import InvalidInput
from gateway.domain.sla.policy import (
    BREACH_KINDS,
    DEFAULT_POLICY,
    DEFAULT_WINDOW,
    MAX_WINDOW,
    Policy,
    Target,
    format_duration,
    policy_from_json,
)
from gateway.domain.storage.models import SEVERITIES, Incident, Workspace
from gateway.domain.tenancy.workspaces import descendant_ids
from gateway.domain.timeutil import isoformat_z, to_utc, utcnow

# --- one incident -------------------------------------------------------------------------------


class IncidentTimes(Protocol):
    @property
    def severity(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class IncidentSla:
    ack_due_at: datetime | None
    resolve_due_at: datetime | None
    ack_breached: bool
    resolve_breached: bool
    responded_at: datetime | None
    resolved_at: datetime | None

    def breached(self, kind: str) -> bool:
        return self.ack_breached if kind == "ack" else self.resolve_breached

    def due_at(self, kind: str) -> datetime | None:
        return self.ack_due_at if kind == "ack" else self.resolve_due_at


def target_for(policies: Mapping[str, Policy], workspace_id: str, severity: str) -> Target:
    """The targets of `severity` under the policy of `workspace_id` (the defaults for a workspace
    missing from `policies`); no target for an unknown severity."""
    return policies.get(workspace_id, DEFAULT_POLICY).get(severity) or Target(None, None)


def first_response(incident: IncidentTimes) -> datetime | None:
    times = [to_utc(t) for t in (incident.acknowledged_at, incident.resolved_at) if t is not None]
    return min(times) if times else None


def incident_sla(incident: IncidentTimes, target: Target, now: datetime) -> IncidentSla:
    created = to_utc(incident.created_at)
    now = to_utc(now)
    responded = first_response(incident)
    resolved = to_utc(incident.resolved_at) if incident.resolved_at else None
    ack_due = created + timedelta(seconds=target.ack_seconds) if target.ack_seconds else None
    resolve_due = (
        created + timedelta(seconds=target.resolve_seconds) if target.resolve_seconds else None
    )
    return IncidentSla(
        ack_due_at=ack_due,
        resolve_due_at=resolve_due,
        ack_breached=ack_due is not None and (responded or now) > ack_due,
        resolve_breached=resolve_due is not None and (resolved or now) > resolve_due,
        responded_at=responded,
        resolved_at=resolved,
    )


# --- the summary --------------------------------------------------------------------------------


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class DurationStats:
    count: int
    mean: float | None
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> DurationStats:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None, None)
        mean = round(sum(ordered) / len(ordered), 3)
        return cls(len(ordered), mean, nearest_rank(ordered, 50), nearest_rank(ordered, 90))

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "p50": self.p50, "p90": self.p90}


@dataclass(frozen=True)
class Figures:
    incidents_total: int
    incidents_open: int
    mtta: DurationStats
    mttr: DurationStats
    ack_breaches: int
    resolve_breaches: int
    measured: int
    within_targets: int

    @property
    def compliance(self) -> float | None:
        return round(self.within_targets / self.measured, 6) if self.measured else None

    def to_json(self) -> dict[str, Any]:
        return {
            "incidents_total": self.incidents_total,
            "incidents_open": self.incidents_open,
            "mtta_seconds": self.mtta.to_json(),
            "mttr_seconds": self.mttr.to_json(),
            "ack_breaches": self.ack_breaches,
            "resolve_breaches": self.resolve_breaches,
            "measured": self.measured,
            "within_targets": self.within_targets,
            "compliance": self.compliance,
        }


@dataclass(frozen=True)
class IncidentRow:
    """The columns the maths needs (and a report lists), without ORM objects."""

    id: str
    workspace_id: str
    number: int
    title: str
    severity: str
    status: str
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    assignee: str | None = None
    alert_count: int = 0


@dataclass(frozen=True)
class Evaluated:
    incident: IncidentRow
    target: Target
    sla: IncidentSla


@dataclass(frozen=True)
class SlaSummary:
    since: datetime
    until: datetime
    now: datetime
    workspace_ids: tuple[str, ...]
    overall: Figures
    by_severity: dict[str, Figures]
    evaluated: tuple[Evaluated, ...] = field(repr=False, default=())
    # The effective policy of each workspace summarised (one missing from it does not exist).
    policies: Mapping[str, Policy] = field(repr=False, default_factory=dict)

    def breaches(self) -> list[dict[str, Any]]:
        """Every breach, oldest due time first: one row per (incident, kind)."""
        rows = []
        for item in self.evaluated:
            for kind in BREACH_KINDS:
                if not item.sla.breached(kind):
                    continue
                due = item.sla.due_at(kind)
                assert due is not None
                met = item.sla.responded_at if kind == "ack" else item.sla.resolved_at
                rows.append({
                    "incident_id": item.incident.id,
                    "workspace_id": item.incident.workspace_id,
                    "number": item.incident.number,
                    "title": item.incident.title,
                    "severity": item.incident.severity,
                    "kind": kind,
                    "due_at": isoformat_z(due),
                    "met_at": isoformat_z(met) if met else None,
                    "overdue_seconds": _seconds((met or self.now) - due),
                })
        rows.sort(key=lambda row: (row["due_at"], row["incident_id"], row["kind"]))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "since": isoformat_z(self.since),
            "until": isoformat_z(self.until),
            "as_of": isoformat_z(self.now),
            "workspace_ids": list(self.workspace_ids),
            **self.overall.to_json(),
            "by_severity": [
                {"severity": severity, **self.by_severity[severity].to_json()}
                for severity in SEVERITIES
            ],
        }


def figures(items: Sequence[Evaluated]) -> Figures:
    mtta, mttr = [], []
    ack_breaches = resolve_breaches = measured = within = opened = 0
    for item in items:
        created = to_utc(item.incident.created_at)
        if item.sla.responded_at is not None:
            mtta.append(_seconds(item.sla.responded_at - created))
        if item.sla.resolved_at is not None:
            mttr.append(_seconds(item.sla.resolved_at - created))
        if item.incident.status != "resolved":
            opened += 1
        ack_breaches += item.sla.ack_breached
        resolve_breaches += item.sla.resolve_breached
        if item.target.has_any:
            measured += 1
            within += not (item.sla.ack_breached or item.sla.resolve_breached)
    return Figures(
        incidents_total=len(items),
        incidents_open=opened,
        mtta=DurationStats.of(mtta),
        mttr=DurationStats.of(mttr),
        ack_breaches=ack_breaches,
        resolve_breaches=resolve_breaches,
        measured=measured,
        within_targets=within,
    )


def summarize(
    incidents: Iterable[IncidentRow],
    policies: Mapping[str, Policy],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    workspace_ids: Sequence[str],
) -> SlaSummary:
    """Pure maths: each incident is judged by the policy of its own workspace."""
    evaluated = []
    for row in incidents:
        target = target_for(policies, row.workspace_id, row.severity)
        evaluated.append(Evaluated(row, target, incident_sla(row, target, now)))
    per_severity = {
        severity: figures([e for e in evaluated if e.incident.severity == severity])
        for severity in SEVERITIES
    }
    return SlaSummary(
        since=since,
        until=until,
        now=now,
        workspace_ids=tuple(workspace_ids),
        overall=figures(evaluated),
        by_severity=per_severity,
        evaluated=tuple(evaluated),
        policies=policies,
    )


def window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """`[since, until)`, default the 30 days up to now; at most 366 days."""
    end = to_utc(until) if until else now
    start = to_utc(since) if since else end - DEFAULT_WINDOW
    if start >= end:
        raise InvalidInput("since must be before until", field="since")
    if end - start > MAX_WINDOW:
        raise InvalidInput("an SLA summary may span at most 366 days", field="since")
    return start, end


async def load_incidents(
    session: AsyncSession, workspace_ids: Sequence[str], since: datetime, until: datetime
) -> list[IncidentRow]:
    stmt = (
        select(
            col(Incident.id), col(Incident.workspace_id), col(Incident.number),
            col(Incident.title), col(Incident.severity), col(Incident.status),
            col(Incident.created_at), col(Incident.acknowledged_at), col(Incident.resolved_at),
            col(Incident.assignee), col(Incident.alert_count),
        )
        .where(col(Incident.workspace_id).in_(workspace_ids))
        .where(col(Incident.created_at) >= since, col(Incident.created_at) < until)
        .order_by(col(Incident.created_at), col(Incident.id))
    )
    return [IncidentRow(*row) for row in (await session.execute(stmt)).all()]


async def load_policies(
    session: AsyncSession, workspace_ids: Sequence[str] | None = None
) -> dict[str, dict[str, Target]]:
    """The effective policy of each of `workspace_ids` that exists (None: of every workspace)."""
    stmt = select(col(Workspace.id), col(Workspace.sla_policy))
    if workspace_ids is not None:
        stmt = stmt.where(col(Workspace.id).in_(workspace_ids))
    return {ws_id: policy_from_json(raw) for ws_id, raw in (await session.execute(stmt)).all()}


async def summary_for(
    session: AsyncSession,
    workspace_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    include_children: bool = False,
    permitted: frozenset[str] | None = None,
    now: datetime | None = None,
) -> SlaSummary:
    """The SLA summary of a workspace, or with `include_children` of it and every workspace
    below it that is in `permitted` (the caller's reach), pooled as one set of incidents."""
    moment = to_utc(now) if now else utcnow()
    start, end = window(since, until, moment)
    ids = [workspace_id]
    if include_children:
        ids = [
            ws for ws in await descendant_ids(session, workspace_id)
            if permitted is None or ws in permitted
        ]
    rows = await load_incidents(session, ids, start, end)
    policies = await load_policies(session, ids)
    return summarize(rows, policies, since=start, until=end, now=moment, workspace_ids=ids)


def policy_rows(policy: Policy) -> list[dict[str, Any]]:
    """The policy as a list (one row per severity, highest first), for JSON and CLI output."""
    return [
        {
            "severity": severity,
            "ack_seconds": policy[severity].ack_seconds,
            "resolve_seconds": policy[severity].resolve_seconds,
            "ack": format_duration(policy[severity].ack_seconds),
            "resolve": format_duration(policy[severity].resolve_seconds),
        }
        for severity in SEVERITIES
    ]
