"""SLAs: the policy per workspace, due dates and breach flags per incident, and the summary maths.

Policy. Acknowledge and resolve targets per severity, stored in `Workspace.sla_policy` (JSON) as
`{"critical": {"ack_seconds": 900, "resolve_seconds": 14400}, ...}`. Severities missing from the
stored object take the defaults below; `null` means "no target".

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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.errors import InvalidInput, NotFound
from gateway.domain.storage.models import SEVERITIES, Incident, Workspace
from gateway.domain.tenancy.workspaces import descendant_ids
from gateway.domain.timeutil import isoformat_z, to_utc, utcnow

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_TARGET_SECONDS = 365 * DAY
DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=366)
BREACH_KINDS = ("ack", "resolve")


def breach_word(kind: str) -> str:
    """How a breach kind reads in text: `acknowledge` (ack) or `resolve`."""
    return "acknowledge" if kind == "ack" else "resolve"


@dataclass(frozen=True)
class Target:
    """The targets for one severity, in seconds; None means no target."""

    ack_seconds: int | None
    resolve_seconds: int | None

    @property
    def has_any(self) -> bool:
        return self.ack_seconds is not None or self.resolve_seconds is not None


Policy = Mapping[str, Target]

DEFAULT_POLICY: dict[str, Target] = {
    "critical": Target(15 * MINUTE, 4 * HOUR),
    "high": Target(30 * MINUTE, 8 * HOUR),
    "medium": Target(4 * HOUR, 24 * HOUR),
    "low": Target(24 * HOUR, 72 * HOUR),
    "info": Target(None, None),
}


def _seconds_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def policy_from_json(raw: Mapping[str, Any] | None) -> dict[str, Target]:
    """The effective policy: stored entries over the defaults (malformed entries are ignored)."""
    policy = dict(DEFAULT_POLICY)
    if not isinstance(raw, Mapping):
        return policy
    for severity, entry in raw.items():
        if severity in policy and isinstance(entry, Mapping):
            default = policy[severity]
            policy[severity] = Target(
                _seconds_or_none(entry["ack_seconds"])
                if "ack_seconds" in entry else default.ack_seconds,
                _seconds_or_none(entry["resolve_seconds"])
                if "resolve_seconds" in entry else default.resolve_seconds,
            )
    return policy


def policy_to_json(policy: Policy) -> dict[str, Any]:
    return {
        severity: {
            "ack_seconds": policy[severity].ack_seconds,
            "resolve_seconds": policy[severity].resolve_seconds,
        }
        for severity in SEVERITIES
    }


_UNSET: Any = object()


@dataclass(frozen=True)
class TargetChange:
    """A change to one severity's targets; a field left as UNSET keeps its current value."""

    severity: str
    ack_seconds: int | None = _UNSET
    resolve_seconds: int | None = _UNSET


UNSET = _UNSET


def apply_changes(
    current: Policy, changes: Sequence[TargetChange], *, field_prefix: str = "targets"
) -> dict[str, Target]:
    """The policy after `changes`, validated; raises InvalidInput naming the offending field."""
    policy = dict(current)
    seen: set[str] = set()
    for index, change in enumerate(changes):
        where = f"{field_prefix}[{index}]"
        if change.severity not in SEVERITIES:
            raise InvalidInput(
                f"severity must be one of {', '.join(SEVERITIES)}", field=f"{where}.severity"
            )
        if change.severity in seen:
            raise InvalidInput(
                f"severity {change.severity} appears more than once", field=f"{where}.severity"
            )
        seen.add(change.severity)
        before = policy[change.severity]
        ack = before.ack_seconds if change.ack_seconds is UNSET else change.ack_seconds
        resolve = (
            before.resolve_seconds if change.resolve_seconds is UNSET else change.resolve_seconds
        )
        for name, value in (("ackSeconds", ack), ("resolveSeconds", resolve)):
            if value is not None and not 1 <= value <= MAX_TARGET_SECONDS:
                raise InvalidInput(
                    f"{name} must be between 1 and {MAX_TARGET_SECONDS} seconds (365 days), "
                    "or null for no target",
                    field=f"{where}.{name}",
                )
        if ack is not None and resolve is not None and ack > resolve:
            raise InvalidInput(
                f"the acknowledge target ({format_duration(ack)}) of {change.severity} is "
                f"longer than its resolve target ({format_duration(resolve)})",
                field=f"{where}.ackSeconds",
            )
        policy[change.severity] = Target(ack, resolve)
    return policy


async def update_policy(
    session: AsyncSession,
    workspace_id: str,
    changes: Sequence[TargetChange],
    *,
    reset: bool = False,
) -> tuple[Workspace, dict[str, Target]]:
    """Apply `changes` (after resetting to the defaults when `reset`) inside the caller's write
    transaction. The stored JSON always lists every severity, so it reads on its own."""
    workspace = await session.get(
        Workspace, workspace_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if workspace is None:
        raise NotFound(f"no workspace {workspace_id}", field="workspace")
    base = DEFAULT_POLICY if reset else policy_from_json(workspace.sla_policy)
    policy = apply_changes(base, changes)
    workspace.sla_policy = policy_to_json(policy)
    session.add(workspace)
    await session.flush()
    return workspace, policy


_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": MINUTE, "h": HOUR, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str) -> int | None:
    """`15m`, `4h`, `1h30m`, `2d`, `90` (seconds); `none`/`off`/`-` mean no target (None)."""
    value = text.strip().lower()
    if value in {"none", "off", "-", "null"}:
        return None
    if value.isdigit():
        return int(value)
    compact = value.replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise InvalidInput(
            f"cannot read duration {text!r}: use e.g. 15m, 4h, 1h30m, 2d, or none"
        )
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def format_duration(seconds: int | float | None) -> str:
    """`900` -> `15m`, `5400` -> `1h30m`, None -> `none`."""
    if seconds is None:
        return "none"
    remaining = int(round(seconds))
    if remaining == 0:
        return "0s"
    out = []
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


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
