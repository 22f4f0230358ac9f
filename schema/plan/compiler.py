"""Cached execution plans: repeated read operations answered without per-field resolvers.

A dashboard polling `incidents(first: 50) { nodes { ... alerts { ... } timeline { ... } } }`
makes graphql-core run a resolver, a type check and a serializer for each of its ~2,500 fields:
that, not SQL, is most of its cost. For documents seen before, a plan does the same work
directly: one statement per level (the incident page, then each nested list for the whole page)
reading only the columns the query selects, then the response built from the rows by one
generated function per object selection.

The statements are those of the domain functions the resolvers call (`list_incidents` and
`list_alerts` without a filter, `gateway.domain.storage.rows.limited_per_parent`), rebuilt here
with named
parameters so each shape is built once: a change to those functions must be mirrored here, and
the differential test fails until it is.

A plan is made only for a document the standard executor has already run without errors (so
it validates, limits included), and only when every field it selects is one the plan knows
(below); anything else, and any error while running a plan (a bad cursor, a filter, a value
the plan cannot coerce), goes to the standard executor, which gives the canonical answer or
error. Its output equals the standard executor's for every operation it accepts; the
differential test (tests/bench/test_plan_differential.py) checks that over generated queries.

Supported: the root `incidents` and `alerts` lists (no `filter`, no `orderBy`;
`first/after/last/before`; `totalCount`), incident fields and `workspace { id }`, an incident's
nested `alerts` and `timeline` (`alerts { totalCount }` too), alert and event scalar fields and
`incident { id }` / `workspace { id }`, `nodes`, `edges { cursor node }`, `pageInfo`,
`__typename`, aliases, fragments and inline fragments. Not: directives (`@include`/`@skip`),
other fields (`notes`, `sla`, `summary`, workspace fields beyond the id), other root fields.

On SQLite, plans read through the aiosqlite connection itself (one hop to its thread per
statement instead of SQLAlchemy's four, and raw values, converted here exactly as the schema's
scalars would); on PostgreSQL through SQLAlchemy Core. Either way a statement is counted in
X-Seliq-SQL-Statements, and each is built once per shape.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
)
from sqlalchemy import Select, bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from gateway.domain.incidents import alerts, incidents
from gateway.domain.incidents.alerts import ALERT_SORT, AlertFilter
from gateway.domain.incidents.incidents import DEFAULT_ORDER, ORDER_COLUMNS, IncidentFilter
from gateway.domain.incidents.timeline import TIMELINE_SORT
from gateway.domain.pagination import (
    MAX_PAGE_SIZE,
    PageArgs,
    SortKey,
    decode_cursor,
    encode_cursor,
    ordering,
    page_args,
)
from gateway.domain.storage.engine import current_counter
from gateway.domain.storage.models import Alert, Incident, TimelineEvent
from gateway.domain.timeutil import isoformat_z
from schema.context import Context
from schema.enums import AlertStatus, IncidentStatus, Severity, TimelineEventType
from schema.limits import parse_document

MAX_PLANS = 256
MAX_PARENTS = MAX_PAGE_SIZE  # a nested list is fetched for at most one page of parents
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class Unsupported(Exception):
    """The document uses something plans do not cover: the standard executor runs it."""


class Fallback(Exception):
    """This request cannot be answered by the plan (e.g. a value to coerce, an error to
    report): the standard executor answers it instead."""


# ---- values ------------------------------------------------------------------------------------


def _enum(enum: type[Enum]) -> Callable[[Any], Any]:
    names = {member.value: member.name for member in enum}

    def convert(value: Any) -> Any:
        try:
            return names[value]
        except KeyError:
            raise Fallback(f"no {enum.__name__} for {value!r}") from None

    return convert


def _check_stored_time(value: str) -> None:
    """Raw SQLite times are SQLAlchemy's UTC text, `YYYY-MM-DD HH:MM:SS.ffffff`; anything else
    falls back."""
    if len(value) != 26 or value[10] != " " or value[19] != ".":
        raise Fallback(f"a stored time in an unexpected form: {value!r}")


def _datetime(value: Any) -> Any:
    """DateTime as the schema serializes it (`isoformat_z`)."""
    if value is None:
        return None
    if type(value) is str:
        _check_stored_time(value)
        return f"{value[:10]}T{value[11:23]}Z"
    if value.tzinfo is UTC:
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    return isoformat_z(value)


def _sort_value(value: Any) -> Any:
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


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """A scalar field read from one column, converted as the schema's scalar serializes it."""

    name: str
    convert: Callable[[Any], Any] = _same


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
    "createdAt": Column("created_at", _datetime),
    "updatedAt": Column("updated_at", _datetime),
    "acknowledgedAt": Column("acknowledged_at", _datetime),
    "resolvedAt": Column("resolved_at", _datetime),
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
    "firstSeenAt": Column("first_seen_at", _datetime),
    "lastSeenAt": Column("last_seen_at", _datetime),
    "receivedAt": Column("received_at", _datetime),
    "resolvedAt": Column("resolved_at", _datetime),
    "workspace": Ref("workspace_id", "Workspace"),
    "incident": Ref("incident_id", "Incident"),
}
EVENT_FIELDS: dict[str, Kind] = {
    "id": Column("id"),
    "type": Column("type", _enum(TimelineEventType)),
    "at": Column("at", _datetime),
    "actor": Column("actor"),
    "message": Column("message"),
    "data": Column("data", _json),
    "incident": Ref("incident_id", "Incident"),
}
FIELDS = {"Incident": INCIDENT_FIELDS, "Alert": ALERT_FIELDS, "TimelineEvent": EVENT_FIELDS}
PAGE_INFO_FIELDS = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")


# ---- compiled selections -----------------------------------------------------------------------


Arguments = dict[str, ValueNode]
# Per request: the pages of each nested list (by id of its ConnectionPlan), by parent id.
Fetched = dict[int, dict[str, "RowPage"]]
Builder = Callable[[Any, Fetched], dict[str, Any]]


@dataclass
class ObjectPlan:
    """One JSON object of `type_name` built from a row: its fields in response order."""

    type_name: str
    # (response key, kind, payload): kind "column" (Column), "const" (a value), "ref" (RefPlan),
    # "nested" (ConnectionPlan).
    fields: list[tuple[str, str, Any]] = field(default_factory=list)
    columns: dict[str, None] = field(default_factory=dict)  # an ordered set
    nested: list[ConnectionPlan] = field(default_factory=list)
    build: Builder | None = None


@dataclass
class RefPlan:
    column: str
    type_name: str
    fields: list[tuple[str, str]]  # (response key, "id" | "__typename")
    nullable: bool

    def value(self, ref_id: Any) -> dict[str, Any] | None:
        if ref_id is None:
            if not self.nullable:
                raise Fallback(f"a {self.type_name} that must be there is missing")
            return None
        return {key: ref_id if name == "id" else self.type_name for key, name in self.fields}


@dataclass
class EdgePlan:
    type_name: str
    fields: list[tuple[str, str, Any]]  # (key, "cursor" | "node" | "__typename", ObjectPlan)


@dataclass
class ConnectionPlan:
    key: str
    type_name: str  # e.g. AlertConnection
    arguments: Arguments
    spec: Nested | None  # None: a root list
    # (response key, kind, payload): kind "nodes" (ObjectPlan), "edges" (EdgePlan), "pageInfo"
    # (list of (key, name)), "totalCount", "__typename" (the name)
    fields: list[tuple[str, str, Any]] = field(default_factory=list)
    # Every object selection of its nodes (`nodes`, `edges { node }`).
    objects: list[ObjectPlan] = field(default_factory=list)
    statements: Statements | None = None
    root: Root | None = None

    @property
    def nested(self) -> list[ConnectionPlan]:
        return [nested for obj in self.objects for nested in obj.nested]

    def value(self, page: RowPage, fetched: Fetched, total: Any = None) -> dict[str, Any]:
        """The connection's JSON (`total` is the totalCount, when it is selected)."""
        out: dict[str, Any] = {}
        for key, kind, payload in self.fields:
            if kind == "nodes":
                build = payload.build
                out[key] = [build(row, fetched) for row in page.items]
            elif kind == "edges":
                out[key] = [
                    _edge(payload, page, index, row, fetched)
                    for index, row in enumerate(page.items)
                ]
            elif kind == "pageInfo":
                out[key] = _page_info(payload, page)
            elif kind == "totalCount":
                out[key] = total
            else:
                out[key] = payload
        return out


def _edge(plan: EdgePlan, page: RowPage, index: int, row: Any, fetched: Fetched) -> Any:
    out: dict[str, Any] = {}
    for key, kind, payload in plan.fields:
        if kind == "cursor":
            out[key] = page.cursor(index)
        elif kind == "node":
            out[key] = payload.build(row, fetched)
        else:
            out[key] = payload
    return out


def _page_info(fields: list[tuple[str, str]], page: RowPage) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in fields:
        if name == "hasNextPage":
            out[key] = page.has_next_page
        elif name == "hasPreviousPage":
            out[key] = page.has_previous_page
        elif name == "startCursor":
            out[key] = page.cursor(0) if page.items else None
        elif name == "endCursor":
            out[key] = page.cursor(-1) if page.items else None
        else:
            out[key] = "PageInfo"
    return out


@dataclass
class Plan:
    variables: dict[str, tuple[str, bool, ValueNode | None]]  # name -> (type, non-null, default)
    roots: list[tuple[str, str, Any]]  # (key, "list" | "__typename", ConnectionPlan | str)


class Compiler:
    def __init__(self, schema: GraphQLSchema, document: Any, operation_name: str | None) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [
            op for op in operations
            if operation_name is None or (op.name is not None and op.name.value == operation_name)
        ]
        if len(chosen) != 1 or chosen[0].operation != OperationType.QUERY:
            raise Unsupported("one query operation")
        self.operation = chosen[0]

    def compile(self) -> Plan:
        if self.operation.directives:
            raise Unsupported("operation directives")
        variables: dict[str, tuple[str, bool, ValueNode | None]] = {}
        for definition in self.operation.variable_definitions or ():
            if definition.directives:
                raise Unsupported("variable directives")
            type_node = definition.type
            non_null = isinstance(type_node, NonNullTypeNode)
            inner = type_node.type if isinstance(type_node, NonNullTypeNode) else type_node
            if not isinstance(inner, NamedTypeNode):
                raise Unsupported("list variables")
            variables[definition.variable.name.value] = (
                inner.name.value, non_null, definition.default_value,
            )
        query_type = self.schema.query_type
        assert query_type is not None
        roots: list[tuple[str, str, Any]] = []
        for key, nodes in self.collect([self.operation.selection_set], query_type).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append((key, "__typename", query_type.name))
            elif name in ROOTS:
                plan = self.connection(key, nodes, query_type, None, ROOTS[name])
                _finish(plan, None)
                roots.append((key, "list", plan))
            else:
                raise Unsupported(f"root field {name}")
        return Plan(variables, roots)

    def collect(
        self, selection_sets: list[SelectionSetNode], runtime: GraphQLObjectType
    ) -> dict[str, list[FieldNode]]:
        """graphql-core's CollectFields for what plans support: fields grouped by response key
        in the order they first appear, fragments expanded once, no directives."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def walk(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if selection.directives:
                    raise Unsupported("directives")
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self.applies(selection.type_condition, runtime):
                        walk(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments.get(name)
                    if fragment is None:
                        raise Unsupported(f"unknown fragment {name}")
                    if self.applies(fragment.type_condition, runtime):
                        walk(fragment.selection_set)

        for selection_set in selection_sets:
            walk(selection_set)
        return fields

    def applies(self, condition: NamedTypeNode | None, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is None:
            raise Unsupported("unknown type condition")
        if conditional is runtime:
            return True
        if is_abstract_type(conditional):
            return self.schema.is_sub_type(conditional, runtime)  # type: ignore[arg-type]
        return False

    @staticmethod
    def sub_selections(nodes: list[FieldNode]) -> list[SelectionSetNode]:
        return [node.selection_set for node in nodes if node.selection_set is not None]

    def object_type(self, name: str) -> GraphQLObjectType:
        found = self.schema.get_type(name)
        if not isinstance(found, GraphQLObjectType):
            raise Unsupported(f"no object type {name}")
        return found

    def connection(
        self, key: str, nodes: list[FieldNode], parent: GraphQLObjectType, spec: Nested | None,
        root: Root | None = None,
    ) -> ConnectionPlan:
        definition = parent.fields[nodes[0].name.value]
        connection_type = get_named_type(definition.type)
        if not isinstance(connection_type, GraphQLObjectType):
            raise Unsupported("connection type")
        list_of = root or spec
        assert list_of is not None
        node_type = list_of.node_type
        arguments = {arg.name.value: arg.value for arg in nodes[0].arguments or ()}
        if any(name not in list_of.arguments for name in arguments):
            raise Unsupported("connection arguments")
        plan = ConnectionPlan(key, connection_type.name, arguments, spec, root=root)
        for sub_key, sub_nodes in self.collect(
            self.sub_selections(nodes), connection_type
        ).items():
            name = sub_nodes[0].name.value
            if name == "__typename":
                plan.fields.append((sub_key, "__typename", connection_type.name))
            elif name == "nodes":
                obj = self.object(sub_nodes, node_type)
                plan.objects.append(obj)
                plan.fields.append((sub_key, "nodes", obj))
            elif name == "edges":
                edges = self.edges(sub_nodes, connection_type, node_type)
                plan.objects.extend(p for _, kind, p in edges.fields if kind == "node")
                plan.fields.append((sub_key, "edges", edges))
            elif name == "pageInfo":
                info_type = self.object_type("PageInfo")
                info: list[tuple[str, str]] = []
                for info_key, info_nodes in self.collect(
                    self.sub_selections(sub_nodes), info_type
                ).items():
                    info_name = info_nodes[0].name.value
                    if info_name not in (*PAGE_INFO_FIELDS, "__typename"):
                        raise Unsupported(f"pageInfo.{info_name}")
                    info.append((info_key, info_name))
                plan.fields.append((sub_key, "pageInfo", info))
            elif name == "totalCount":
                if spec is not None and spec.total_column is None:
                    raise Unsupported("totalCount of this list")
                plan.fields.append((sub_key, "totalCount", None))
            else:
                raise Unsupported(f"connection field {name}")
        columns: dict[str, None] = {}
        for obj in plan.objects:
            columns.update(obj.columns)
        if root is not None:
            plan.statements = Statements(root.model, root.sort, list(columns))
        else:
            assert spec is not None
            plan.statements = Statements(spec.model, spec.sort, list(columns), spec.parent)
        return plan

    def edges(
        self, nodes: list[FieldNode], connection_type: GraphQLObjectType, node_type: str
    ) -> EdgePlan:
        edge_type = get_named_type(connection_type.fields["edges"].type)
        assert isinstance(edge_type, GraphQLObjectType)
        plan = EdgePlan(edge_type.name, [])
        for key, sub_nodes in self.collect(self.sub_selections(nodes), edge_type).items():
            name = sub_nodes[0].name.value
            if name == "__typename":
                plan.fields.append((key, "__typename", edge_type.name))
            elif name == "cursor":
                plan.fields.append((key, "cursor", None))
            elif name == "node":
                plan.fields.append((key, "node", self.object(sub_nodes, node_type)))
            else:
                raise Unsupported(f"edge field {name}")
        return plan

    def object(self, nodes: list[FieldNode], type_name: str) -> ObjectPlan:
        runtime = self.object_type(type_name)
        known = FIELDS[type_name]
        plan = ObjectPlan(type_name)
        plan.columns["id"] = None
        for key, sub_nodes in self.collect(self.sub_selections(nodes), runtime).items():
            name = sub_nodes[0].name.value
            if name == "__typename":
                plan.fields.append((key, "const", type_name))
                continue
            kind = known.get(name)
            if kind is None:
                raise Unsupported(f"{type_name}.{name}")
            if any(node.arguments for node in sub_nodes) and not isinstance(kind, Nested):
                raise Unsupported("arguments")
            if isinstance(kind, Column):
                plan.columns[kind.name] = None
                plan.fields.append((key, "column", kind))
            elif isinstance(kind, Ref):
                plan.columns[kind.column] = None
                ref_type = self.object_type(kind.type_name)
                selected: list[tuple[str, str]] = []
                for ref_key, ref_nodes in self.collect(
                    self.sub_selections(sub_nodes), ref_type
                ).items():
                    ref_name = ref_nodes[0].name.value
                    if ref_name not in ("id", "__typename"):
                        raise Unsupported(f"{kind.type_name}.{ref_name} beyond id")
                    selected.append((ref_key, ref_name))
                nullable = not isinstance(runtime.fields[name].type, GraphQLNonNull)
                plan.fields.append(
                    (key, "ref", RefPlan(kind.column, kind.type_name, selected, nullable))
                )
            else:
                nested = self.connection(key, sub_nodes, runtime, kind)
                if nested.nested:
                    raise Unsupported("lists below nested lists")
                if kind.total_column is not None:
                    plan.columns[kind.total_column] = None
                plan.nested.append(nested)
                plan.fields.append((key, "nested", nested))
        return plan


@dataclass(frozen=True)
class Root:
    """A root list plans answer when it has no filter and the default order (as the resolvers
    in schema/lists.py do then), and how its `totalCount` is counted."""

    node_type: str
    model: Any
    sort: SortKey
    arguments: tuple[str, ...]
    count: Callable[[Any, str], Awaitable[int]]  # (session, workspace_id)


ROOTS = {
    "incidents": Root(
        "Incident", Incident, ORDER_COLUMNS[DEFAULT_ORDER],
        ("first", "after", "last", "before", "filter", "orderBy"),
        lambda session, workspace_id: incidents.count_incidents(
            session, workspace_id, IncidentFilter()
        ),
    ),
    "alerts": Root(
        "Alert", Alert, ALERT_SORT, ("first", "after", "last", "before", "filter"),
        lambda session, workspace_id: alerts.count_alerts(session, workspace_id, AlertFilter()),
    ),
}


# ---- builders ----------------------------------------------------------------------------------


def _finish(plan: ConnectionPlan, parent_index: dict[str, int] | None) -> None:
    """Make the row -> JSON builders of a connection's objects, now that its statement's column
    order is known (the generated builders index rows by position)."""
    assert plan.statements is not None
    index = {name: position for position, name in enumerate(plan.statements.columns)}
    for obj in plan.objects:
        for _, kind, payload in obj.fields:
            if kind == "nested":
                _finish(payload, index)
        obj.build = _object_builder(obj, index)
    if parent_index is not None:
        spec = plan.spec
        assert spec is not None
        plan_id = id(plan)
        id_at = parent_index["id"]
        total_at = parent_index[spec.total_column] if spec.total_column else None

        def nested_value(row: Any, fetched: Fetched) -> dict[str, Any]:
            total = row[total_at] if total_at is not None else None
            return plan.value(fetched[plan_id][row[id_at]], fetched, total)

        plan.statements.nested_value = nested_value


def _object_builder(plan: ObjectPlan, index: dict[str, int]) -> Builder:
    """A function `build(row, fetched) -> dict` with the object's fields in response order,
    generated as one dict display: per-field dispatch through graphql-core is what plans save,
    so the builder does none either. Keys are GraphQL names (validated by the parser)."""
    namespace: dict[str, Any] = {"_dt": _datetime}
    items: list[str] = []
    for number, (key, kind, payload) in enumerate(plan.fields):
        if kind == "column":
            value = f"row[{index[payload.name]}]"
            if payload.convert is _datetime:
                value = f"_dt({value})"
            elif payload.convert is not _same:
                namespace[f"convert{number}"] = payload.convert
                value = f"convert{number}({value})"
        elif kind == "const":
            value = repr(str(payload))
        elif kind == "ref":
            namespace[f"ref{number}"] = payload.value
            value = f"ref{number}(row[{index[payload.column]}])"
        else:
            assert payload.statements is not None
            namespace[f"nested{number}"] = payload.statements.nested_value
            value = f"nested{number}(row, fetched)"
        items.append(f"{str(key)!r}: {value}")
    source = "def build(row, fetched):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<plan: {plan.type_name}>", "exec"), namespace)
    build: Builder = namespace["build"]
    return build


# ---- statements --------------------------------------------------------------------------------

def _keyset(sort: SortKey, backward: bool) -> ColumnElement[bool]:
    """gateway.domain.pagination.keyset_condition, with named parameters."""
    row = tuple_(sort.column, sort.id_column)
    bound = tuple_(
        bindparam("cursor_value", type_=sort.column.type),
        bindparam("cursor_id", type_=sort.id_column.type),
    )
    return row < bound if sort.descending != backward else row > bound


class Statements:
    """The statements of one list, prebuilt once per shape (with or without a cursor, forward
    or backward): building a SQLAlchemy statement costs more than running it. They are the
    statements of `gateway.domain.incidents.incidents.list_incidents` (no filter, default order)
    and of
    `gateway.domain.storage.rows.limited_per_parent`, reading only `columns`."""

    def __init__(
        self, model: Any, sort: SortKey, columns: list[str], parent: str | None = None
    ) -> None:
        self.model = model
        self.sort = sort
        self.parent = parent
        extra = [sort.attribute, "id"] + ([parent] if parent else [])
        self.columns = list(dict.fromkeys([*columns, *extra]))
        self._built: dict[tuple[bool, bool], Select[Any]] = {}
        self._raw: dict[tuple[bool, bool, int], tuple[str, list[str], dict[str, Any], Any]] = {}
        # For a nested list: its JSON below one parent row (set by `_finish`).
        self.nested_value: Callable[[Any, Fetched], dict[str, Any]] | None = None

    def get(self, cursor: bool, backward: bool) -> Select[Any]:
        stmt = self._built.get((cursor, backward))
        if stmt is None:
            stmt = self._built[(cursor, backward)] = self._build(cursor, backward)
        return stmt

    def _build(self, cursor: bool, backward: bool) -> Select[Any]:
        model, sort = self.model, self.sort
        columns = [getattr(model, name) for name in self.columns]
        scope = model.workspace_id == bindparam("workspace_id")
        order = ordering(self.sort, backward=backward)
        if self.parent is None:
            stmt = select(*columns).where(scope)
            if cursor:
                stmt = stmt.where(_keyset(sort, backward))
            return stmt.order_by(*order).limit(bindparam("limit"))
        parent = getattr(model, self.parent)
        number = func.row_number().over(partition_by=parent, order_by=order).label("rn")
        inner = select(*columns, number).where(
            scope, parent.in_(bindparam("parents", expanding=True))
        )
        if cursor:
            inner = inner.where(_keyset(sort, backward))
        numbered = inner.subquery()
        return (
            select(*(numbered.c[name] for name in self.columns))
            .where(numbered.c.rn <= bindparam("limit"))
            .order_by(numbered.c[self.parent], numbered.c.rn)
        )

    def parameters(self, workspace_id: str, args: PageArgs) -> dict[str, Any]:
        values: dict[str, Any] = {"workspace_id": workspace_id, "limit": args.size + 1}
        if args.cursor is not None:
            field = "before" if args.backward else "after"
            value, row_id = decode_cursor(
                args.cursor, is_datetime=self.sort.is_datetime, field=field
            )
            values["cursor_value"], values["cursor_id"] = value, row_id
        return values

    async def rows(
        self, connection: AsyncConnection, values: dict[str, Any], args: PageArgs,
        parents: list[str] | None,
    ) -> list[Any]:
        """The rows, each a tuple of `self.columns`: through the aiosqlite connection itself
        on SQLite (one hop to its thread instead of SQLAlchemy's four, raw values), else
        through SQLAlchemy."""
        stmt = self.get(args.cursor is not None, args.backward)
        dialect = connection.dialect
        if dialect.name != "sqlite" or dialect.driver != "aiosqlite":
            if parents is not None:
                values["parents"] = parents
            return list((await connection.execute(stmt, values)).all())
        sql, order, defaults, convert = self._compiled(
            stmt, dialect, args, len(parents) if parents is not None else 0
        )
        values.update(defaults)
        if "cursor_value" in values and convert is not None:
            values["cursor_value"] = convert(values["cursor_value"])
        if parents is not None:
            values.update(zip(PARENT_NAMES, parents, strict=False))
        parameters = [values[name] for name in order]
        driver: Any = (await connection.get_raw_connection()).driver_connection
        counter = current_counter.get()  # what X-Seliq-SQL-Statements reports
        if counter is not None:
            counter.count += 1
            counter.statements.append(sql)
        return list(await driver.execute_fetchall(sql, parameters))

    def _compiled(
        self, stmt: Select[Any], dialect: Any, args: PageArgs, parents: int
    ) -> tuple[str, list[str], dict[str, Any], Any]:
        key = (args.cursor is not None, args.backward, parents)
        found = self._raw.get(key)
        if found is None:
            dummy: dict[str, Any] = {"workspace_id": "", "limit": 0}
            if args.cursor is not None:
                dummy.update(cursor_value=None, cursor_id="")
            if self.parent is not None:
                dummy["parents"] = [""] * parents
            compiled = stmt.params(**dummy).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
            order = list(compiled.positiontup or ())
            defaults = {
                name: compiled.binds[name].value for name in order
                if name in compiled.binds and name not in dummy
                and not name.startswith("parents_")
            }
            sort_type = self.sort.column.type
            convert = sort_type.dialect_impl(dialect).bind_processor(dialect)
            found = self._raw[key] = (str(compiled), order, defaults, convert)
        return found

    async def page(
        self, connection: AsyncConnection, workspace_id: str, args: PageArgs
    ) -> RowPage:
        rows = await self.rows(connection, self.parameters(workspace_id, args), args, None)
        return self.row_page(rows, args)

    async def pages(
        self, connection: AsyncConnection, workspace_id: str, parent_ids: list[str],
        args: PageArgs,
    ) -> dict[str, RowPage]:
        if not parent_ids:
            return {}
        if len(parent_ids) > len(PARENT_NAMES):
            raise Fallback("more parents than a plan batches")
        rows = await self.rows(
            connection, self.parameters(workspace_id, args), args, parent_ids
        )
        grouped: dict[str, list[Any]] = {parent: [] for parent in parent_ids}
        at = self.columns.index(self.parent or "")
        for row in rows:
            grouped[row[at]].append(row)
        return {parent: self.row_page(found, args) for parent, found in grouped.items()}

    def row_page(self, rows: list[Any], args: PageArgs) -> RowPage:
        """gateway.domain.pagination.make_page, for rows read by position."""
        items = rows[: args.size]
        more = len(rows) > args.size
        sort_at, id_at = self.columns.index(self.sort.attribute), self.columns.index("id")
        if args.backward:
            items.reverse()
            return RowPage(items, args.cursor is not None, more, sort_at, id_at)
        return RowPage(items, more, args.cursor is not None, sort_at, id_at)


PARENT_NAMES = tuple(f"parents_{number}" for number in range(1, MAX_PARENTS + 1))


@dataclass
class RowPage:
    """A page of rows read by position (`gateway.domain.pagination.Page` reads attributes)."""

    items: list[Any]
    has_next_page: bool
    has_previous_page: bool
    sort_at: int
    id_at: int

    def cursor(self, index: int) -> str:
        row = self.items[index]
        return encode_cursor(_sort_value(row[self.sort_at]), row[self.id_at])


# ---- running -----------------------------------------------------------------------------------


def _coerce(value: Any, type_name: str) -> Any:
    """Variables as graphql-core would coerce them, for the types plans take; anything else
    (or anything odd) falls back to the standard executor, which reports the error."""
    if value is None:
        return None
    if type_name == "Int" and type(value) is int and INT_MIN <= value <= INT_MAX:
        return value
    if type_name == "String" and type(value) is str:
        return value
    raise Fallback(f"variable of type {type_name}")


class Run:
    """One execution of a plan: the coerced variables, then one statement per list."""

    def __init__(self, plan: Plan, variables: dict[str, Any], context: Context) -> None:
        self.plan = plan
        self.context = context
        self.values: dict[str, Any] = {}
        for name, (type_name, non_null, default) in plan.variables.items():
            if name in variables:
                value = _coerce(variables[name], type_name)
            elif default is not None:
                value = self.literal(default)
            else:
                value = None
            if non_null and value is None:
                raise Fallback(f"${name} is required")
            self.values[name] = value

    def literal(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.values.get(node.name.value)
        if isinstance(node, NullValueNode):
            return None
        if isinstance(node, IntValueNode):
            value = int(node.value)
            if not INT_MIN <= value <= INT_MAX:
                raise Fallback("Int out of range")
            return value
        if isinstance(node, StringValueNode):
            return node.value
        raise Fallback("argument literal")

    def page_args(self, plan: ConnectionPlan) -> PageArgs:
        args = {name: self.literal(node) for name, node in plan.arguments.items()}
        if args.get("filter") is not None or args.get("orderBy") is not None:
            raise Fallback("filters and orders run on the standard executor")
        return page_args(args.get("first"), args.get("after"), args.get("last"),
                         args.get("before"))

    async def execute(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        # A connection, not an ORM session: plans read rows, never objects.
        async with self.context.db.engine.connect() as connection:
            for key, kind, payload in self.plan.roots:
                if kind == "list":
                    data[key] = await self.root(connection, payload)
                else:
                    data[key] = payload
        return data

    async def root(self, connection: AsyncConnection, plan: ConnectionPlan) -> dict[str, Any]:
        """A root list (as `schema.lists` answers it when there is no filter)."""
        workspace_id = self.context.workspace_id
        assert plan.statements is not None and plan.root is not None
        page = await plan.statements.page(connection, workspace_id, self.page_args(plan))
        parent_ids = [row[page.id_at] for row in page.items]
        fetched: Fetched = {}
        for nested in plan.nested:
            assert nested.statements is not None
            fetched[id(nested)] = await nested.statements.pages(
                connection, workspace_id, parent_ids, self.page_args(nested)
            )
        total = None
        if any(kind == "totalCount" for _, kind, _ in plan.fields):
            async with self.context.db.read() as session:
                total = await plan.root.count(session, workspace_id)
        return plan.value(page, fetched, total)


class Plans:
    """The plans of this schema, by (query text, operation name); `None` marks a document
    plans do not support, so it is not compiled again."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int, *, enabled: bool = True) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.enabled = enabled
        # How many requests plans answered, and how many they handed to the standard executor.
        self.answered = 0
        self.fell_back = 0
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        if not self.enabled:
            return None
        key = (query, operation_name)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def learn(self, query: str, operation_name: str | None) -> None:
        """Called after the standard executor ran the document without errors."""
        key = (query, operation_name)
        if not self.enabled or key in self._plans:
            return
        try:
            document = parse_document(query, self.max_tokens)
            plan: Plan | None = Compiler(self.schema, document, operation_name).compile()
        except Unsupported:
            plan = None
        self._plans[key] = plan
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)

    async def run(
        self, plan: Plan, variables: dict[str, Any] | None, context: Context
    ) -> dict[str, Any] | None:
        """The `data` of the answer, or None when the standard executor must answer."""
        try:
            data = await Run(plan, variables or {}, context).execute()
        except Exception:  # any doubt: the standard executor gives the canonical answer
            self.fell_back += 1
            return None
        self.answered += 1
        return data
