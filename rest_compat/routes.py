"""The routing table of the v1 REST API: one row per route. Every route runs one GraphQL operation
(`operations/<operation>.graphql`) in-process against the same schema as /graphql, so REST and
GraphQL cannot disagree; the OpenAPI document is generated from these rows.
"""

from __future__ import annotations

from typing import Any

from gateway.domain import ids
from gateway.domain.ingest.errors import STATUS_FOR_CODE
from gateway.domain.ingest.idempotency import MAX_KEY_LENGTH
from gateway.web.jsonio import error_code
from rest_compat.bodies import BodyField, EnumField, JsonBody, RawBody, TextField, TimestampField
from rest_compat.ingest_body import INGEST_BODY
from rest_compat.params import (
    Choice,
    EnumList,
    Matching,
    Param,
    PathId,
    Text,
    Timestamp,
    header_param,
    paging,
    path_param,
    query_param,
    resource_id,
)
from rest_compat.patterns import WORKSPACE_REF
from rest_compat.results import Many, One, Payload, Rendered
from rest_compat.route import Route, links
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

INCIDENT_DOC = "The incident id (`inc_...`)."
INCIDENT_ID = path_param("id", "id", INCIDENT_DOC, ids.INCIDENT)
# Ingestion refusals answer what the webhook answers for the same error code.
INGEST_ERROR_CODES = {
    code: (status, error_code(status))
    for code, status in STATUS_FOR_CODE.items()
}
MAX_NOTE = 10_000  # gateway/domain/incidents/incidents.py MAX_NOTE_LENGTH
MAX_NAME = 200  # assignee and author
INGEST_EXAMPLES: tuple[tuple[str, Any], ...] = (
    ("generic", {
        "title": "Disk almost full on db-1", "severity": "high", "source": "prometheus",
        "labels": {"host": "db-1", "alertname": "DiskFull"},
        "occurred_at": "2026-11-27T21:52:32Z",
    }),
    ("batch", {"alerts": [{"title": "CPU high on web-2", "severity": "warning"},
                          {"title": "CPU high on web-2", "status": "resolved"}]}),
    ("alertmanager", {
        "version": "4", "status": "firing", "receiver": "seliq",
        "groupKey": "{}:{alertname=\"DiskFull\"}",
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "instance": "db-1",
                                                   "severity": "critical"},
                    "annotations": {"summary": "Disk almost full on db-1"},
                    "startsAt": "2026-11-27T21:52:32Z", "fingerprint": "a1b2c3"}],
    }),
    ("any object", {"rule": {"level": 12, "description": "sshd: brute force"},
                    "agent": {"name": "web-2"}}),
)

# Where each answer leads: OpenAPI links to the routes that read, change or list what it names.
INCIDENT_ROUTES = ("GetIncident", "UpdateIncident", "AddIncidentNote", "IncidentTimeline")
TO_INCIDENT = links(INCIDENT_ROUTES, "id", "$response.body#/id")
TO_FIRST_INCIDENT = links(INCIDENT_ROUTES, "id", "$response.body#/data/0/id")
TO_ITS_INCIDENT = links(INCIDENT_ROUTES, "id", "$response.body#/incident_id")

ROUTES: tuple[Route, ...] = (
    Route(
        "GET", "/v1/incidents", "ListIncidents",
        params=(
            query_param("status", EnumList(INCIDENT_STATUS), "filter.status",
                        "Comma-separated statuses.", example="triggered,acknowledged"),
            query_param("severity", EnumList(SEVERITY), "filter.severity",
                        "Comma-separated severities.", example="critical,high"),
            query_param("assignee", Text(), "filter.assignee", "Exact assignee.",
                        example="alice"),
            query_param("q", Text(), "filter.query", "Text to find in the title.",
                        example="disk"),
            query_param("created_after", Timestamp(), "filter.createdAfter",
                        "Created at or after this time.", example="2026-01-01T00:00:00Z"),
            query_param("created_before", Timestamp(), "filter.createdBefore",
                        "Created before this time.", example="2026-02-01"),
            *paging(ids.INCIDENT),
        ),
        result=Many(("incidents",), INCIDENT),
        summary="List incidents, newest first", tag="incidents",
        links=TO_FIRST_INCIDENT,
    ),
    Route(
        "GET", "/v1/incidents/{id}", "GetIncident",
        params=(INCIDENT_ID,),
        result=One(("incident",), INCIDENT, "incident"),
        summary="Get an incident", tag="incidents",
        links=TO_INCIDENT[1:],
    ),
    Route(
        "PATCH", "/v1/incidents/{id}", "UpdateIncident",
        params=(path_param("id", "input.id", INCIDENT_DOC, ids.INCIDENT),),
        body=JsonBody(
            (
                BodyField("status", EnumField(INCIDENT_STATUS), "input.status",
                          "New status: triggered -> acknowledged -> resolved, or triggered -> "
                          "resolved (forward only; another move is a 409 `conflict`)."),
                BodyField("assignee", TextField(non_blank=True, max_length=MAX_NAME),
                          "input.assignee",
                          "New assignee (trimmed); null unassigns, absent leaves it as is."),
                BodyField("severity", EnumField(SEVERITY), "input.severity",
                          "Severity set by hand (later alerts no longer raise it)."),
            ),
            "The fields to change; absent fields stay as they are, other keys are ignored.",
            examples=(
                ("acknowledge", {"status": "acknowledged", "assignee": "alice"}),
                ("unassign", {"assignee": None}),
            ),
        ),
        result=Payload("updateIncident", "incident", INCIDENT, 200, "The updated incident.",
                       errors=(404, 409, 422)),
        summary="Change an incident's status, assignee or severity", tag="incidents",
        links=TO_INCIDENT,
    ),
    Route(
        "POST", "/v1/incidents/{id}/notes", "AddIncidentNote",
        params=(path_param("id", "input.incidentId", INCIDENT_DOC, ids.INCIDENT),),
        body=JsonBody(
            (
                BodyField("body", TextField(non_blank=True, max_length=MAX_NOTE), "input.body",
                          "The note's text (trimmed).", required=True),
                BodyField("author", TextField(non_blank=True, max_length=MAX_NAME),
                          "input.author", "Default: the API key's name."),
            ),
            examples=(("note", {"body": "Rolled back the deploy; watching.", "author": "alice"}),),
        ),
        result=Payload("addIncidentNote", "note", NOTE, 201, "The note."),
        summary="Add a note to an incident", tag="incidents",
        links=TO_ITS_INCIDENT,
    ),
    Route(
        "GET", "/v1/incidents/{id}/timeline", "IncidentTimeline",
        params=(INCIDENT_ID, *paging(ids.EVENT)),
        result=Many(("incident", "timeline"), TIMELINE_EVENT, noun="incident"),
        summary="An incident's timeline, oldest first", tag="incidents",
        links=links(("GetIncident",), "id", "$response.body#/data/0/incident_id"),
    ),
    Route(
        "GET", "/v1/alerts", "ListAlerts",
        params=(
            query_param("status", EnumList(ALERT_STATUS), "filter.status",
                        "Comma-separated statuses.", example="firing"),
            query_param("severity", EnumList(SEVERITY), "filter.severity",
                        "Comma-separated severities.", example="high,medium"),
            query_param("source", Text(), "filter.source", "Exact source.",
                        example="prometheus"),
            query_param("incident_id", resource_id(ids.INCIDENT, "an incident"),
                        "filter.incidentId", "Only alerts of this incident."),
            query_param("q", Text(), "filter.query", "Text to find in the title or description."),
            *paging(ids.ALERT),
        ),
        result=Many(("alerts",), ALERT),
        summary="List alerts, newest first", tag="alerts",
        links=(
            *links(("GetAlert",), "id", "$response.body#/data/0/id"),
            *links(("GetIncident",), "id", "$response.body#/data/0/incident_id"),
        ),
    ),
    Route(
        "POST", "/v1/alerts", "IngestAlert",
        params=(
            header_param(
                "Idempotency-Key",
                Matching(
                    f"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$",
                    f"1-{MAX_KEY_LENGTH} printable ASCII characters, not starting or ending with "
                    "a space",
                    MAX_KEY_LENGTH,
                ),
                "input.idempotencyKey",
                f"1-{MAX_KEY_LENGTH} printable ASCII characters: a retry with the same key and "
                "body within 24 h gets the first answer back, with `Idempotent-Replayed: true` "
                "(the same key with a different body: 422).",
            ),
        ),
        body=RawBody(
            "input.rawBody",
            "An alert: the generic body, a batch `{alerts: [...]}`, an Alertmanager or Grafana "
            "webhook, or any JSON object (docs/api.md, Alert ingestion). Refusals are 400 "
            "`invalid_request` naming the field.",
            INGEST_BODY,
            examples=INGEST_EXAMPLES,
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
        links=(*links(("GetAlert",), "id", "$response.body#/id"), *TO_ITS_INCIDENT),
    ),
    Route(
        "GET", "/v1/alerts/{id}", "GetAlert",
        params=(path_param("id", "id", "The alert id (`alt_...`).", ids.ALERT),),
        result=One(("alert",), ALERT_DETAIL, "alert"),
        summary="Get an alert, with its summary", tag="alerts",
        links=(
            *links(("GetIncident",), "id", "$response.body#/incident_id"),
            *links(("ListAlerts",), "incident_id", "$response.body#/incident_id"),
        ),
    ),
    Route(
        "GET", "/v1/workspaces", "ListWorkspaces",
        params=paging(ids.WORKSPACE),
        result=Many(("workspaces",), WORKSPACE),
        summary="The key's workspace and the workspaces below it", tag="workspaces",
        links=links(("GetWorkspace",), "id", "$response.body#/data/0/id"),
    ),
    Route(
        "GET", "/v1/workspaces/{id}", "GetWorkspace",
        params=(
            Param("id", "path", PathId(WORKSPACE_REF), "id",
                  "A workspace id (`ws_...`) or slug."),
        ),
        result=One(("workspace",), WORKSPACE_DETAIL, "workspace"),
        summary="Get a workspace by id or slug", tag="workspaces",
    ),
    Route(
        "GET", "/v1/reports", "ListReports",
        params=paging(ids.REPORT),
        result=Many(("reports",), REPORT),
        summary="List reports, newest first", tag="reports",
        links=links(("GetReport",), "id", "$response.body#/data/0/id"),
    ),
    Route(
        "GET", "/v1/reports/{id}", "GetReport",
        params=(
            path_param("id", "id", "The report id (`rpt_...`).", ids.REPORT),
            query_param("format", Choice(("json", "markdown", "html"), "json"), None,
                        "`markdown` or `html` for that rendering of a ready report.",
                        flags=(("markdown", "markdown"), ("html", "html")), example="markdown"),
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
                          "Default: 30 days before `period_end`. Must be before `period_end`, "
                          "at most 366 days before it (422 `validation_failed` naming "
                          "`period_start` otherwise)."),
                BodyField("period_end", TimestampField(), "input.periodEnd", "Default: now."),
            ),
            "The period may span at most 366 days and must end after it starts; a schema "
            "cannot say so, so a period that does not is answered 422 `validation_failed` "
            "naming `period_start`.",
            examples=(
                ("last 30 days", {"kind": "sla"}),
                ("January", {"kind": "incident_summary", "period_start": "2026-01-01T00:00:00Z",
                             "period_end": "2026-02-01T00:00:00Z"}),
            ),
        ),
        result=Payload(
            "generateReport", "report", REPORT, 202, "The report, queued.",
            location="/v1/reports/{id}",
        ),
        summary="Queue a report", tag="reports",
        links=links(("GetReport",), "id", "$response.body#/id"),
    ),
)
