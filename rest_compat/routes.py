"""The routing table of the v1 REST API: one row per route. Every route runs one GraphQL operation
(`operations/<operation>.graphql`) in-process against the same schema as /graphql, so REST and
GraphQL cannot disagree; the OpenAPI document is generated from these rows.
"""

from __future__ import annotations

from gateway.domain.ingest.errors import STATUS_FOR_CODE
from gateway.web.jsonio import error_code
from rest_compat.params import (
    PAGING,
    BodyField,
    Choice,
    EnumField,
    EnumList,
    JsonBody,
    RawBody,
    Text,
    TextField,
    Timestamp,
    TimestampField,
    header_param,
    path_param,
    query_param,
)
from rest_compat.results import Many, One, Payload, Rendered
from rest_compat.route import Route
from rest_compat.shapes import (
    ALERT,
    ALERT_DETAIL,
    ALERT_STATUS,
    INCIDENT,
    INCIDENT_STATUS,
    INGESTED_ALERT,
    NOTE,
    REPORT,
    REPORT_KIND,
    SEVERITY,
    TIMELINE_EVENT,
    WORKSPACE,
    WORKSPACE_DETAIL,
)

INCIDENT_ID = path_param("id", "id", "The incident id (`inc_...`).")
# Ingestion refusals answer what the webhook answers for the same error code.
INGEST_ERROR_CODES = {
    code: (status, error_code(status))
    for code, status in STATUS_FOR_CODE.items()
}

ROUTES: tuple[Route, ...] = (
    Route(
        "GET", "/v1/incidents", "ListIncidents",
        params=(
            query_param("status", EnumList(INCIDENT_STATUS), "filter.status",
                        "Comma-separated statuses."),
            query_param("severity", EnumList(SEVERITY), "filter.severity",
                        "Comma-separated severities."),
            query_param("assignee", Text(), "filter.assignee", "Exact assignee."),
            query_param("q", Text(), "filter.query", "Text to find in the title."),
            query_param("created_after", Timestamp(), "filter.createdAfter",
                        "Created at or after this ISO 8601 time."),
            query_param("created_before", Timestamp(), "filter.createdBefore",
                        "Created before this ISO 8601 time."),
            *PAGING,
        ),
        result=Many(("incidents",), INCIDENT),
        summary="List incidents, newest first", tag="incidents",
    ),
    Route(
        "GET", "/v1/incidents/{id}", "GetIncident",
        params=(INCIDENT_ID,),
        result=One(("incident",), INCIDENT, "incident"),
        summary="Get an incident", tag="incidents",
    ),
    Route(
        "PATCH", "/v1/incidents/{id}", "UpdateIncident",
        params=(path_param("id", "input.id", "The incident id (`inc_...`)."),),
        body=JsonBody(
            (
                BodyField("status", EnumField(INCIDENT_STATUS), "input.status",
                          "New status: triggered -> acknowledged -> resolved (forward only)."),
                BodyField("assignee", TextField(), "input.assignee",
                          "New assignee; null unassigns, absent leaves it as is."),
                BodyField("severity", EnumField(SEVERITY), "input.severity",
                          "Severity set by hand (later alerts no longer raise it)."),
            ),
            "The fields to change; absent fields stay as they are.",
        ),
        result=Payload("updateIncident", "incident", INCIDENT, 200, "The updated incident."),
        summary="Change an incident's status, assignee or severity", tag="incidents",
    ),
    Route(
        "POST", "/v1/incidents/{id}/notes", "AddIncidentNote",
        params=(path_param("id", "input.incidentId", "The incident id (`inc_...`)."),),
        body=JsonBody(
            (
                BodyField("body", TextField(), "input.body", "The note's text.", required=True),
                BodyField("author", TextField(), "input.author", "Default: the API key's name."),
            ),
        ),
        result=Payload("addIncidentNote", "note", NOTE, 201, "The note."),
        summary="Add a note to an incident", tag="incidents",
    ),
    Route(
        "GET", "/v1/incidents/{id}/timeline", "IncidentTimeline",
        params=(INCIDENT_ID, *PAGING),
        result=Many(("incident", "timeline"), TIMELINE_EVENT, noun="incident"),
        summary="An incident's timeline, oldest first", tag="incidents",
    ),
    Route(
        "GET", "/v1/alerts", "ListAlerts",
        params=(
            query_param("status", EnumList(ALERT_STATUS), "filter.status",
                        "Comma-separated statuses."),
            query_param("severity", EnumList(SEVERITY), "filter.severity",
                        "Comma-separated severities."),
            query_param("source", Text(), "filter.source", "Exact source."),
            query_param("incident_id", Text(), "filter.incidentId",
                        "Only alerts of this incident."),
            query_param("q", Text(), "filter.query", "Text to find in the title or description."),
            *PAGING,
        ),
        result=Many(("alerts",), ALERT),
        summary="List alerts, newest first", tag="alerts",
    ),
    Route(
        "POST", "/v1/alerts", "IngestAlert",
        params=(
            header_param(
                "Idempotency-Key", "input.idempotencyKey",
                "At most 255 characters: a retry with the same key and body within 24 h gets "
                "the first answer back (a different body: 422).",
            ),
        ),
        body=RawBody(
            "input.rawBody",
            "An alert: the generic body, a batch `{alerts: [...]}`, an Alertmanager or Grafana "
            "webhook, or any JSON object (docs/api.md, Alert ingestion).",
        ),
        result=Payload(
            "ingestAlert", None, INGESTED_ALERT, 201,
            "The alert (201 when new or grouped, 200 with the existing alert when deduplicated).",
            status_from=lambda payload: 200 if payload["deduplicated"] else 201,
            statuses=(200, 201),
            headers_from=lambda payload: (
                {"Idempotent-Replayed": "true"} if payload["replayed"] else {}
            ),
            user_error_codes=INGEST_ERROR_CODES,
        ),
        summary="Send an alert", tag="alerts",
    ),
    Route(
        "GET", "/v1/alerts/{id}", "GetAlert",
        params=(path_param("id", "id", "The alert id (`alt_...`)."),),
        result=One(("alert",), ALERT_DETAIL, "alert"),
        summary="Get an alert, with its summary", tag="alerts",
    ),
    Route(
        "GET", "/v1/workspaces", "ListWorkspaces",
        params=PAGING,
        result=Many(("workspaces",), WORKSPACE),
        summary="The key's workspace and the workspaces below it", tag="workspaces",
    ),
    Route(
        "GET", "/v1/workspaces/{id}", "GetWorkspace",
        params=(path_param("id", "id", "A workspace id (`ws_...`) or slug."),),
        result=One(("workspace",), WORKSPACE_DETAIL, "workspace"),
        summary="Get a workspace by id or slug", tag="workspaces",
    ),
    Route(
        "GET", "/v1/reports", "ListReports",
        params=PAGING,
        result=Many(("reports",), REPORT),
        summary="List reports, newest first", tag="reports",
    ),
    Route(
        "GET", "/v1/reports/{id}", "GetReport",
        params=(
            path_param("id", "id", "The report id (`rpt_...`)."),
            query_param("format", Choice(("json", "markdown", "html"), "json"), None,
                        "`markdown` or `html` for that rendering of a ready report.",
                        flags=(("markdown", "markdown"), ("html", "html"))),
        ),
        result=Rendered(One(("report",), REPORT, "report")),
        summary="Get a report, or its rendering", tag="reports",
    ),
    Route(
        "POST", "/v1/reports", "GenerateReport",
        body=JsonBody(
            (
                BodyField("kind", EnumField(REPORT_KIND), "input.kind", "What to report on.",
                          required=True),
                BodyField("period_start", TimestampField(), "input.periodStart",
                          "Default: 30 days before `period_end`."),
                BodyField("period_end", TimestampField(), "input.periodEnd", "Default: now."),
            ),
        ),
        result=Payload(
            "generateReport", "report", REPORT, 202, "The report, queued.",
            location="/v1/reports/{id}",
        ),
        summary="Queue a report", tag="reports",
    ),
)
