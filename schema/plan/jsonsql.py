"""On PostgreSQL, a root list's nodes built as JSON by the database, in the page's statement.

A plan otherwise reads one statement per relation and builds every node in Python (generated
builders, `selections`). Against PostGraphile on the same database (bench T10) that Python was
about 40% of a dashboard request; PostGraphile has PostgreSQL build the JSON. This does the same
where it can be exact: each node of the page is one `json_build_object(...)` column of the page's
own statement, with its nested lists as correlated `json_agg` subqueries, and Python only parses
it (orjson) where it would have built it. The rest of the connection (cursors, `pageInfo`,
`totalCount`, edges) is built from the page's rows as before.

A node qualifies when every field is a column whose scalar PostgreSQL can write exactly (strings,
numbers, booleans, JSON as stored, enums by their names, timestamps as `isoformat_z` writes them),
a constant (`__typename`), or a nested list selecting only `nodes` (and `__typename`) of nodes
that qualify, without a filter or a cursor. Anything else (computed fields, references, counts,
nested page info) keeps the per-relation plan: same answers, one statement per relation.

Parameters of the nested lists are named by their position in the tree (`limit_j0`, ...), so one
statement text serves each combination of shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Select, Text, bindparam, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.expression import FromClause

from gateway.domain import jsontext
from gateway.domain.pagination import ordering
from schema.plan.fields import Children
from schema.plan.selections import Builder, ConnectionPlan, Fetched, ObjectPlan
from schema.plan.statements import ListShape
from schema.plan.values import (
    EnumValue,
    bool_value,
    datetime_value,
    json_value,
    same_value,
)

# `isoformat_z`'s text: milliseconds (truncated, as `to_char`'s MS is), a `Z`.
TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
PLAIN = frozenset({same_value, bool_value, json_value})
MAX_KEYS = 50  # json_build_object takes at most 100 arguments


@dataclass(frozen=True)
class Nested:
    """A nested list of the tree, as this request asks for it."""

    number: int  # its position in the tree: names its alias and parameters
    shape: ListShape
    size: int


def node_builders(plan: ConnectionPlan) -> dict[int, Builder]:
    """For a root list, the builder of each object selection of its nodes from its JSON column
    (after the page's own columns, in `plan.objects` order, as `page_with_nodes` adds them);
    {} when PostgreSQL cannot build them all."""
    if any(kind not in ("nodes", "pageInfo", "totalCount", "__typename")
           for _, kind, _ in plan.fields) or not all(_qualifies(o) for o in plan.objects):
        return {}
    return {id(obj): _decoder(len(plan.layout) + number, obj)
            for number, obj in enumerate(plan.objects)}


def _decoder(position: int, obj: ObjectPlan) -> Builder:
    # A label's 30-digit integer stays exact; nodes without JSON columns need no such check.
    decode = jsontext.exact if _holds_json(obj) else orjson.loads

    def build(row: Any, fetched: Fetched) -> Any:
        return decode(row[position])

    return build


def _qualifies(obj: ObjectPlan) -> bool:
    """Whether PostgreSQL can build `obj`'s JSON exactly (see the module docstring)."""
    if len(obj.fields) > MAX_KEYS:
        return False
    for _, kind, payload in obj.fields:
        if kind == "const":
            continue
        if kind == "column":
            if not _writable(payload.convert):
                return False
            continue
        if kind != "connection" or not isinstance(payload.spec, Children):
            return False
        if any(field_kind not in ("nodes", "__typename") for _, field_kind, _ in payload.fields):
            return False
        if len(payload.fields) > MAX_KEYS or not all(_qualifies(o) for o in payload.objects):
            return False
    return True


def _holds_json(obj: ObjectPlan) -> bool:
    """Whether a node of `obj` may carry a JSON column's value, whose numbers may be integers
    beyond 64 bits (decoded exactly: `gateway.domain.jsontext.exact`); other columns cannot."""
    nodes = [obj, *(child for connection in nested_lists(obj)
                    for _, field_kind, child in connection.fields if field_kind == "nodes")]
    return any(kind == "column" and payload.convert is json_value
               for node in nodes for _, kind, payload in node.fields)


def nested_lists(obj: ObjectPlan) -> list[ConnectionPlan]:
    """The nested lists below `obj`, depth first in field order: the order `node_json`
    numbers them."""
    found: list[ConnectionPlan] = []
    for _, kind, payload in obj.fields:
        if kind == "connection":
            found.append(payload)
            for _, field_kind, child in payload.fields:
                if field_kind == "nodes":
                    found.extend(nested_lists(child))
    return found


def _quoted(text: str) -> Any:
    return literal_column("'" + text.replace("'", "''") + "'")


def _writable(convert: Any) -> bool:
    """Whether `_scalar` writes what `convert` makes of a column."""
    return convert in PLAIN or convert is datetime_value or isinstance(convert, EnumValue)


def _scalar(column: Any, convert: Any) -> Any:
    if convert is datetime_value:
        return func.to_char(func.timezone(_quoted("UTC"), column), _quoted(TIME_FORMAT))
    if isinstance(convert, EnumValue):
        # Stored values are the domain's; one outside the enum cannot be written (CHECK-less
        # columns, but every writer goes through the domain's enums).
        return case({_quoted(stored): _quoted(name) for stored, name in convert.names.items()},
                    value=column, else_=column)
    return column


def node_json(obj: ObjectPlan, table: FromClause, nested: Iterator[Nested]) -> Any:
    """`json_build_object(key, value, ...)` of one node of `obj` read from `table`."""
    arguments: list[Any] = []
    for key, kind, payload in obj.fields:
        arguments.append(_quoted(key))
        if kind == "const":
            arguments.append(_quoted(str(payload)))
        elif kind == "column":
            arguments.append(_scalar(table.c[payload.attribute], payload.convert))
        else:
            arguments.append(_connection_json(payload, obj, table, nested))
    return func.json_build_object(*arguments)


def _connection_json(
    plan: ConnectionPlan, parent: ObjectPlan, parent_table: FromClause, nested: Iterator[Nested]
) -> Any:
    asked = next(nested)
    spec: Children = plan.spec
    listing = spec.listing
    table = listing.model.__table__.alias(f"j{asked.number}")
    sort = listing.orders[asked.shape.order]
    value, row_id = table.c[sort.column.key], table.c[sort.id_column.key]
    where = [table.c[spec.parent.key] == parent_table.c["id"]]
    if spec.parent.key != listing.scope.key:  # the rows of the parent's own workspace
        where.append(table.c[listing.scope.key] == parent_table.c[parent.scope_attribute])
    # Read in the list's order, or from the end for a `last:` page (pagination's own ordering).
    read_order = ordering(replace(sort, column=value, id_column=row_id),
                          backward=asked.shape.backward)
    arguments: list[Any] = []
    for key, kind, payload in plan.fields:
        arguments.append(_quoted(key))
        if kind == "__typename":
            arguments.append(_quoted(str(payload)))
            continue
        rows = (
            select(node_json(payload, table, nested).label("j"), value.label("s"),
                   row_id.label("i"))
            .where(*where)
            .correlate(parent_table)  # the parent row of the statement around it
            .order_by(*read_order)
            .limit(bindparam(f"limit_j{asked.number}"))
            .lateral(f"q{asked.number}_{len(arguments)}")
        )
        # The page in the list's order (a `last:` page was read from the end).
        forward = ordering(replace(sort, column=rows.c.s, id_column=rows.c.i), backward=False)
        arguments.append(
            select(func.coalesce(func.json_agg(aggregate_order_by(rows.c.j, *forward)),
                                 literal_column("'[]'::json")))
            .scalar_subquery()
        )
    return func.json_build_object(*arguments)


def page_with_nodes(
    page: Select[Any], objects: list[ObjectPlan], table: FromClause, nested: list[Nested]
) -> Select[Any]:
    """The root page's statement plus one JSON text column per object selection of its
    nodes."""
    numbered = iter(nested)
    return page.add_columns(*(
        cast(node_json(obj, table, numbered), Text).label(f"node_{n}")
        for n, obj in enumerate(objects)
    ))
