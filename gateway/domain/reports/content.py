"""What a report says: the JSON content of each report kind, built from the database.

Both kinds cover the incidents created in the report's period `[period_start, period_end)` of
its own workspace, in their state when the report is built, and carry `per_day` (incidents per
UTC day by severity, one entry for every day of the period, zeros included) for the chart.

- `incident_summary`: counts by status and severity, the top alert sources (alerts received in
  the period), the longest-open incidents, and the incidents themselves (at most 1000, oldest
  first; `incidents_truncated` says when there were more).
- `sla`: the policy, the SLA summary (`gateway.domain.sla.policy`) and every breach.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.errors import NotFound
from gateway.domain.sla import maths
from gateway.domain.storage.models import INCIDENT_STATUSES, SEVERITIES, Alert, Report, Workspace
from gateway.domain.timeutil import isoformat_z, to_utc

MAX_LISTED_INCIDENTS = 1000
TOP_SOURCES = 10
LONGEST_OPEN = 10

Builder = Callable[[AsyncSession, Report, datetime], Awaitable[dict[str, Any]]]


def period_days(start: datetime, end: datetime) -> list[date]:
    """Every UTC calendar day that `[start, end)` touches."""
    first = to_utc(start).date()
    last = (to_utc(end) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def per_day(
    rows: Sequence[maths.IncidentRow], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    days = {day: dict.fromkeys(SEVERITIES, 0) for day in period_days(start, end)}
    for row in rows:
        counts = days.get(to_utc(row.created_at).date())
        if counts is not None and row.severity in counts:
            counts[row.severity] += 1
    return [
        {"date": day.isoformat(), "counts": counts, "total": sum(counts.values())}
        for day, counts in days.items()
    ]


def _incident_json(row: maths.IncidentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "title": row.title,
        "severity": row.severity,
        "status": row.status,
        "assignee": row.assignee,
        "alert_count": row.alert_count,
        "created_at": isoformat_z(row.created_at),
        "acknowledged_at": isoformat_z(row.acknowledged_at) if row.acknowledged_at else None,
        "resolved_at": isoformat_z(row.resolved_at) if row.resolved_at else None,
    }


async def _header(session: AsyncSession, report: Report, now: datetime) -> dict[str, Any]:
    workspace = await session.get(Workspace, report.workspace_id)
    if workspace is None:
        raise NotFound(f"no workspace {report.workspace_id}")
    return {
        "kind": report.kind,
        "workspace": {"id": workspace.id, "slug": workspace.slug, "name": workspace.name},
        "period": {
            "start": isoformat_z(report.period_start),
            "end": isoformat_z(report.period_end),
        },
        "generated_at": isoformat_z(now),
    }


async def _top_sources(
    session: AsyncSession, workspace_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    alerts = func.count().label("alerts")
    stmt = (
        select(col(Alert.source), alerts, func.sum(col(Alert.occurrences)))
        .where(col(Alert.workspace_id) == workspace_id)
        .where(col(Alert.received_at) >= start, col(Alert.received_at) < end)
        .group_by(col(Alert.source))
        .order_by(alerts.desc(), col(Alert.source))
        .limit(TOP_SOURCES)
    )
    return [
        {"source": source, "alerts": count, "occurrences": int(occurrences or 0)}
        for source, count, occurrences in (await session.execute(stmt)).all()
    ]


async def build_incident_summary(
    session: AsyncSession, report: Report, now: datetime
) -> dict[str, Any]:
    start, end = to_utc(report.period_start), to_utc(report.period_end)
    rows = await maths.load_incidents(session, [report.workspace_id], start, end)
    by_status = dict.fromkeys(INCIDENT_STATUSES, 0)
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
        by_severity[row.severity] = by_severity.get(row.severity, 0) + 1
    still_open = sorted(
        (row for row in rows if row.status != "resolved"),
        key=lambda row: (to_utc(row.created_at), row.id),
    )
    longest = [
        {
            **_incident_json(row),
            "open_seconds": round((now - to_utc(row.created_at)).total_seconds()),
        }
        for row in still_open[:LONGEST_OPEN]
    ]
    return {
        **await _header(session, report, now),
        "totals": {
            "incidents": len(rows),
            "open": len(still_open),
            "by_status": by_status,
            "by_severity": by_severity,
        },
        "top_sources": await _top_sources(session, report.workspace_id, start, end),
        "longest_open": longest,
        "per_day": per_day(rows, start, end),
        "incidents": [_incident_json(row) for row in rows[:MAX_LISTED_INCIDENTS]],
        "incidents_truncated": len(rows) > MAX_LISTED_INCIDENTS,
    }


async def build_sla(session: AsyncSession, report: Report, now: datetime) -> dict[str, Any]:
    start, end = to_utc(report.period_start), to_utc(report.period_end)
    summary = await maths.summary_for(
        session, report.workspace_id, since=start, until=end, now=now
    )
    policy = summary.policies.get(report.workspace_id)
    if policy is None:
        raise NotFound(f"no workspace {report.workspace_id}", field="workspace")
    rows = [item.incident for item in summary.evaluated]
    return {
        **await _header(session, report, now),
        "policy": maths.policy_rows(policy),
        "summary": summary.to_json(),
        "breaches": summary.breaches(),
        "per_day": per_day(rows, start, end),
    }


BUILDERS: dict[str, Builder] = {
    "incident_summary": build_incident_summary,
    "sla": build_sla,
}
