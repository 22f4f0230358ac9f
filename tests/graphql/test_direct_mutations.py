"""Mutations answered without the standard executor (`schema.plan.mutations`) answer exactly as
it does: two workspaces of one database get the same requests, one through an executor that
never answers directly, the other through one that does once it has learned the document;
their answers must be the same bytes, once ids and times (which differ by nature) are replaced
by their order of appearance. Selections beyond the webhook's (aliases, fragments, literal
directives), literal and variable inputs,
every payload format, userErrors, a replayed idempotency key and a refused principal, on both
backends; documents with a resolver below the root stay with the standard executor."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import Principal, authenticate
from rest_compat.webhook import OPERATION as WEBHOOK_OPERATION
from schema.executor import GraphQLExecutor
from schema.plan.mutations import MAX_DOCUMENTS
from tests.support.data import make_tenant

EVERYTHING = """
mutation Everything($input: IngestAlertInput!) {
  result: ingestAlert(input: $input) {
    __typename format replayed deduplicated outcome
    first: alert { __typename id title description severity status source fingerprint labels
                   rawPayload occurrences firstSeenAt lastSeenAt receivedAt resolvedAt }
    incident { id number title status severity assignee alertCount createdAt updatedAt
               acknowledgedAt resolvedAt }
    results { outcome alert { id severity } incident { id number } }
    userErrors { field message code }
  }
}
"""
LITERAL = """
mutation Literal {
  ingestAlert(input: {title: "literal", severity: CRITICAL, labels: {host: "h-1"},
                      fingerprint: "lit-1", occurredAt: "2026-01-02T03:04:05.678Z"}) {
    outcome alert { id title severity firstSeenAt labels } userErrors { code message field }
  }
}
"""
FRAGMENTS = """
mutation Fragments($input: IngestAlertInput!) {
  ingestAlert(input: $input) {
    ...Payload
    replayed @skip(if: true)
    format @include(if: true)
  }
}
fragment Payload on IngestAlertPayload {
  outcome
  alert { ...AlertFields }
  ... on IngestAlertPayload { deduplicated results { outcome } }
}
fragment AlertFields on Alert { id title severity labels }
"""
# Alert.summary has a resolver: this one is for the standard executor on both sides.
WITH_RESOLVER = """
mutation WithResolver($input: IngestAlertInput!) {
  ingestAlert(input: $input) { alert { id summary { text } } userErrors { code } }
}
"""


def _raw(body: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"rawBody": orjson.dumps(body).decode(), "source": None,
                      "idempotencyKey": None}}


def _alertmanager(status: str) -> dict[str, Any]:
    return {"version": "4", "status": status, "receiver": "seliq", "alerts": [
        {"status": status, "labels": {"alertname": "DiskFull", "instance": f"db-{n}"},
         "annotations": {"summary": "disk full"}, "startsAt": "2026-12-01T10:00:00Z",
         "fingerprint": f"am-{n}"}
        for n in range(3)
    ]}


REQUESTS: list[tuple[str, dict[str, Any] | None]] = [
    (WEBHOOK_OPERATION, _raw({"title": "CPU high", "severity": "high", "fingerprint": "fp-1"})),
    (WEBHOOK_OPERATION, _raw({"title": "CPU high", "severity": "critical", "fingerprint": "fp-1"})),
    (WEBHOOK_OPERATION, _raw({"title": "Disk", "labels": {"host": "a"}, "fingerprint": "fp-2"})),
    (EVERYTHING, _raw({"title": "Memory", "severity": "low", "description": "über 90 %",
                       "labels": {"host": "b", "big": "1" * 30}, "fingerprint": "fp-3"})),
    (EVERYTHING, _raw({"alerts": [{"title": f"batch {n}", "fingerprint": f"b-{n}"}
                                  for n in range(4)]})),
    (EVERYTHING, _raw(_alertmanager("firing"))),
    (EVERYTHING, _raw(_alertmanager("resolved"))),
    (EVERYTHING, _raw({"title": "CPU high", "fingerprint": "fp-1", "status": "resolved"})),
    (EVERYTHING, {"input": {"rawBody": "{not json", "source": None, "idempotencyKey": None}}),
    (EVERYTHING, _raw({"severity": "high"})),  # no title: a userError
    (EVERYTHING, {"input": {"title": "typed", "severity": "HIGH", "labels": {"k": "v"},
                            "idempotencyKey": "idem-1"}}),
    (EVERYTHING, {"input": {"title": "typed", "severity": "HIGH", "labels": {"k": "v"},
                            "idempotencyKey": "idem-1"}}),  # replayed
    (EVERYTHING, {"input": {"title": "other", "idempotencyKey": "idem-1"}}),  # key reused
    (EVERYTHING, {"input": {"title": "both", "rawBody": "{}"}}),  # two inputs: a userError
    (EVERYTHING, {"input": {"title": "x", "severity": "NOT_A_SEVERITY"}}),  # refused variables
    (LITERAL, None),
    (LITERAL, None),  # deduplicated
    (FRAGMENTS, _raw({"title": "fragments", "fingerprint": "fp-f"})),
    (FRAGMENTS, _raw({"title": "fragments", "fingerprint": "fp-f"})),
    (WITH_RESOLVER, _raw({"title": "with summary", "fingerprint": "fp-9"})),
]
TIME = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')
ID = re.compile(rb'"(?:ws|inc|alt|evt|dlv)_[0-9a-z]{26}"')


def _normalized(body: dict[str, Any]) -> bytes:
    """Ids by order of appearance, times as one placeholder: what differs between the two
    workspaces. (Times are not numbered by appearance: a request's events are a microsecond
    apart, so two of them fall in one millisecond in one workspace and in two in the other,
    now and then, which numbered the rest differently.)"""
    text = orjson.dumps(body)
    seen: dict[bytes, bytes] = {}
    text = ID.sub(lambda m: seen.setdefault(m.group(0), b'"id-%d"' % len(seen)), text)
    return TIME.sub(b'"time"', text)


async def _principals(db: Database) -> tuple[Principal, Principal, Principal, Principal]:
    left = await make_tenant(db, "left", "growth")
    right = await make_tenant(db, "right", "growth")
    async with db.read() as session:
        return (
            await authenticate(session, f"Bearer {left.key}", None),
            await authenticate(session, f"Bearer {right.key}", None),
            await authenticate(session, f"Bearer {left.read_key}", None),
            await authenticate(session, f"Bearer {right.read_key}", None),
        )


async def _answer(executor: GraphQLExecutor, principal: Principal, query: str,
                  variables: dict[str, Any] | None) -> dict[str, Any]:
    outcome = await executor.run(query, variables, None, principal, "req_test")
    return outcome.body


async def test_direct_mutations_answer_as_the_standard_executor(db: Database) -> None:
    standard = GraphQLExecutor(db)
    standard.mutations.enabled = False
    direct = GraphQLExecutor(db)
    left, right, left_reader, right_reader = await _principals(db)
    answered_before = 0
    for round_ in range(2):  # the first round teaches `direct` the documents
        answered_before = direct.mutations.answered
        for number, (query, variables) in enumerate(REQUESTS):
            expected = await _answer(standard, left, query, variables)
            got = await _answer(direct, right, query, variables)
            assert _normalized(got) == _normalized(expected), (round_, number, query)
    # A key that may only read is refused by the function, and the error is the executor's.
    expected = await _answer(standard, left_reader, *REQUESTS[0])
    got = await _answer(direct, right_reader, *REQUESTS[0])
    assert "errors" in expected
    assert _normalized(got) == _normalized(expected)
    # In the second round every request was answered directly but two: the document with a
    # resolver below the root and the variables the executor refuses. Then the refusal too.
    assert direct.mutations.answered - answered_before == len(REQUESTS) - 2 + 1
    assert standard.mutations.answered == 0


# @include read from a variable: the standard executor's (plans compile per its value; these
# are not worth it).
WITH_DIRECTIVE = WEBHOOK_OPERATION.replace(
    "($input: IngestAlertInput!)", "($input: IngestAlertInput!, $show: Boolean = true)"
).replace("format", "format @include(if: $show)")


@pytest.mark.parametrize("query", [WITH_RESOLVER, WITH_DIRECTIVE])
async def test_what_is_not_plain_stays_with_the_standard_executor(
    db: Database, query: str
) -> None:
    executor = GraphQLExecutor(db)
    _, right, _, _ = await _principals(db)
    for number in range(2):
        body = await _answer(executor, right, query, _raw({"title": f"t{number}"}))
        assert "errors" not in body
    assert executor.mutations.answered == 0


async def test_many_other_documents_do_not_push_the_webhooks_out(db: Database) -> None:
    """Every document the executor runs without errors is remembered, queries as "not direct":
    more distinct queries than the cache holds must not cost the webhook's document its place."""
    executor = GraphQLExecutor(db)
    _, right, _, _ = await _principals(db)
    await _answer(executor, right, WEBHOOK_OPERATION, _raw({"title": "learn"}))
    for number in range(MAX_DOCUMENTS + 10):
        query = f"query Q{number} {{ viewer {{ workspace {{ id }} }} }}"
        body = await _answer(executor, right, query, None)
        assert "errors" not in body, body
    answered = executor.mutations.answered
    await _answer(executor, right, WEBHOOK_OPERATION, _raw({"title": "still direct"}))
    assert executor.mutations.answered == answered + 1
