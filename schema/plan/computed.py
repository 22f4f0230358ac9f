"""Fields a plan computes in Python rather than reads: each calls the function the field's
resolver calls, once per row of a page (with what the page needs read once), and returns the
same objects, which `schema.plan.complete` then serializes for the selection.

Each takes `(run, rows, arguments, in_list)`: the request's `Run` (its context and its reads
by id), the rows (objects with the model's attributes, values as SQLAlchemy reads them), the
field's arguments as its resolver receives them, and whether the rows are items of a list.
"""

from __future__ import annotations

from typing import Any

from gateway.domain.reports.render import render_html, render_markdown
from gateway.domain.sla import maths
from gateway.domain.sla.policy import policy_from_json
from gateway.domain.timeutil import utcnow
from schema.query import rate_limit_of
from schema.sla import SlaSummary, sla_of, sla_summary_of
from schema.sla import workspace_sla_policy as sla_policy_of
from schema.summaries import summary_of
from schema.viewer import Viewer

SLA_COLUMNS = (
    "id", "workspace_id", "number", "title", "severity", "status", "created_at",
    "acknowledged_at", "resolved_at",
)
SUMMARY_COLUMNS = (
    "id", "workspace_id", "incident_id", "title", "description", "severity", "status", "source",
    "labels", "occurrences", "first_seen_at", "last_seen_at",
)


async def incident_sla(run: Any, rows: list[Any], arguments: Any, in_list: bool) -> list[Any]:
    """`Incident.sla`: the policy of each row's workspace, read once for the page."""
    workspaces = await run.workspaces({row.workspace_id for row in rows})
    policies = {
        key: policy_from_json(workspaces[key].sla_policy if key in workspaces else None)
        for key in {row.workspace_id for row in rows}
    }
    now = utcnow()
    out = []
    for row in rows:
        times = maths.IncidentRow(
            id=row.id, workspace_id=row.workspace_id, number=row.number, title=row.title,
            severity=row.severity, status=row.status, created_at=row.created_at,
            acknowledged_at=row.acknowledged_at, resolved_at=row.resolved_at,
        )
        out.append(sla_of(policies[row.workspace_id], times, now))
    return out


async def alert_summary(run: Any, rows: list[Any], arguments: Any, in_list: bool) -> list[Any]:
    """`Alert.summary`: the incidents read once for the page; only an alert on its own (not
    in a list) may call the configured model, as the resolver decides."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row.incident_id is not None:
            wanted.setdefault(row.workspace_id, set()).add(row.incident_id)
    incidents: dict[tuple[str, str], Any] = {}
    for workspace_id, incident_ids in wanted.items():
        found = await run.objects_by_id("Incident", workspace_id, incident_ids)
        incidents.update(((workspace_id, key), value) for key, value in found.items())
    summarizer = run.context.summarizer
    return [
        await summary_of(
            summarizer, row, incidents.get((row.workspace_id, row.incident_id)), not in_list
        )
        for row in rows
    ]


async def report_markdown(run: Any, rows: list[Any], arguments: Any, in_list: bool) -> list[Any]:
    return [render_markdown(row) for row in rows]


async def report_html(run: Any, rows: list[Any], arguments: Any, in_list: bool) -> list[Any]:
    return [render_html(row) for row in rows]


async def workspace_sla_policy(
    run: Any, rows: list[Any], arguments: Any, in_list: bool
) -> list[Any]:
    return [sla_policy_of(row.sla_policy) for row in rows]


async def workspace_sla_summary(
    run: Any, rows: list[Any], arguments: dict[str, Any], in_list: bool
) -> list[Any]:
    """`Workspace.slaSummary`: the domain's summary (`maths.summary_for`) of each workspace of
    the page, its incidents and policies read once for the whole page. With `includeChildren`
    each workspace pools its own tree, so each is summarized on its own."""
    context = run.context
    since, until = arguments.get("since"), arguments.get("until")
    if arguments.get("include_children", False):
        permitted = context.principal.permitted_workspace_ids
        return [
            await sla_summary_of(context.db, permitted, row.id, since, until, True)
            for row in rows
        ]
    moment = utcnow()
    start, end = maths.window(since, until, moment)
    ids = list(dict.fromkeys(row.id for row in rows))
    async with context.db.read() as session:
        incidents = await maths.load_incidents(session, ids, start, end)
        policies = await maths.load_policies(session, ids)
    by_workspace: dict[str, list[maths.IncidentRow]] = {key: [] for key in ids}
    for incident in incidents:
        by_workspace[incident.workspace_id].append(incident)
    summaries = {
        key: SlaSummary.from_domain(maths.summarize(
            by_workspace[key], {key: policies[key]} if key in policies else {},
            since=start, until=end, now=moment, workspace_ids=[key],
        ))
        for key in ids
    }
    return [summaries[row.id] for row in rows]


def rate_limit(context: Any) -> Any:
    return rate_limit_of(context)


def viewer(context: Any) -> Any:
    return Viewer.of(context.principal)
