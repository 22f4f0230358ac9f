"""The legacy-caller suite: every v1 route through the real server, success and each documented
error, with the shapes DESIGN.md promises."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from gateway.domain.storage import models
from gateway.domain.storage.engine import Database
from gateway.domain.timeutil import utcnow
from rest_compat.routes import ROUTES
from tests.rest.conftest import Rest
from tests.support.data import Tenants, make_incident

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

INCIDENT_KEYS = {
    "id", "workspace_id", "number", "title", "status", "severity", "assignee", "alert_count",
    "created_at", "updated_at", "acknowledged_at", "resolved_at",
}
ALERT_KEYS = {
    "id", "workspace_id", "incident_id", "title", "description", "severity", "status", "source",
    "fingerprint", "labels", "raw_payload", "occurrences", "first_seen_at", "last_seen_at",
    "received_at", "resolved_at",
}
EVENT_KEYS = {"id", "workspace_id", "incident_id", "type", "at", "actor", "message", "data"}
NOTE_KEYS = {"id", "workspace_id", "incident_id", "body", "author", "created_at"}
WORKSPACE_KEYS = {
    "id", "workspace_id", "slug", "name", "tier", "parent_id", "created_at", "sla_summary",
}
REPORT_KEYS = {
    "id", "workspace_id", "kind", "status", "period_start", "period_end", "content", "error",
    "created_at", "started_at", "completed_at",
}


def concrete(path: str, tenants: Tenants) -> str:
    """A route's path with a real id of acme's in it."""
    acme = tenants.acme
    if path.startswith("/v1/alerts/"):
        return path.replace("{id}", acme.alerts[0].id)
    if path.startswith("/v1/workspaces/"):
        return path.replace("{id}", acme.id)
    if path.startswith("/v1/reports/"):
        return path.replace("{id}", "rpt_0000000000000000000000000")
    return path.replace("{id}", acme.incidents[0].id)


def assert_timestamps(obj: dict[str, object], *keys: str) -> None:
    for key in keys:
        value = obj[key]
        assert value is None or (isinstance(value, str) and ISO_Z.match(value)), (key, value)


# ---- incidents -----------------------------------------------------------------------------


async def test_list_incidents(rest: Rest, tenants: Tenants) -> None:
    answer = await rest.get("/v1/incidents", key=tenants.acme.key)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    items = answer.body["data"]
    assert [i["id"] for i in items] == [i.id for i in reversed(tenants.acme.incidents)]
    assert answer.body["pagination"] == {"limit": 50, "next_cursor": None, "has_more": False}
    for item in items:
        assert set(item) == INCIDENT_KEYS
        assert item["workspace_id"] == tenants.acme.id
        assert item["status"] == "triggered" and item["severity"] == "high"
        assert item["alert_count"] == 2
        assert_timestamps(item, "created_at", "updated_at", "acknowledged_at", "resolved_at")


async def test_list_incidents_filters(rest: Rest, db: Database, tenants: Tenants) -> None:
    ws = tenants.acme.workspace
    base = utcnow() - timedelta(days=10)
    acked, _ = await make_incident(
        db, ws, title="Database replica lag", severity="critical", status="acknowledged",
        created_at=base, assignee="alice",
    )
    resolved, _ = await make_incident(
        db, ws, title="Certificate expiry", severity="low", status="resolved",
        created_at=base + timedelta(days=2),
    )
    key = tenants.acme.key

    async def ids(**params: str) -> list[str]:
        answer = await rest.get("/v1/incidents", key=key, params=params)
        assert answer.status == 200, answer.body
        return [item["id"] for item in answer.body["data"]]

    assert set(await ids(status="acknowledged,resolved")) == {acked.id, resolved.id}
    assert await ids(status="ACKNOWLEDGED") == [acked.id]
    assert await ids(severity="critical") == [acked.id]
    assert set(await ids(severity="critical,low")) == {acked.id, resolved.id}
    assert await ids(assignee="alice") == [acked.id]
    assert await ids(q="replica") == [acked.id]
    window = {
        "created_after": (base - timedelta(hours=1)).isoformat(),
        "created_before": (base + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert await ids(**window) == [acked.id]
    assert await ids(created_before=base.date().isoformat()) == []
    # Unknown parameters are ignored; empty free text counts as absent (an empty list is a 400).
    assert len(await ids(colour="red", q="", assignee="")) == 5
    assert await ids(status=" Acknowledged ,\tRESOLVED") == await ids(
        status="acknowledged,resolved"
    )


BAD_PARAMETERS = [
    ("limit", "0", "from 1 to 100"),
    ("limit", "101", "from 1 to 100"),
    ("limit", "ten", "from 1 to 100"),
    ("limit", "5.0", "from 1 to 100"),
    ("limit", "", "from 1 to 100"),
    ("status", "open", "triggered, acknowledged, resolved"),
    ("status", "", "triggered, acknowledged, resolved"),
    ("status", "triggered,", "triggered, acknowledged, resolved"),
    ("severity", "high,urgent", "critical, high, medium, low, info"),
    ("severity", ",", "critical, high, medium, low, info"),
    ("created_after", "yesterday", "ISO 8601"),
    ("created_after", "", "ISO 8601"),
    ("created_before", "2026-02-30", "ISO 8601"),
    ("created_before", "0001-12-31T23:00:00Z", "between years 2 and 9998"),
    ("cursor", "not-a-cursor", "not a cursor of this list"),
    ("cursor", "", "not a cursor of this list"),
    ("cursor", "12.alt_01jd0x5k3m8q2r7t9v4w6y1z3a", "not a cursor of this list"),
    ("assignee", "x" * 201, "at most 200 characters"),
]


async def test_list_incidents_bad_parameters(rest: Rest, tenants: Tenants) -> None:
    for param, value, says in BAD_PARAMETERS:
        answer = await rest.get("/v1/incidents", key=tenants.acme.key, params={param: value})
        assert answer.status == 400, (param, value, answer.body)
        error = answer.error
        assert error["code"] == "invalid_request"
        assert f"`{param}`" in error["message"] and says in error["message"], error
        assert error["field"] == param


async def test_get_incident(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[1]
    answer = await rest.get(f"/v1/incidents/{incident.id}", key=tenants.acme.key)
    assert answer.status == 200
    assert set(answer.body) == INCIDENT_KEYS
    assert answer.body["id"] == incident.id
    assert answer.body["number"] == incident.number
    assert answer.body["title"] == incident.title
    assert answer.body["workspace_id"] == tenants.acme.id


async def test_get_incident_not_found(rest: Rest, tenants: Tenants) -> None:
    for ident in ("inc_00000000000000000000000000", "nope", tenants.acme.alerts[0].id, "%20"):
        answer = await rest.get(f"/v1/incidents/{ident}", key=tenants.acme.key)
        assert answer.status == 404, (ident, answer.body)
        assert answer.error["code"] == "not_found"


async def test_patch_incident(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    path = f"/v1/incidents/{incident.id}"
    key = tenants.acme.key
    answer = await rest.patch(path, key=key, json={"status": "acknowledged", "assignee": "bob"})
    assert answer.status == 200, answer.body
    assert set(answer.body) == INCIDENT_KEYS
    assert answer.body["status"] == "acknowledged"
    assert answer.body["assignee"] == "bob"
    assert answer.body["acknowledged_at"] is not None

    # Absent fields stay as they are.
    answer = await rest.patch(path, key=key, json={"severity": "critical"})
    assert answer.status == 200
    assert (answer.body["assignee"], answer.body["severity"]) == ("bob", "critical")

    # `assignee: null` unassigns.
    answer = await rest.patch(path, key=key, json={"assignee": None})
    assert answer.status == 200
    assert answer.body["assignee"] is None
    assert answer.body["status"] == "acknowledged"

    timeline = await rest.get(f"{path}/timeline", key=key)
    types = Counter(event["type"] for event in timeline.body["data"])
    assert (types["status.changed"], types["assignee.changed"], types["severity.changed"]) == (
        1, 2, 1
    )


async def test_patch_incident_invalid_transition(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    path = f"/v1/incidents/{incident.id}"
    assert (await rest.patch(path, key=tenants.acme.key, json={"status": "resolved"})).status == 200
    answer = await rest.patch(path, key=tenants.acme.key, json={"status": "triggered"})
    assert answer.status == 409  # a conflict with the incident's state, not a bad value
    assert answer.error["code"] == "conflict"
    assert answer.error["field"] == "status"
    assert "resolved to triggered" in answer.error["message"]


PATCH_REFUSED: list[tuple[dict[str, object], str, str]] = [
    ({"status": "closed"}, "status", "triggered, acknowledged, resolved"),
    ({"status": 3}, "status", "must be one of"),
    ({"assignee": 42}, "assignee", "must be a string, or null"),
    ({"assignee": "   "}, "assignee", "1-200 characters"),
    ({"assignee": "x" * 201}, "assignee", "at most 200 characters"),
    ({"severity": "urgent"}, "severity", "critical, high"),
]


async def test_patch_incident_validation_failed(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    for body, field, says in PATCH_REFUSED:
        answer = await rest.patch(f"/v1/incidents/{incident.id}", key=tenants.acme.key, json=body)
        assert answer.status == 422, (body, answer.body)
        assert answer.error["code"] == "validation_failed"
        assert answer.error["field"] == field
        assert says in answer.error["message"], (body, answer.error)


BAD_BODIES = [
    (b"{not json", "application/json", "not valid JSON"),
    (b"", "application/json", "empty"),
    (b"[1, 2]", "application/json", "must be a JSON object, not an array"),
    (b'"text"', "application/json", "must be a JSON object"),
    (b'{"status": "acknowledged"}', "text/plain", "Content-Type: application/json"),
    (b'{"status": "acknowledged"}', "application/x-www-form-urlencoded", "Content-Type"),
]


async def test_bad_bodies_are_400(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    for data, content_type, says in BAD_BODIES:
        for method, path in (
            ("PATCH", f"/v1/incidents/{incident.id}"),
            ("POST", f"/v1/incidents/{incident.id}/notes"),
            ("POST", "/v1/reports"),
        ):
            answer = await rest.call(
                method, path, key=tenants.acme.key, data=data,
                headers={"Content-Type": content_type},
            )
            assert answer.status == 400, (method, path, data, answer.body)
            assert answer.error["code"] == "invalid_request"
            assert says in answer.error["message"], answer.error


async def test_patch_incident_not_found(rest: Rest, tenants: Tenants) -> None:
    answer = await rest.patch(
        "/v1/incidents/inc_00000000000000000000000000", key=tenants.acme.key,
        json={"status": "acknowledged"},
    )
    assert answer.status == 404
    assert answer.error["code"] == "not_found"


async def test_writes_with_a_read_key_are_403(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    read_key = tenants.acme.read_key
    for method, path, body in (
        ("PATCH", f"/v1/incidents/{incident.id}", {"status": "acknowledged"}),
        ("POST", f"/v1/incidents/{incident.id}/notes", {"body": "hello"}),
        ("POST", "/v1/reports", {"kind": "sla"}),
    ):
        answer = await rest.call(method, path, key=read_key, json=body)
        assert answer.status == 403, (method, path, answer.body)
        assert answer.error["code"] == "forbidden"
    # Nothing was written.
    answer = await rest.get(f"/v1/incidents/{incident.id}", key=read_key)
    assert answer.body["status"] == "triggered"
    assert (await rest.get("/v1/reports", key=read_key)).body["data"] == []
    timeline = await rest.get(f"/v1/incidents/{incident.id}/timeline", key=read_key)
    assert timeline.status == 200
    assert "note.added" not in [e["type"] for e in timeline.body["data"]]


# ---- notes and timeline --------------------------------------------------------------------


async def test_add_note(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    path = f"/v1/incidents/{incident.id}/notes"
    answer = await rest.post(path, key=tenants.acme.key, json={"body": "  Rebooted the host  "})
    assert answer.status == 201, answer.body
    assert set(answer.body) == NOTE_KEYS
    assert answer.body["id"].startswith("note_")
    assert answer.body["incident_id"] == incident.id
    assert answer.body["workspace_id"] == tenants.acme.id
    assert answer.body["body"] == "Rebooted the host"
    assert answer.body["author"] == "key:acme writer"
    assert_timestamps(answer.body, "created_at")

    answer = await rest.post(path, key=tenants.acme.key, json={"body": "ok", "author": "Dana"})
    assert answer.status == 201
    assert answer.body["author"] == "Dana"

    timeline = await rest.get(f"/v1/incidents/{incident.id}/timeline", key=tenants.acme.key)
    assert [e["type"] for e in timeline.body["data"]].count("note.added") == 2


NOTE_REFUSED: list[tuple[dict[str, object], str, str]] = [
    ({}, "body", "`body` is required"),
    ({"body": None}, "body", "`body` is required"),
    ({"body": 12}, "body", "must be a string"),
    ({"body": "   "}, "body", "must not be empty"),
    ({"body": "x", "author": ["a"]}, "author", "must be a string"),
]


async def test_add_note_validation_failed(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    for body, field, says in NOTE_REFUSED:
        answer = await rest.post(
            f"/v1/incidents/{incident.id}/notes", key=tenants.acme.key, json=body
        )
        assert answer.status == 422, (body, answer.body)
        assert answer.error["code"] == "validation_failed"
        assert answer.error["field"] == field
        assert says in answer.error["message"], (body, answer.error)


async def test_add_note_not_found(rest: Rest, tenants: Tenants) -> None:
    answer = await rest.post(
        "/v1/incidents/inc_00000000000000000000000000/notes", key=tenants.acme.key,
        json={"body": "hello"},
    )
    assert answer.status == 404
    assert answer.error["code"] == "not_found"


async def test_timeline(rest: Rest, tenants: Tenants) -> None:
    incident = tenants.acme.incidents[0]
    answer = await rest.get(f"/v1/incidents/{incident.id}/timeline", key=tenants.acme.key)
    assert answer.status == 200
    events = answer.body["data"]
    assert len(events) == 3
    assert {e["type"] for e in events} == {"incident.created", "alert.attached"}
    times = [e["at"] for e in events]
    assert times == sorted(times)
    for event in events:
        assert set(event) == EVENT_KEYS
        assert event["incident_id"] == incident.id
        assert event["workspace_id"] == tenants.acme.id
        assert event["type"] in models.EVENT_TYPES
    assert answer.body["pagination"] == {"limit": 50, "next_cursor": None, "has_more": False}

    missing = await rest.get(
        "/v1/incidents/inc_00000000000000000000000000/timeline", key=tenants.acme.key
    )
    assert missing.status == 404 and missing.error["code"] == "not_found"
    bad = await rest.get(
        f"/v1/incidents/{incident.id}/timeline", key=tenants.acme.key, params={"limit": "-1"}
    )
    assert bad.status == 400 and bad.error["field"] == "limit"


# ---- alerts --------------------------------------------------------------------------------


async def test_list_alerts(rest: Rest, db: Database, tenants: Tenants) -> None:
    key = tenants.acme.key
    answer = await rest.get("/v1/alerts", key=key)
    assert answer.status == 200
    items = answer.body["data"]
    assert {a["id"] for a in items} == {a.id for a in tenants.acme.alerts}
    for item in items:
        assert set(item) == ALERT_KEYS
        assert item["workspace_id"] == tenants.acme.id
        assert item["status"] == "firing" and item["severity"] == "high"
        assert_timestamps(item, "first_seen_at", "last_seen_at", "received_at", "resolved_at")

    resolved, resolved_alerts = await make_incident(
        db, tenants.acme.workspace, title="Queue backlog", severity="medium", status="resolved",
        alerts=1,
    )

    async def ids(**params: str) -> set[str]:
        answer = await rest.get("/v1/alerts", key=key, params=params)
        assert answer.status == 200, answer.body
        return {item["id"] for item in answer.body["data"]}

    assert await ids(status="resolved") == {resolved_alerts[0].id}
    assert await ids(severity="medium,low") == {resolved_alerts[0].id}
    assert await ids(incident_id=resolved.id) == {resolved_alerts[0].id}
    assert await ids(q="backlog") == {resolved_alerts[0].id}
    assert len(await ids(source="test")) == 7
    assert await ids(source="grafana") == set()

    bad = await rest.get("/v1/alerts", key=key, params={"status": "open"})
    assert bad.status == 400 and bad.error["field"] == "status"
    assert "firing, resolved" in bad.error["message"]


async def test_get_alert(rest: Rest, tenants: Tenants) -> None:
    alert = tenants.acme.alerts[0]
    answer = await rest.get(f"/v1/alerts/{alert.id}", key=tenants.acme.key)
    assert answer.status == 200
    assert set(answer.body) == ALERT_KEYS | {"summary"}
    assert answer.body["incident_id"] == alert.incident_id
    assert answer.body["labels"] == {"host": "host-0"}
    summary = answer.body["summary"]
    assert set(summary) == {"text", "generated_by", "generated_at"}
    assert summary["text"] and summary["generated_by"] == "builtin"
    assert_timestamps(summary, "generated_at")

    missing = await rest.get("/v1/alerts/alt_00000000000000000000000000", key=tenants.acme.key)
    assert missing.status == 404 and missing.error["code"] == "not_found"


# ---- workspaces ----------------------------------------------------------------------------


async def test_list_workspaces(rest: Rest, tenants: Tenants) -> None:
    answer = await rest.get("/v1/workspaces", key=tenants.mssp.key)
    assert answer.status == 200
    items = {w["slug"]: w for w in answer.body["data"]}
    assert set(items) == {"mssp", "acme", "globex"}
    for item in items.values():
        assert set(item) == WORKSPACE_KEYS
        assert item["workspace_id"] == item["id"]
        assert item["sla_summary"] is None
    assert items["acme"]["parent_id"] == tenants.mssp.id
    assert items["mssp"]["parent_id"] is None
    assert (items["mssp"]["tier"], items["acme"]["tier"]) == ("enterprise", "growth")

    answer = await rest.get("/v1/workspaces", key=tenants.acme.key)
    assert [w["slug"] for w in answer.body["data"]] == ["acme"]
    # The MSSP is above acme: its key does not see it, so parent_id is null.
    assert answer.body["data"][0]["parent_id"] is None


async def test_get_workspace_by_id_or_slug(rest: Rest, tenants: Tenants) -> None:
    by_id = await rest.get(f"/v1/workspaces/{tenants.acme.id}", key=tenants.mssp.key)
    by_slug = await rest.get("/v1/workspaces/acme", key=tenants.mssp.key)
    assert by_id.status == by_slug.status == 200
    for body in (by_id.body, by_slug.body):  # the default window ends "now"
        assert body["sla_summary"].pop("until") and body["sla_summary"].pop("since")
    assert by_id.body == by_slug.body
    assert set(by_id.body) == WORKSPACE_KEYS
    assert by_id.body["sla_summary"]["incidents_total"] == 3
    assert len(by_id.body["sla_summary"]["by_severity"]) == 5
    assert by_id.body["slug"] == "acme"

    missing = await rest.get("/v1/workspaces/no-such-workspace", key=tenants.mssp.key)
    assert missing.status == 404 and missing.error["code"] == "not_found"


# ---- reports -------------------------------------------------------------------------------


async def test_reports(rest: Rest, db: Database, tenants: Tenants) -> None:
    """Queue, list, fetch; no rendering until ready (409); then markdown and html."""
    key = tenants.acme.key
    answer = await rest.post(
        "/v1/reports", key=key,
        json={"kind": "incident_summary", "period_start": "2026-01-01",
              "period_end": "2026-01-31T00:00:00Z"},
    )
    assert answer.status == 202, answer.body
    report = answer.body
    assert set(report) == REPORT_KEYS
    assert report["status"] == "queued" and report["kind"] == "incident_summary"
    assert report["workspace_id"] == tenants.acme.id
    assert report["period_start"] == "2026-01-01T00:00:00.000Z"
    assert report["period_end"] == "2026-01-31T00:00:00.000Z"
    assert report["content"] is None
    assert answer.headers["Location"] == f"/v1/reports/{report['id']}"

    default_period = await rest.post("/v1/reports", key=key, json={"kind": "SLA"})
    assert default_period.status == 202 and default_period.body["kind"] == "sla"
    early = await rest.post(
        "/v1/reports", key=key,
        json={"kind": "sla", "period_start": "0999-01-01", "period_end": "0999-02-01T00:00:00Z"},
    )
    assert early.status == 202  # years before 1000 keep four digits
    assert early.body["period_start"] == "0999-01-01T00:00:00.000Z"

    listed = await rest.get("/v1/reports", key=key)
    assert [r["id"] for r in listed.body["data"]] == [
        early.body["id"], default_period.body["id"], report["id"]
    ]

    fetched = await rest.get(f"/v1/reports/{report['id']}", key=key)
    assert fetched.status == 200 and fetched.body == report
    as_json = await rest.get(f"/v1/reports/{report['id']}", key=key, params={"format": "json"})
    assert as_json.body == report

    # No rendering before the report is ready: 409, distinct from a report that does not exist.
    for fmt in ("markdown", "html"):
        pending = await rest.get(f"/v1/reports/{report['id']}", key=key, params={"format": fmt})
        assert pending.status == 409, pending.body
        assert pending.error["code"] == "conflict"
        assert "queued" in pending.error["message"] and fmt in pending.error["message"]

    bad = await rest.get(f"/v1/reports/{report['id']}", key=key, params={"format": "pdf"})
    assert bad.status == 400 and bad.error["field"] == "format"

    missing = await rest.get("/v1/reports/rpt_00000000000000000000000000", key=key)
    assert missing.status == 404 and missing.error["code"] == "not_found"
    missing_md = await rest.get(
        "/v1/reports/rpt_00000000000000000000000000", key=key, params={"format": "markdown"}
    )
    assert missing_md.status == 404

    # Once the worker has built it: JSON with content, or a rendering.
    from gateway.domain.reports.worker import run_pending

    assert await run_pending(db) == 3
    ready = await rest.get(f"/v1/reports/{report['id']}", key=key)
    assert ready.status == 200
    assert ready.body["status"] == "ready" and isinstance(ready.body["content"], dict)
    assert_timestamps(ready.body, "started_at", "completed_at")
    markdown = await rest.get(f"/v1/reports/{report['id']}", key=key, params={"format": "markdown"})
    assert markdown.status == 200
    assert markdown.headers["Content-Type"].startswith("text/markdown")
    assert markdown.raw.decode().lstrip().startswith("#")
    html = await rest.get(f"/v1/reports/{report['id']}", key=key, params={"format": "HTML"})
    assert html.status == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert b"<svg" in html.raw and b"<script" not in html.raw


REPORT_REFUSED: list[tuple[dict[str, object], str, str]] = [
    ({}, "kind", "`kind` is required"),
    ({"kind": "weekly"}, "kind", "incident_summary, sla"),
    ({"kind": "sla", "period_start": "last week"}, "period_start", "ISO 8601"),
    ({"kind": "sla", "period_end": 20260101}, "period_end", "ISO 8601"),
    (
        {"kind": "sla", "period_start": "2026-02-01", "period_end": "2026-01-01"},
        "period_start", "period_start must be before period_end",
    ),
    (
        {"kind": "sla", "period_start": "2020-01-01", "period_end": "2026-01-01"},
        "period_start", "366 days",
    ),
    ({"kind": "sla", "period_end": "0001-01-05T00:00:00Z"}, "period_end", "between years 2 and"),
]


async def test_generate_report_validation_failed(rest: Rest, tenants: Tenants) -> None:
    for body, field, says in REPORT_REFUSED:
        answer = await rest.post("/v1/reports", key=tenants.acme.key, json=body)
        assert answer.status == 422, (body, answer.body)
        assert answer.error["code"] == "validation_failed"
        assert answer.error["field"] == field
        assert says in answer.error["message"], (body, answer.error)
    assert (await rest.get("/v1/reports", key=tenants.acme.key)).body["data"] == []


# ---- what every route does -----------------------------------------------------------------


async def test_every_route_needs_a_key(rest: Rest, tenants: Tenants) -> None:
    for route in ROUTES:
        method, path = route.method, concrete(route.path, tenants)
        for key in (None, "seliq_not-a-real-key"):
            answer = await rest.call(method, path, key=key, json={})
            assert answer.status == 401, (method, path, answer.body)
            assert answer.error["code"] == "unauthenticated"
            assert answer.headers["WWW-Authenticate"] == "Bearer"
        answer = await rest.call(method, path, json={}, headers={"Authorization": "Basic abc"})
        assert answer.status == 401, (method, path)


async def test_request_id_is_echoed(rest: Rest, tenants: Tenants) -> None:
    ok = await rest.get("/v1/incidents", key=tenants.acme.key, headers={"X-Request-ID": "trace-1"})
    assert ok.headers["X-Request-ID"] == "trace-1"
    failed = await rest.get("/v1/incidents", headers={"X-Request-ID": "trace-2"})
    assert failed.headers["X-Request-ID"] == "trace-2"
    assert failed.error["request_id"] == "trace-2"


async def test_unknown_route_is_a_json_404(rest: Rest, tenants: Tenants) -> None:
    answer = await rest.get("/v1/incidentz", key=tenants.acme.key)
    assert answer.status == 404
    assert answer.error["code"] == "not_found"


async def test_internal_error_hides_internals(
    rest: Rest, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.domain.incidents import incidents

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(incidents, "list_incidents", boom)
    answer = await rest.get("/v1/incidents", key=tenants.acme.key)
    assert answer.status == 500
    assert answer.error["code"] == "internal"
    assert answer.error["request_id"] == answer.headers["X-Request-ID"]
    assert b"hunter2" not in answer.raw and b"RuntimeError" not in answer.raw
