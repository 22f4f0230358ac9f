"""Compiled selections and the generated functions that build a response from rows.

A plan is a tree: an `ObjectPlan` per object selection (its fields in response order, the
columns its rows must carry, the relations below it), a `ConnectionPlan` per list, a `RefPlan`
per object named by an id in the row, a `ComputedPlan` per value computed in Python, a
`ChildrenPlan` for `Workspace.children`. Running a plan first reads the rows, one statement
per relation for all the rows above it, into `Fetched` (by id of the relation's plan), then
builds the JSON top-down with one generated function per object selection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, GraphQLField

from gateway.domain.pagination import encode_cursor
from gateway.web.operations import ShapeField, walk
from schema.plan.complete import Complete
from schema.plan.values import EnumValue, Fallback, datetime_value, same_value, sort_value

# Per request: what each relation read, by id of its plan.
Fetched = dict[int, Any]
Builder = Callable[[Any, Fetched], dict[str, Any]]
# A value below a row: (row, fetched) -> JSON.
RowValue = Callable[[Any, Fetched], Any]


@dataclass
class FieldArguments:
    """A field's arguments, evaluated once per request (they are the same for every row), and
    kept for the next requests that send the same values of the variables they read
    (`variables`; none: the same every time)."""

    definition: GraphQLField
    node: FieldNode
    strawberry_field: Any
    variables: tuple[str, ...] = ()
    known: dict[bytes, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ObjectPlan:
    """One JSON object of `type_name` built from a row of `model`."""

    type_name: str
    model: Any
    # Rows carry every column of the model (read by id) rather than only what is selected.
    full: bool
    in_list: bool
    # (response key, kind, payload): "column" (Column), "const" (a value), "ref" (RefPlan),
    # "connection" (ConnectionPlan), "computed" (ComputedPlan), "children" (ChildrenPlan).
    fields: list[tuple[str, str, Any]] = field(default_factory=list)
    columns: dict[str, None] = field(default_factory=dict)  # an ordered set
    relations: list[Any] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)  # the columns of its rows, in order
    build: Builder | None = None
    # Builders of REST resources from the same rows (`shaped_builder`), by id of the shape.
    shaped: dict[int, tuple[Any, Builder]] = field(default_factory=dict)

    @property
    def scope_attribute(self) -> str:
        """The column naming a row's workspace (a workspace is its own)."""
        return "id" if self.type_name == "Workspace" else "workspace_id"

    def need(self, *columns: str) -> None:
        for name in columns:
            self.columns[name] = None


@dataclass
class RefPlan:
    """An object named by the id in `attribute` of the row (Ref)."""

    attribute: str
    type_name: str
    nullable: bool
    # The object's plan, or None when only `id` / `__typename` are selected (no read needed).
    target: ObjectPlan | None
    id_fields: list[tuple[str, str]]  # (response key, "id" | "__typename") when target is None
    value: RowValue | None = None
    id_value: RowValue | None = None  # just the id, where `value` would have an object


@dataclass
class ComputedPlan:
    """A value computed in Python (Computed), serialized for the selection by `complete`."""

    kind: Any  # fields.Computed
    arguments: FieldArguments
    complete: Complete
    in_list: bool
    value: RowValue | None = None


@dataclass
class ChildrenPlan:
    """`Workspace.children`: a list of workspace objects."""

    target: ObjectPlan
    value: RowValue | None = None


@dataclass
class EdgePlan:
    type_name: str
    fields: list[tuple[str, str, Any]]  # (key, "cursor" | "node" | "__typename", ObjectPlan)


@dataclass
class ConnectionPlan:
    """A list: a root list (`spec` a RootList) or one below each row (`spec` a Children)."""

    key: str
    type_name: str  # e.g. AlertConnection
    spec: Any
    arguments: FieldArguments
    # (response key, kind, payload): kind "nodes" (ObjectPlan), "edges" (EdgePlan), "pageInfo"
    # (list of (key, name)), "totalCount", "__typename" (the name)
    fields: list[tuple[str, str, Any]] = field(default_factory=list)
    # Every object selection of its nodes (`nodes`, `edges { node }`); one statement reads the
    # columns all of them need.
    objects: list[ObjectPlan] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)
    statements: dict[Any, Any] = field(default_factory=dict)  # by shape, built on first use
    value: RowValue | None = None
    # On PostgreSQL, the builders of its nodes from the JSON the database built for them
    # (`schema.plan.jsonsql`), by id of their object plans; {} when it cannot build them.
    # Made on first use.
    json_builders: dict[int, Builder] | None = None

    @property
    def wants_total(self) -> bool:
        return any(kind == "totalCount" for _, kind, _ in self.fields)

    def json(
        self, page: RowPage, fetched: Fetched, total: Any = None, shape: ShapeFields | None = None,
        built: dict[int, Builder] | None = None,
    ) -> dict[str, Any]:
        """The connection's JSON (`total` is the totalCount, when it is selected); with
        `shape`, its nodes as that shape's resources (`shaped_builder`); with `built`, the
        nodes of those objects (by id) from the rows' JSON columns (`schema.plan.jsonsql`)."""
        out: dict[str, Any] = {}
        for key, kind, payload in self.fields:
            if kind == "nodes":
                if built is not None:
                    build = built[id(payload)]
                else:
                    build = payload.build if shape is None else shaped_builder(payload, shape)
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


@dataclass
class RootPlan:
    """One root field: `kind` "list" (ConnectionPlan), "one" / "many" (by id: the plans of
    each type it may be, by type name), "value" (a computed root), "__typename"."""

    key: str
    kind: str
    payload: Any = None
    arguments: FieldArguments | None = None
    objects: dict[str, ObjectPlan] = field(default_factory=dict)
    nullable: bool = True
    # For types that are values rather than rows (the Viewer of `node(id: "key_...")`).
    values: dict[str, Complete] = field(default_factory=dict)


@dataclass
class Plan:
    roots: list[RootPlan]


# ---- builders ----------------------------------------------------------------------------------


def finish(obj: ObjectPlan, layout: list[str]) -> None:
    """Make the builder of `obj` (and of everything below it) for rows of `layout`."""
    obj.layout = layout
    index = {name: position for position, name in enumerate(layout)}
    missing = [name for name in obj.columns if name not in index]
    assert not missing, (obj.type_name, missing)
    for relation in obj.relations:
        if isinstance(relation, ConnectionPlan):
            for child in relation.objects:
                finish(child, relation.layout)
            relation.value = _connection_value(relation, index)
        elif isinstance(relation, RefPlan):
            if relation.target is not None:
                finish(relation.target, relation.target.layout)
            relation.value = _ref_value(relation, obj, index)
            relation.id_value = _ref_value(relation, obj, index, id_only=True)
        elif isinstance(relation, ChildrenPlan):
            finish(relation.target, relation.target.layout)
            relation.value = _children_value(relation, index)
        else:
            relation.value = _computed_value(relation, index)
    obj.build = _object_builder(obj, index)


def _connection_value(plan: ConnectionPlan, parent: dict[str, int]) -> RowValue:
    plan_id = id(plan)
    key_at = parent["id"]
    total = plan.spec.total
    total_at = parent[total] if total is not None and total in parent else None

    def value(row: Any, fetched: Fetched) -> Any:
        pages, totals = fetched[plan_id]
        key = row[key_at]
        counted = totals.get(key)
        count = counted if counted is not None or total_at is None else row[total_at]
        return plan.json(pages[key], fetched, count)

    return value


def _ref_value(
    plan: RefPlan, parent_plan: ObjectPlan, parent: dict[str, int], *, id_only: bool = False
) -> RowValue:
    """The referenced object's JSON; with `id_only`, its id where the object would be (what a
    REST resource's `workspace_id` reads, without building `{"id": ...}` to take it apart)."""
    plan_id = id(plan)
    ref_at = parent[plan.attribute]
    scope_at = parent[parent_plan.scope_attribute]
    nullable, type_name, target = plan.nullable, plan.type_name, plan.target
    workspace = type_name == "Workspace"

    def value(row: Any, fetched: Fetched) -> Any:
        ref_id = row[ref_at]
        found = None
        if ref_id is not None:
            rows = fetched[plan_id]
            found = rows.get(ref_id if workspace else (row[scope_at], ref_id))
        if found is None:
            if not nullable:
                raise Fallback("value", f"a {type_name} that must be there is missing")
            return None
        if id_only:
            return ref_id
        if target is None:
            return {key: ref_id if name == "id" else type_name for key, name in plan.id_fields}
        assert target.build is not None
        return target.build(found, fetched)

    return value


def _children_value(plan: ChildrenPlan, parent: dict[str, int]) -> RowValue:
    plan_id = id(plan)
    id_at = parent["id"]
    target = plan.target

    def value(row: Any, fetched: Fetched) -> Any:
        assert target.build is not None
        build = target.build
        return [build(child, fetched) for child in fetched[plan_id].get(row[id_at], ())]

    return value


def _computed_value(plan: ComputedPlan, parent: dict[str, int]) -> RowValue:
    plan_id = id(plan)
    id_at = parent["id"]

    def value(row: Any, fetched: Fetched) -> Any:
        return fetched[plan_id][row[id_at]]

    return value


def _object_builder(plan: ObjectPlan, index: dict[str, int]) -> Builder:
    """A function `build(row, fetched) -> dict` with the object's fields in response order,
    generated as one dict display: per-field dispatch through graphql-core is what plans save,
    so the builder does none either. Keys are GraphQL names (validated by the parser)."""
    namespace: dict[str, Any] = {"_dt": datetime_value}
    items = [
        f"{str(key)!r}: {_field_value(number, kind, payload, index, namespace)}"
        for number, (key, kind, payload) in enumerate(plan.fields)
    ]
    return _generated(plan.type_name, items, namespace)


def _field_value(
    number: int, kind: str, payload: Any, index: dict[str, int], namespace: dict[str, Any]
) -> str:
    """The expression of one field's JSON value in a generated builder."""
    if kind == "column":
        value = f"row[{index[payload.attribute]}]"
        if payload.convert is datetime_value:
            return f"_dt({value})"
        if payload.convert is not same_value:
            namespace[f"convert{number}"] = payload.convert
            return f"convert{number}({value})"
        return value
    if kind == "const":
        return repr(str(payload))
    namespace[f"value{number}"] = payload.value
    return f"value{number}(row, fetched)"


def _generated(type_name: str, items: list[str], namespace: dict[str, Any]) -> Builder:
    source = "def build(row, fetched):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<plan: {type_name}>", "exec"), namespace)
    build: Builder = namespace["build"]
    return build


def _composed(enum: EnumValue, rest: Callable[[Any], Any]) -> dict[Any, Any]:
    """Stored value -> REST value for every value of the enum the REST converter takes."""
    composed = {}
    for stored, name in enum.names.items():
        try:
            composed[stored] = rest(name)
        except (KeyError, ValueError, TypeError):
            continue
    return composed


# A REST resource as `rest_compat.shapes.Shape` declares it (`gateway.web.operations.NodeShape`).
ShapeFields = tuple[ShapeField, ...]


def shaped_builder(plan: ObjectPlan, shape: ShapeFields) -> Builder:
    """A builder of `shape`'s object straight from the row: each key the value the GraphQL
    builder would put at its path, converted as the shape's reshape would convert it, without
    building the GraphQL object first (a REST list reshaped 50 of them per request). Made once
    per shape (`ObjectPlan.shaped`)."""
    known = plan.shaped.get(id(shape))
    if known is not None:
        return known[1]
    index = {name: position for position, name in enumerate(plan.layout)}
    fields = {key: (number, kind, payload) for number, (key, kind, payload)
              in enumerate(plan.fields)}
    namespace: dict[str, Any] = {"_dt": datetime_value, "_walk": walk}
    items = []
    for position, (key, path, convert) in enumerate(shape):
        if path is None:
            items.append(f"{key!r}: None")
            continue
        if path[0] not in fields:
            raise Fallback("unsupported_field", f"{plan.type_name}: no {path[0]} for {key}")
        number, kind, payload = fields[path[0]]
        if kind == "column" and len(path) == 1 and convert is not None \
                and isinstance(payload.convert, EnumValue):
            # A stored enum value straight to the REST one: one lookup instead of two calls;
            # a value the table lacks takes the two calls (and their errors).
            namespace[f"enum{position}"] = _composed(payload.convert, convert)
            namespace[f"rest{position}"], namespace[f"convert{number}"] = convert, payload.convert
            items.append(
                f"{key!r}: (None if (v{position} := row[{index[payload.attribute]}]) is None "
                f"else enum{position}.get(v{position}) or "
                f"rest{position}(convert{number}(v{position})))"
            )
            continue
        if kind == "ref" and len(path) == 2 and payload.target is None \
                and (path[1], "id") in payload.id_fields:
            namespace[f"ref{position}"] = payload.id_value  # a reference's id, as is
            value = f"ref{position}(row, fetched)"
        else:
            value = _field_value(number, kind, payload, index, namespace)
            if len(path) > 1:
                namespace[f"path{position}"] = path[1:]
                value = f"_walk({value}, path{position})"
        if convert is not None:
            namespace[f"rest{position}"] = convert
            value = f"(None if (v{position} := {value}) is None else rest{position}(v{position}))"
        items.append(f"{key!r}: {value}")
    build = _generated(plan.type_name, items, namespace)
    plan.shaped[id(shape)] = (shape, build)  # by identity (converters need not hash); kept alive
    return build
