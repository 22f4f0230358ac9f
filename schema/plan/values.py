"""Values: why a plan refuses or gives up (the fixed set of reasons), and the converters that
turn a stored value into what the schema's scalar or enum would serialize, chosen from the
field's GraphQL type (never from a table of field names)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLType,
    get_named_type,
)

from gateway.domain.timeutil import isoformat_z

MAX_PLANS = 256

# Why a query went to the standard executor: the `reason` label of
# `seliq_graphql_fallbacks_total` and of the warning logged once per document. A fixed set, so
# the metric's series stay bounded whatever documents clients send.
REASONS = frozenset({
    "operation",  # the document's shape (several operations chosen, an unknown fragment...)
    "root_field",  # a root field plans do not answer
    "unsupported_field",  # a field of an object type plans do not answer
    "argument",  # an argument plans do not take
    "filter",  # a `filter` argument
    "order",  # an `orderBy` argument
    "directive",  # a directive other than `@include` / `@skip`
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


# ---- converters: a stored value (raw SQLite text, or what SQLAlchemy read on PostgreSQL) to
# what the schema serializes --------------------------------------------------------------------


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
    if value.tzinfo is UTC:  # asyncpg's: what isoformat(timespec="milliseconds") gives, 2x faster
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond // 1000,
        )
    return isoformat_z(value)


def sort_value(value: Any) -> Any:
    """A sort value for `encode_cursor`: raw SQLite time text becomes what it makes of a
    datetime, `to_utc(dt).isoformat()`; anything else (datetimes too) it converts itself."""
    if type(value) is str:
        _check_stored_time(value)
        fraction = "" if value[20:] == "000000" else value[19:]
        return f"{value[:10]}T{value[11:19]}{fraction}+00:00"
    return value


def json_value(value: Any) -> Any:
    """JSON columns: raw SQLite values are text, decoded as SQLAlchemy's JSON type does."""
    return json.loads(value) if type(value) is str else value


def bool_value(value: Any) -> Any:
    """SQLite stores booleans as 0/1."""
    return None if value is None else bool(value)


def same_value(value: Any) -> Any:
    return value


class EnumValue:
    """An enum's converter: strawberry's enum values are the stored (lower-case) strings; the
    names go on the wire. `names` (stored -> name) is what PostgreSQL's JSON builder maps with
    too (`schema.plan.jsonsql`)."""

    def __init__(self, named: GraphQLEnumType) -> None:
        self.type_name = named.name
        self.names = {value.value: name for name, value in named.values.items()}

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.names[value]
        except (KeyError, TypeError):
            raise Fallback("value", f"a stored value with no {self.type_name}") from None


SCALARS: dict[str, Callable[[Any], Any]] = {
    "ID": same_value,
    "String": same_value,
    "Int": same_value,
    "Float": same_value,
    "Boolean": bool_value,
    "DateTime": datetime_value,
    "JSON": json_value,
}


def converter(field_type: GraphQLType, stored_as_json: bool) -> Callable[[Any], Any] | None:
    """How a column read for a field of `field_type` becomes its JSON value, or None when
    plans cannot tell (a scalar they do not know, a list of lists). `stored_as_json`: the
    column is a JSON column (raw text on SQLite)."""
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    named: GraphQLNamedType = get_named_type(field_type)
    item = EnumValue(named) if isinstance(named, GraphQLEnumType) else SCALARS.get(named.name)
    if item is None:
        return None
    if isinstance(field_type, GraphQLList):
        inner = field_type.of_type
        if isinstance(inner, GraphQLNonNull):
            inner = inner.of_type
        if isinstance(inner, GraphQLList) or not stored_as_json:
            return None

        def items(value: Any) -> Any:
            value = json_value(value)
            return None if value is None else [item(entry) for entry in value]

        return items
    if stored_as_json and item is not json_value:
        return None
    return item
