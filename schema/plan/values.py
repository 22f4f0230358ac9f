"""What a plan knows of the schema: the fields it can answer, the column each reads and the
converter that turns a stored value into what the schema's scalar would serialize."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from enum import Enum
from typing import Any

from gateway.domain.incidents.alerts import ALERT_SORT
from gateway.domain.incidents.timeline import TIMELINE_SORT
from gateway.domain.pagination import (
    MAX_PAGE_SIZE,
    SortKey,
)
from gateway.domain.storage.models import Alert, TimelineEvent
from gateway.domain.timeutil import isoformat_z
from schema.enums import AlertStatus, IncidentStatus, Severity, TimelineEventType

MAX_PLANS = 256
MAX_PARENTS = MAX_PAGE_SIZE  # a nested list is fetched for at most one page of parents
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


# Why a query went to the standard executor: the `reason` label of
# `seliq_graphql_fallbacks_total` and of the warning logged once per document. A fixed set, so
# the metric's series stay bounded whatever documents clients send.
REASONS = frozenset({
    "operation",  # the document's shape (several operations chosen, list variables, ...)
    "root_field",  # a root field plans do not answer
    "unsupported_field",  # a field of an object type plans do not answer
    "argument",  # an argument plans do not take
    "filter",  # a `filter` argument
    "order",  # an `orderBy` argument
    "directive",  # `@include`, `@skip` or another directive
    "nested_list",  # a list below a nested list
    "variable",  # a variable value plans do not coerce
    "value",  # a stored value plans cannot convert as the schema would
    "error",  # the answer has an error (a bad cursor, a page size out of range...)
})
# Not a read (a mutation): never a plan's business, so neither counted nor logged.
NOT_A_QUERY = "not_a_query"


class Unsupported(Exception):
    """The document uses something plans do not cover: the standard executor runs it.
    `reason` is one of REASONS (or NOT_A_QUERY); the message names the construct, never a
    variable's value."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS or reason == NOT_A_QUERY, reason
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Fallback(Exception):
    """This request cannot be answered by the plan (e.g. a value to coerce, an error to
    report): the standard executor answers it instead. `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ---- values ------------------------------------------------------------------------------------


def _enum(enum: type[Enum]) -> Callable[[Any], Any]:
    names = {member.value: member.name for member in enum}

    def convert(value: Any) -> Any:
        try:
            return names[value]
        except KeyError:
            raise Fallback("value", f"a stored value with no {enum.__name__}") from None

    return convert


def _check_stored_time(value: str) -> None:
    """Raw SQLite times are SQLAlchemy's UTC text, `YYYY-MM-DD HH:MM:SS.ffffff`; anything else
    falls back."""
    if len(value) != 26 or value[10] != " " or value[19] != ".":
        raise Fallback("value", "a stored time in an unexpected form")


def datetime_value(value: Any) -> Any:
    """DateTime as the schema serializes it (`isoformat_z`)."""
    if value is None:
        return None
    if type(value) is str:
        _check_stored_time(value)
        return f"{value[:10]}T{value[11:23]}Z"
    if value.tzinfo is UTC:
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    return isoformat_z(value)


def sort_value(value: Any) -> Any:
    """A sort value for `encode_cursor`: raw SQLite time text becomes what it makes of a
    datetime, `to_utc(dt).isoformat()`; anything else (datetimes too) it converts itself."""
    if type(value) is str:
        _check_stored_time(value)
        fraction = "" if value[20:] == "000000" else value[19:]
        return f"{value[:10]}T{value[11:19]}{fraction}+00:00"
    return value


def _json(value: Any) -> Any:
    """JSON columns: raw SQLite values are text, decoded as SQLAlchemy's JSON type does."""
    return json.loads(value) if type(value) is str else value


def same_value(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """A scalar field read from one column, converted as the schema's scalar serializes it."""

    name: str
    convert: Callable[[Any], Any] = same_value


@dataclass(frozen=True)
class Ref:
    """`incident { id }` / `workspace { id }`: an object whose only selected field is its id,
    which the row already holds (`column`)."""

    column: str
    type_name: str


@dataclass(frozen=True)
class Nested:
    """A connection below a row, fetched for the whole page of parents in one statement."""

    node_type: str
    model: Any
    sort: SortKey
    arguments: tuple[str, ...]
    # Where `totalCount` comes from: a column of the parent, or None (not supported).
    total_column: str | None = None
    parent: str = "incident_id"


Kind = Column | Ref | Nested

INCIDENT_FIELDS: dict[str, Kind] = {
    "id": Column("id"),
    "number": Column("number"),
    "title": Column("title"),
    "status": Column("status", _enum(IncidentStatus)),
    "severity": Column("severity", _enum(Severity)),
    "assignee": Column("assignee"),
    "alertCount": Column("alert_count"),
    "createdAt": Column("created_at", datetime_value),
    "updatedAt": Column("updated_at", datetime_value),
    "acknowledgedAt": Column("acknowledged_at", datetime_value),
    "resolvedAt": Column("resolved_at", datetime_value),
    "workspace": Ref("workspace_id", "Workspace"),
    "alerts": Nested("Alert", Alert, ALERT_SORT, ("first", "after"), "alert_count"),
    "timeline": Nested(
        "TimelineEvent", TimelineEvent, TIMELINE_SORT, ("first", "after", "last", "before")
    ),
}
ALERT_FIELDS: dict[str, Kind] = {
    "id": Column("id"),
    "title": Column("title"),
    "description": Column("description"),
    "severity": Column("severity", _enum(Severity)),
    "status": Column("status", _enum(AlertStatus)),
    "source": Column("source"),
    "fingerprint": Column("fingerprint"),
    "labels": Column("labels", _json),
    "rawPayload": Column("raw_payload", _json),
    "occurrences": Column("occurrences"),
    "firstSeenAt": Column("first_seen_at", datetime_value),
    "lastSeenAt": Column("last_seen_at", datetime_value),
    "receivedAt": Column("received_at", datetime_value),
    "resolvedAt": Column("resolved_at", datetime_value),
    "workspace": Ref("workspace_id", "Workspace"),
    "incident": Ref("incident_id", "Incident"),
}
EVENT_FIELDS: dict[str, Kind] = {
    "id": Column("id"),
    "type": Column("type", _enum(TimelineEventType)),
    "at": Column("at", datetime_value),
    "actor": Column("actor"),
    "message": Column("message"),
    "data": Column("data", _json),
    "incident": Ref("incident_id", "Incident"),
}
FIELDS = {"Incident": INCIDENT_FIELDS, "Alert": ALERT_FIELDS, "TimelineEvent": EVENT_FIELDS}
PAGE_INFO_FIELDS = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")


@dataclass(frozen=True)
class Root:
    """A root list plans answer when it has no filter and the default order (as the resolvers
    in schema/lists.py do then), and how its `totalCount` is counted."""

    node_type: str
    model: Any
    sort: SortKey
    arguments: tuple[str, ...]
    count: Callable[[Any, str], Awaitable[int]]  # (session, workspace_id)
