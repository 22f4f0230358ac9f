"""dates outside what Python and the databases hold, and forged cursors.

`0001-01-01T00:00:00+01:00` is a valid ISO 8601 text whose UTC time is in year 0; the UTC time of
`9999-12-31T23:59:59-01:00` is in year 10000. Today both are 500s wherever a time is converted
to UTC (ingestion's `occurred_at`, Alertmanager's `startsAt`, an unknown shape's `timestamp`,
cursors, GraphQL DateTime literals); NUMBER-order cursors holding an integer >= 2^63 or a string
reach the database as they are.

Expected: a 400 naming the field (`invalid_request`; GraphQL BAD_USER_INPUT, or the
GRAPHQL_VALIDATION_FAILED a refused DateTime literal gets today); for cursors, what a bad cursor
gets today: REST 400 `invalid_request` with field `cursor`, GraphQL BAD_USER_INPUT with field
`after`/`before` ("`after` is not a valid cursor"). Cursors are validated entirely before use.
The generic body is validated strictly, so there it is a 400. Third-party shapes (Alertmanager's
`startsAt`/`endsAt`, an unknown shape's `timestamp`) are "accepted, kept whole" (DESIGN.md), a
garbage time in them is read as unset today, and Alertmanager sends `0001-01-01T00:00:00Z` for
"unset" itself: there either answer is accepted, a 400 naming the field, or 2xx with the time
read as unset (a sane first-seen time) and the payload read back as sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.storage.engine import Database
from tests.hostile.helpers import (
    alongside,
    assert_nothing_written,
    counts,
    error_of,
    forge_cursor,
    graphql_errors,
    names_field,
    still_serving,
)
from tests.ingest.conftest import Hook, Reply, post
from tests.rest.conftest import Rest
from tests.support.data import Tenants
from tests.support.server import Server

OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
DATE_IDS = ["year-1", "year-9999"]


def _alertmanager(starts_at: str, ends_at: str | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": "firing", "labels": {"alertname": "DiskFull", "instance": "db1"},
        "annotations": {"summary": "disk full"}, "startsAt": starts_at,
        "fingerprint": "am-1",
    }
    if ends_at is not None:
        alert["status"] = "resolved"
        alert["endsAt"] = ends_at
    return {"version": "4", "receiver": "seliq", "status": alert["status"], "groupKey": "g",
            "alerts": [alert]}


# The generic body is validated strictly (README): a bad field is a 400 naming it.
# id, body for a given date, field(s) the refusal names
STRICT_CASES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("occurred_at", lambda when: {"title": "disk full", "occurred_at": when}, ("occurred_at",)),
    ("batch occurred_at",
     lambda when: {"alerts": [{"title": "ok"}, {"title": "disk full", "occurred_at": when}]},
     ("occurred_at",)),
]
# Third-party shapes are accepted as sent (DESIGN.md); Alertmanager itself sends the zero time
# `0001-01-01T00:00:00Z` for "unset", which is read as unset today. So either answer is right:
# a 400 naming the field, or 202 with the time read as unset and the payload kept as sent.
# id, body for a given date, field(s) a refusal names
LENIENT_CASES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("alertmanager startsAt", lambda when: _alertmanager(when), ("startsAt",)),
    ("alertmanager endsAt", lambda when: _alertmanager("2026-01-01T00:00:00Z", when),
     ("endsAt",)),
    ("unknown shape timestamp",
     lambda when: {"message": "cpu hot", "check_id": 7, "timestamp": when}, ("timestamp",)),
]
SANE_YEARS = range(1971, 9999)


async def _deliver(server: Server, key: str, door: str, hook: Hook, body: Any) -> Reply:
    if door == "webhook":
        return await post(server, hook.path(), body)
    return await post(server, "/v1/alerts", body, headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("when", OUT_OF_RANGE, ids=DATE_IDS)
@pytest.mark.parametrize(
    ("make", "fields"), [case[1:] for case in STRICT_CASES], ids=[case[0] for case in STRICT_CASES]
)
@pytest.mark.parametrize("door", ["webhook", "rest"])
async def test_generic_date_out_of_range_is_refused(
    server: Server, db: Database, tenants: Tenants, hook: Hook, door: str, make: Any,
    fields: tuple[str, ...], when: str,
) -> None:
    key = tenants.acme.key
    before = await counts(db)
    reply = await alongside(server, key, _deliver(server, key, door, hook, make(when)))
    assert reply.status == 400, reply.body
    error = error_of(reply.body)
    assert error["code"] == "invalid_request", reply.body
    assert names_field(error, *fields), reply.body
    assert error["request_id"] == reply.headers["X-Request-ID"]
    assert_nothing_written(before, await counts(db), deliveries=1 if door == "webhook" else 0)
    await still_serving(server, key)


@pytest.mark.parametrize("when", OUT_OF_RANGE, ids=DATE_IDS)
@pytest.mark.parametrize(
    ("make", "fields"), [case[1:] for case in LENIENT_CASES],
    ids=[case[0] for case in LENIENT_CASES],
)
@pytest.mark.parametrize("door", ["webhook", "rest"])
async def test_third_party_date_out_of_range_is_refused_or_unset(
    server: Server, db: Database, tenants: Tenants, hook: Hook, door: str, make: Any,
    fields: tuple[str, ...], when: str,
) -> None:
    key = tenants.acme.key
    body = make(when)
    before = await counts(db)
    reply = await alongside(server, key, _deliver(server, key, door, hook, body))
    if reply.status == 400:
        error = error_of(reply.body)
        assert error["code"] == "invalid_request", reply.body
        assert names_field(error, *fields), reply.body
        assert_nothing_written(before, await counts(db), deliveries=1 if door == "webhook" else 0)
    else:
        assert reply.status in (201, 202), reply.body
        alert_id = reply.body["alerts"][0] if door == "webhook" else reply.body["id"]
        read = await server.graphql(
            "query($id: ID!) { alert(id: $id) { rawPayload firstSeenAt resolvedAt } }",
            {"id": alert_id}, key=key,
        )
        alert = read["data"]["alert"]
        # An Alertmanager alert keeps its own item of the group; other shapes the whole body.
        assert alert["rawPayload"] in (body, *body.get("alerts", ())), read
        for name in ("firstSeenAt", "resolvedAt"):
            if alert[name] is not None:
                assert int(alert[name][:4]) in SANE_YEARS, read
    await still_serving(server, key)


@pytest.mark.parametrize("when", OUT_OF_RANGE, ids=DATE_IDS)
async def test_ingest_alert_occurred_at_out_of_range_is_refused(
    server: Server, db: Database, tenants: Tenants, when: str
) -> None:
    """The typed `occurredAt` (a DateTime), as a variable and as a literal."""
    queries = [
        ("mutation($t: DateTime) { ingestAlert(input: {title: \"x\", occurredAt: $t}) "
         "{ userErrors { field message code } } }", {"t": when}),
        ('mutation { ingestAlert(input: {title: "x", occurredAt: "' + when + '"}) '
         "{ userErrors { field message code } } }", None),
    ]
    for query, variables in queries:
        before = await counts(db)
        body = await alongside(
            server, tenants.acme.key,
            server.graphql(query, variables, key=tenants.acme.key, expect_status=None),
        )
        assert body["_status"] == 200, body
        if body.get("errors"):
            error = body["errors"][0]
            assert error["extensions"]["code"] in {
                "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"
            }, body
            # A variable is named by the error; a literal by its `locations` (GraphQL's way).
            assert names_field(error, "occurredAt", "$t") or (
                error.get("locations") and when in error["message"]
            ), body
        else:
            (error,) = body["data"]["ingestAlert"]["userErrors"]
            assert error["code"] == "BAD_USER_INPUT" and names_field(error, "occurredAt"), body
        assert_nothing_written(before, await counts(db))
    await still_serving(server, tenants.acme.key)


# id, query with a DateTime literal (%s), argument named
GRAPHQL_DATE_LITERALS: list[tuple[str, str, str]] = [
    ("incidents createdAfter",
     '{ incidents(filter: {createdAfter: "%s"}) { totalCount } }', "createdAfter"),
    ("incidents createdBefore",
     '{ incidents(filter: {createdBefore: "%s"}) { totalCount } }', "createdBefore"),
    ("slaSummary since", '{ workspace { slaSummary(since: "%s") { incidentsTotal } } }', "since"),
    ("generateReport periodStart",
     'mutation { generateReport(input: {kind: SLA, periodStart: "%s"}) { userErrors { code } } }',
     "periodStart"),
]


@pytest.mark.parametrize("when", OUT_OF_RANGE, ids=DATE_IDS)
@pytest.mark.parametrize(
    ("query", "argument"), [case[1:] for case in GRAPHQL_DATE_LITERALS],
    ids=[case[0] for case in GRAPHQL_DATE_LITERALS],
)
async def test_graphql_date_literal_out_of_range_is_refused(
    server: Server, tenants: Tenants, query: str, argument: str, when: str
) -> None:
    body = await alongside(
        server, tenants.acme.key,
        server.graphql(query % when, key=tenants.acme.key, expect_status=None),
    )
    assert body["_status"] == 200, body
    error = graphql_errors(body)[0]
    assert error["extensions"]["code"] in {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, body
    assert "Unexpected error" not in error["message"], body
    await still_serving(server, tenants.acme.key)


# ---- cursors -------------------------------------------------------------------------------------

SOME_ID = "inc_01aaaaaaaaaaaaaaaaaaaaaaaa"
FORGED_TIME_CURSORS = [forge_cursor(when, SOME_ID) for when in OUT_OF_RANGE]


@pytest.mark.parametrize("cursor", FORGED_TIME_CURSORS, ids=DATE_IDS)
@pytest.mark.parametrize(
    "path", ["/v1/incidents", "/v1/alerts", "/v1/workspaces", "/v1/reports", "timeline"]
)
async def test_rest_cursor_with_date_out_of_range_is_a_bad_cursor(
    server: Server, tenants: Tenants, path: str, cursor: str
) -> None:
    rest = Rest(server)
    if path == "timeline":
        path = f"/v1/incidents/{tenants.acme.incidents[0].id}/timeline"
    answer = await alongside(
        server, tenants.acme.key, rest.get(path, key=tenants.acme.key, params={"cursor": cursor})
    )
    assert answer.status == 400, answer.body
    assert answer.error["code"] == "invalid_request", answer.body
    assert answer.error.get("field") == "cursor", answer.body
    await still_serving(server, tenants.acme.key)


def _cursor_queries() -> list[tuple[str, str, dict[str, Any], str]]:
    """(id, query, variables, argument) with forged cursors."""
    cases: list[tuple[str, str, dict[str, Any], str]] = []
    for label, cursor in zip(DATE_IDS, FORGED_TIME_CURSORS, strict=True):
        cases += [
            (f"incidents after {label}",
             "query($c: String) { incidents(after: $c) { totalCount } }", {"c": cursor}, "after"),
            (f"incidents before {label}",
             "query($c: String) { incidents(last: 2, before: $c) { totalCount } }",
             {"c": cursor}, "before"),
            (f"alerts after {label}",
             "query($c: String) { alerts(after: $c) { totalCount } }", {"c": cursor}, "after"),
            (f"updated_at after {label}",
             "query($c: String) { incidents(orderBy: {field: UPDATED_AT}, after: $c) "
             "{ totalCount } }", {"c": cursor}, "after"),
            (f"nested alerts after {label}",
             "query($c: String) { incidents(first: 1) { nodes { alerts(after: $c) "
             "{ nodes { id } } } } }", {"c": cursor}, "after"),
            (f"notes after {label}",
             "query($c: String) { incidents(first: 1) { nodes { notes(after: $c) "
             "{ totalCount } } } }", {"c": cursor}, "after"),
            (f"reports after {label}",
             "query($c: String) { reports(after: $c) { totalCount } }", {"c": cursor}, "after"),
            (f"webhook deliveries after {label}",
             "query($c: String) { workspace { webhookDeliveries(after: $c) { totalCount } } }",
             {"c": cursor}, "after"),
        ]
    number = "query($c: String) { incidents(orderBy: {field: NUMBER, direction: %s}, after: $c) " \
             "{ totalCount } }"
    for value, label in [(2**63, "2^63"), (2**64 + 5, "2^64+5"), (-(2**63) - 1, "-2^63-1"),
                         ("abc", "string"), ("1", "digit string"), (True, "boolean")]:
        for direction in ("ASC", "DESC"):
            cases.append((
                f"number {label} {direction}", number % direction,
                {"c": forge_cursor(value, SOME_ID)}, "after",
            ))
    return cases


@pytest.mark.parametrize(
    ("query", "variables", "argument"), [case[1:] for case in _cursor_queries()],
    ids=[case[0] for case in _cursor_queries()],
)
async def test_graphql_forged_cursor_is_a_bad_cursor(
    server: Server, tenants: Tenants, query: str, variables: dict[str, Any], argument: str
) -> None:
    body = await alongside(
        server, tenants.acme.key,
        server.graphql(query, variables, key=tenants.acme.key, expect_status=None),
    )
    assert body["_status"] == 200, body
    error = graphql_errors(body)[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert error["extensions"].get("field") == argument, body
    assert error["message"] == f"`{argument}` is not a valid cursor", body
    await still_serving(server, tenants.acme.key)
