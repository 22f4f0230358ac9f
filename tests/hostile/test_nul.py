"""NUL characters (U+0000) in text.

PostgreSQL cannot store NUL in text and refuses it in parameters, so today every one of these
is a 500 there (a sender that retries on 5xx retries forever), while SQLite stores or matches it.

Decision tested here (refuse rather than store escaped: docs/api.md):
text with a NUL is refused, the same on SQLite and PostgreSQL, naming the field, nothing written:

- webhook and `POST /v1/alerts` (ingestion): 400 `invalid_request` naming the field;
- query parameters and cursors: 400 `invalid_request` naming the parameter (a bad cursor is
  `invalid_request` with field `cursor` today);
- `POST /v1/incidents/{id}/notes`: a bad field of a JSON body is documented as 422
  `validation_failed` naming the field (README, rest_compat/params.py), so 422 is accepted
  there besides the 400 the issue names;
- REST path ids: 400 `invalid_request` or 404 `not_found` (a NUL id can name nothing);
- GraphQL arguments, filters, cursors and mutation inputs: refused before execution (nothing
  runs), an error with `extensions.code` BAD_USER_INPUT naming the argument (`filter.query`,
  `input.body`); a NUL that only appears once a `rawBody` is decoded is a `userError` naming the
  field; a `\u0000` escape in the document itself is BAD_USER_INPUT for the document.
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
from tests.ingest.conftest import Hook, post
from tests.rest.conftest import Rest
from tests.support.data import Tenants
from tests.support.server import Server

NUL = "\u0000"
A_TIME = "2026-01-01T00:00:00+00:00"

# name, JSON body, field(s) the refusal may name
INGEST_BODIES: list[tuple[str, dict[str, Any], str | tuple[str, ...]]] = [
    ("title", {"title": f"disk{NUL}full"}, "title"),
    ("fingerprint", {"title": "disk full", "fingerprint": f"fp{NUL}1"}, "fingerprint"),
    ("dedup_key", {"title": "disk full", "dedup_key": f"fp{NUL}1"}, "dedup_key"),
    ("description", {"title": "disk full", "description": f"on{NUL}host"}, "description"),
    ("source", {"title": "disk full", "source": f"nagios{NUL}"}, "source"),
    ("label value", {"title": "disk full", "labels": {"host": f"db{NUL}1"}}, "labels"),
    ("label name", {"title": "disk full", "labels": {f"ho{NUL}st": "db1"}}, "labels"),
    ("unknown shape message", {"message": f"cpu{NUL}hot", "check_id": 7}, ("message", "title")),
    ("alertmanager summary", {
        "version": "4", "receiver": "seliq", "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": f"Disk{NUL}Full"},
                    "annotations": {}, "startsAt": A_TIME}],
    }, ("alerts[0]", "alertname", "labels")),
]


@pytest.mark.parametrize(
    ("body", "field"), [case[1:] for case in INGEST_BODIES], ids=[case[0] for case in INGEST_BODIES]
)
async def test_webhook_text_with_nul_is_refused(
    server: Server, db: Database, tenants: Tenants, hook: Hook, body: dict[str, Any],
    field: str | tuple[str, ...],
) -> None:
    before = await counts(db)
    reply = await alongside(server, tenants.acme.key, post(server, hook.path(), body))
    assert reply.status == 400, reply.body
    error = error_of(reply.body)
    assert error["code"] == "invalid_request", reply.body
    assert names_field(error, *as_names(field)), reply.body
    assert error["request_id"] == reply.headers["X-Request-ID"]
    assert_nothing_written(before, await counts(db), deliveries=1)
    await still_serving(server, tenants.acme.key)


def as_names(field: str | tuple[str, ...]) -> tuple[str, ...]:
    return (field,) if isinstance(field, str) else field


@pytest.mark.parametrize(
    ("body", "field"), [case[1:] for case in INGEST_BODIES[:3]],
    ids=[case[0] for case in INGEST_BODIES[:3]],
)
async def test_post_alert_text_with_nul_is_refused(
    server: Server, db: Database, tenants: Tenants, body: dict[str, Any],
    field: str | tuple[str, ...],
) -> None:
    rest = Rest(server)
    before = await counts(db)
    answer = await alongside(server, tenants.acme.key,
                             rest.post("/v1/alerts", key=tenants.acme.key, json=body))
    assert answer.status == 400, answer.body
    assert answer.error["code"] == "invalid_request", answer.body
    assert names_field(answer.error, *as_names(field)), answer.body
    assert_nothing_written(before, await counts(db))
    await still_serving(server, tenants.acme.key)


async def test_webhook_source_parameter_with_nul_is_refused(
    server: Server, db: Database, tenants: Tenants, hook: Hook
) -> None:
    before = await counts(db)
    reply = await alongside(
        server, tenants.acme.key,
        post(server, f"{hook.path()}?source=nagios%00x", {"title": "disk full"}),
    )
    assert reply.status == 400, reply.body
    error = error_of(reply.body)
    assert error["code"] == "invalid_request", reply.body
    assert names_field(error, "source"), reply.body
    assert_nothing_written(before, await counts(db), deliveries=1)
    await still_serving(server, tenants.acme.key)


async def test_json_body_field_with_nul_is_refused(
    server: Server, db: Database, tenants: Tenants
) -> None:
    """A note's body or author, an incident's assignee (PATCH)."""
    rest = Rest(server)
    incident = tenants.acme.incidents[0].id
    notes = f"/v1/incidents/{incident}/notes"
    for method, path, body, field in [
        ("POST", notes, {"body": f"looked{NUL}at it"}, "body"),
        ("POST", notes, {"body": "looked at it", "author": f"al{NUL}"}, "author"),
        ("PATCH", f"/v1/incidents/{incident}", {"assignee": f"alice{NUL}"}, "assignee"),
    ]:
        before = await counts(db)
        answer = await alongside(
            server, tenants.acme.key,
            rest.call(method, path, key=tenants.acme.key, json=body),
        )
        code = (answer.body.get("error") or {}).get("code")
        assert (answer.status, code) in {
            (400, "invalid_request"), (422, "validation_failed"),
        }, answer.body
        assert names_field(answer.error, field), answer.body
        assert_nothing_written(before, await counts(db))
    await still_serving(server, tenants.acme.key)


def _list_params() -> list[tuple[str, str, str, str]]:
    """(id, path, parameter, value) for the REST list filters and cursors."""
    return [
        ("incidents q", "/v1/incidents", "q", f"disk{NUL}"),
        ("incidents assignee", "/v1/incidents", "assignee", f"alice{NUL}"),
        ("incidents cursor", "/v1/incidents", "cursor", forge_cursor(A_TIME, f"inc_{NUL}x")),
        ("alerts q", "/v1/alerts", "q", f"disk{NUL}"),
        ("alerts source", "/v1/alerts", "source", f"test{NUL}"),
        ("alerts incident_id", "/v1/alerts", "incident_id", f"inc_{NUL}x"),
        ("alerts cursor", "/v1/alerts", "cursor", forge_cursor(A_TIME, f"alt_{NUL}x")),
        ("workspaces cursor", "/v1/workspaces", "cursor", forge_cursor(A_TIME, f"ws_{NUL}x")),
        ("reports cursor", "/v1/reports", "cursor", forge_cursor(A_TIME, f"rpt_{NUL}x")),
    ]


@pytest.mark.parametrize(
    ("path", "name", "value"), [case[1:] for case in _list_params()],
    ids=[case[0] for case in _list_params()],
)
async def test_rest_filter_or_cursor_with_nul_is_refused(
    server: Server, tenants: Tenants, path: str, name: str, value: str
) -> None:
    rest = Rest(server)
    answer = await alongside(
        server, tenants.acme.key, rest.get(path, key=tenants.acme.key, params={name: value})
    )
    assert answer.status == 400, answer.body
    assert answer.error["code"] == "invalid_request", answer.body
    assert names_field(answer.error, name), answer.body
    await still_serving(server, tenants.acme.key)


@pytest.mark.parametrize(
    "path",
    ["/v1/incidents/inc_%00x", "/v1/alerts/alt_%00x", "/v1/workspaces/acme%00",
     "/v1/incidents/inc_%00x/timeline", "/v1/reports/rpt_%00x"],
)
async def test_rest_path_id_with_nul_is_refused(
    server: Server, tenants: Tenants, path: str
) -> None:
    rest = Rest(server)
    answer = await alongside(server, tenants.acme.key, rest.get(path, key=tenants.acme.key))
    assert (answer.status, answer.error["code"]) in {
        (400, "invalid_request"), (404, "not_found"),
    }, answer.body
    await still_serving(server, tenants.acme.key)


# id, query, variables, argument the error names
GRAPHQL_READS: list[tuple[str, str, dict[str, Any], str]] = [
    ("incidents query", "query($v: String) { incidents(filter: {query: $v}) { totalCount } }",
     {"v": f"disk{NUL}"}, "query"),
    ("incidents assignee",
     "query($v: String) { incidents(filter: {assignee: $v}) { totalCount } }",
     {"v": f"alice{NUL}"}, "assignee"),
    ("alerts source", "query($v: String) { alerts(filter: {source: $v}) { totalCount } }",
     {"v": f"test{NUL}"}, "source"),
    ("alerts query", "query($v: String) { alerts(filter: {query: $v}) { totalCount } }",
     {"v": f"disk{NUL}"}, "query"),
    ("alerts incidentId", "query($v: ID) { alerts(filter: {incidentId: $v}) { totalCount } }",
     {"v": f"inc_{NUL}x"}, "incidentId"),
    ("node id", "query($v: ID!) { node(id: $v) { id } }", {"v": f"inc_{NUL}x"}, "id"),
    ("nodes ids", "query($v: [ID!]!) { nodes(ids: $v) { id } }", {"v": [f"alt_{NUL}x"]}, "ids"),
    ("workspace id", "query($v: ID) { workspace(id: $v) { slug } }", {"v": f"acme{NUL}"}, "id"),
    ("incident id", "query($v: ID!) { incident(id: $v) { id } }", {"v": f"inc_{NUL}x"}, "id"),
    ("incidents after", "query($v: String) { incidents(after: $v) { totalCount } }",
     {"v": forge_cursor(A_TIME, f"inc_{NUL}x")}, "after"),
    ("incidents before", "query($v: String) { incidents(last: 5, before: $v) { totalCount } }",
     {"v": forge_cursor(A_TIME, f"inc_{NUL}x")}, "before"),
    ("alerts after", "query($v: String) { alerts(after: $v) { totalCount } }",
     {"v": forge_cursor(A_TIME, f"alt_{NUL}x")}, "after"),
    ("workspaces after", "query($v: String) { workspaces(after: $v) { totalCount } }",
     {"v": forge_cursor(A_TIME, f"ws_{NUL}x")}, "after"),
    ("timeline after",
     "query($i: ID!, $v: String) { incident(id: $i) { timeline(after: $v) { totalCount } } }",
     {"v": forge_cursor(A_TIME, f"evt_{NUL}x")}, "after"),
]


@pytest.mark.parametrize(
    ("query", "variables", "argument"), [case[1:] for case in GRAPHQL_READS],
    ids=[case[0] for case in GRAPHQL_READS],
)
async def test_graphql_argument_with_nul_is_bad_user_input(
    server: Server, tenants: Tenants, query: str, variables: dict[str, Any], argument: str
) -> None:
    variables = dict(variables)
    if "$i" in query:
        variables["i"] = tenants.acme.incidents[0].id
    body = await alongside(
        server, tenants.acme.key,
        server.graphql(query, variables, key=tenants.acme.key, expect_status=None),
    )
    assert_refused_before_or_in_execution(body, argument)
    await still_serving(server, tenants.acme.key)


def assert_refused_before_or_in_execution(body: dict[str, Any], *names: str) -> None:
    """BAD_USER_INPUT naming the argument (before execution; a cursor, whose NUL shows only once
    it is decoded, by its field); never INTERNAL."""
    error = graphql_errors(body)[0]
    assert body["_status"] == 200, body
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert names_field(error, *names), body


# id, query with a GraphQL string literal holding a \u0000 escape
GRAPHQL_LITERALS: list[tuple[str, str]] = [
    ("incidents query", '{ incidents(filter: {query: "disk\\u0000"}) { totalCount } }'),
    ("alerts source", '{ alerts(filter: {source: "test\\u0000"}) { totalCount } }'),
    ("node id", '{ node(id: "inc_\\u0000x") { id } }'),
    ("workspace id", '{ workspace(id: "acme\\u0000") { slug } }'),
    ("note body", 'mutation { addIncidentNote(input: {incidentId: "%s", body: "a\\u0000b"}) '
                  "{ userErrors { field message code } } }"),
]


@pytest.mark.parametrize(
    "query", [case[1] for case in GRAPHQL_LITERALS], ids=[case[0] for case in GRAPHQL_LITERALS]
)
async def test_graphql_literal_with_nul_escape_is_refused(
    server: Server, db: Database, tenants: Tenants, query: str
) -> None:
    """The same NUL as a GraphQL escape in the document: the document is refused before anything
    runs (BAD_USER_INPUT), never INTERNAL."""
    if "%s" in query:
        query = query % tenants.acme.incidents[0].id
    assert "\\u0000" in query and NUL not in query
    before = await counts(db)
    body = await alongside(
        server, tenants.acme.key,
        server.graphql(query, key=tenants.acme.key, expect_status=None),
    )
    assert body["_status"] == 200 and body.get("data") is None, body
    error = graphql_errors(body)[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "NUL" in error["message"], body
    assert_nothing_written(before, await counts(db))
    await still_serving(server, tenants.acme.key)


# id, mutation, input (incident id filled in), input field the userError names
GRAPHQL_WRITES: list[tuple[str, str, dict[str, Any], str]] = [
    ("note body", "addIncidentNote", {"body": f"looked{NUL}at it"}, "body"),
    ("note author", "addIncidentNote", {"body": "looked", "author": f"al{NUL}"}, "author"),
    ("assignee", "updateIncident", {"assignee": f"alice{NUL}"}, "assignee"),
    ("ingest title", "ingestAlert", {"title": f"disk{NUL}full"}, "title"),
    ("ingest fingerprint", "ingestAlert", {"title": "disk", "fingerprint": f"f{NUL}"},
     "fingerprint"),
    ("ingest source", "ingestAlert", {"title": "disk", "source": f"s{NUL}"}, "source"),
    ("ingest payload", "ingestAlert", {"payload": {"title": f"disk{NUL}full"}}, "title"),
    ("ingest raw body", "ingestAlert", {"rawBody": '{"title": "disk\\u0000full"}'}, "title"),
]
INPUT_TYPES = {
    "addIncidentNote": "AddIncidentNoteInput", "updateIncident": "UpdateIncidentInput",
    "ingestAlert": "IngestAlertInput",
}


@pytest.mark.parametrize(
    ("mutation", "fields", "field"), [case[1:] for case in GRAPHQL_WRITES],
    ids=[case[0] for case in GRAPHQL_WRITES],
)
async def test_graphql_mutation_input_with_nul_is_refused_naming_the_field(
    server: Server, db: Database, tenants: Tenants, mutation: str, fields: dict[str, Any],
    field: str,
) -> None:
    incident = tenants.acme.incidents[0].id
    fields = dict(fields)
    if mutation == "addIncidentNote":
        fields["incidentId"] = incident
    elif mutation == "updateIncident":
        fields["id"] = incident
    query = (
        f"mutation($input: {INPUT_TYPES[mutation]}!) {{ {mutation}(input: $input) "
        "{ userErrors { field message code } } }"
    )
    before = await counts(db)
    body = await alongside(
        server, tenants.acme.key,
        server.graphql(query, {"input": fields}, key=tenants.acme.key, expect_status=None),
    )
    assert body["_status"] == 200, body
    if body.get("errors"):  # refused before execution, as a bad argument
        error = body["errors"][0]
        assert body.get("data") is None and error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert names_field(error, field), body
    else:
        assert "rawBody" in fields, body  # only text decoded by the resolver gets this far
        errors = body["data"][mutation]["userErrors"]
        assert errors and errors[0]["code"] == "BAD_USER_INPUT", body
        assert names_field(errors[0], field), body
    assert_nothing_written(before, await counts(db))
    await still_serving(server, tenants.acme.key)
