"""Compiled selections (an object, a reference, a connection and its edges) and the generated
functions that build the response for each from the rows of one request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    ValueNode,
)

from gateway.domain.pagination import encode_cursor
from schema.plan.values import Fallback, Nested, Root, datetime_value, same_value, sort_value

# ---- compiled selections -----------------------------------------------------------------------


Arguments = dict[str, ValueNode]
# Per request: the pages of each nested list (by id of its ConnectionPlan), by parent id.
if TYPE_CHECKING:
    from schema.plan.statements import Statements

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
                raise Fallback("value", f"a {self.type_name} that must be there is missing")
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


# ---- builders ----------------------------------------------------------------------------------


def finish_connection(plan: ConnectionPlan, parent_index: dict[str, int] | None) -> None:
    """Make the row -> JSON builders of a connection's objects, now that its statement's column
    order is known (the generated builders index rows by position)."""
    assert plan.statements is not None
    index = {name: position for position, name in enumerate(plan.statements.columns)}
    for obj in plan.objects:
        for _, kind, payload in obj.fields:
            if kind == "nested":
                finish_connection(payload, index)
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
    namespace: dict[str, Any] = {"_dt": datetime_value}
    items: list[str] = []
    for number, (key, kind, payload) in enumerate(plan.fields):
        if kind == "column":
            value = f"row[{index[payload.name]}]"
            if payload.convert is datetime_value:
                value = f"_dt({value})"
            elif payload.convert is not same_value:
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
        return encode_cursor(sort_value(row[self.sort_at]), row[self.id_at])
