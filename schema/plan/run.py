"""`Plans`: the cache of compiled plans per document, and running one for a request (`Run`),
falling back to the standard executor on anything it cannot answer exactly as the standard
executor would (and counting and logging that)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.types.arguments import convert_arguments

from gateway.domain import ids
from gateway.domain.errors import InvalidInput
from gateway.domain.listing import IN, Listing
from gateway.domain.metrics import record_graphql_fallback
from gateway.domain.pagination import PageArgs, SortKey, decode_cursor, page_args
from gateway.domain.tenancy.workspaces import SLUG_RE
from gateway.web.operations import NodeShape
from schema.context import Context
from schema.limits import parse_document
from schema.plan import jsonsql, statements
from schema.plan.compiler import Compiler, directive_variables, operation_of
from schema.plan.fields import COUNT, NODE_TYPES, VIEWER, Children, Fields, RootById, RootNode
from schema.plan.selections import (
    ChildrenPlan,
    ComputedPlan,
    ConnectionPlan,
    Fetched,
    FieldArguments,
    ObjectPlan,
    Plan,
    RefPlan,
    RootPlan,
    RowPage,
)
from schema.plan.statements import ASYNCPG, LIST, ListShape, Reader
from schema.plan.values import MAX_PLANS, NOT_A_QUERY, Fallback, Unsupported
from schema.query import MAX_NODE_IDS
from schema.viewer import Viewer

log = logging.getLogger("seliq.plans")

Key = tuple[str, str | None]
# Arguments kept per field for this many different values of their variables.
MAX_KNOWN_ARGUMENTS = 32
WORKSPACE = "Workspace"


def list_arguments(
    listing: Listing, kwargs: dict[str, Any]
) -> tuple[PageArgs, str, dict[str, Any]]:
    """A list field's arguments as its resolver reads them: page arguments, the order key, and
    the values of the conditions its filter sets."""
    args = page_args(kwargs.get("first"), kwargs.get("after"), kwargs.get("last"),
                     kwargs.get("before"))
    order_by = kwargs.get("order_by")
    order = order_by.key() if order_by is not None else listing.default_order
    flt = kwargs.get("filter")
    values = listing.filter_values(flt.to_domain()) if flt is not None else {}
    return args, order, values


def list_parameters(
    listing: Listing, args: PageArgs, order: str, values: dict[str, Any]
) -> tuple[ListShape, dict[str, Any]]:
    sort = listing.orders[order]
    parameters: dict[str, Any] = {"limit": args.size + 1}
    for condition in listing.conditions:
        if condition.name in values:
            prefix = LIST + "f_" if condition.op == IN else "f_"
            parameters[prefix + condition.name] = condition.parameter(values[condition.name])
    if args.cursor is not None:
        field_name = "before" if args.backward else "after"
        value, row_id = decode_cursor(args.cursor, is_datetime=sort.is_datetime, field=field_name)
        parameters["cursor_value"], parameters["cursor_id"] = value, row_id
    shape = ListShape(order, tuple(values), args.cursor is not None, args.backward)
    return shape, parameters


def row_page(rows: list[Any], args: PageArgs, layout: list[str], sort: SortKey) -> RowPage:
    """gateway.domain.pagination.make_page, for rows read by position."""
    items = rows[: args.size]
    more = len(rows) > args.size
    sort_at, id_at = layout.index(sort.attribute), layout.index("id")
    if args.backward:
        items.reverse()
        return RowPage(items, args.cursor is not None, more, sort_at, id_at)
    return RowPage(items, more, args.cursor is not None, sort_at, id_at)


class Run:
    """One execution of a plan: its statements on one connection, then the JSON."""

    def __init__(
        self, plans: Plans, variables: Any, raw_variables: dict[str, Any], context: Context,
        stack: AsyncExitStack, shape: NodeShape | None = None,
    ) -> None:
        self.plans = plans
        self.shape = shape  # the nodes of this root list as REST resources (rest_compat)
        self.shaped = False  # ... and they were built so
        self.variables = variables  # graphql-core's coerced VariableValues
        self.raw_variables = raw_variables  # as sent
        self.context = context
        self.stack = stack
        self.fetched: Fetched = {}
        self._reader: Reader | None = None
        self._rows: dict[tuple[str, str | None, str], Any] = {}  # whole rows read by id

    async def reader(self) -> Reader:
        if self._reader is None:
            # Outside a transaction (see `schema.plan.statements`), kept between requests.
            connection = await self.stack.enter_async_context(self.context.db.plan_reads())
            self._reader = Reader(connection)
        return self._reader

    def arguments(self, arguments: FieldArguments) -> dict[str, Any]:
        """A field's arguments exactly as its resolver receives them (graphql-core's coercion,
        then Strawberry's conversion), kept per values of the variables they read."""
        try:
            sent = self.raw_variables  # absent and null differ (a default applies to absent)
            key = orjson.dumps([[name in sent, sent.get(name)] for name in arguments.variables])
        except TypeError:
            key = None
        found = arguments.known.get(key) if key is not None else None
        if found is None:
            raw = get_argument_values(arguments.definition, arguments.node, self.variables)
            found = convert_arguments(
                raw, arguments.strawberry_field.arguments, self.plans.scalar_registry,
                self.plans.config,
            )
            if key is not None:
                if len(arguments.known) >= MAX_KNOWN_ARGUMENTS:
                    arguments.known.clear()
                arguments.known[key] = found
        return found

    # ---- the roots -----------------------------------------------------------------------------

    async def execute(self, plan: Plan) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for root in plan.roots:
            if root.kind == "list":
                data[root.key] = await self.root_list(root.payload)
            elif root.kind == "one":
                data[root.key] = await self.root_one(root)
            elif root.kind == "many":
                data[root.key] = await self.root_many(root)
            elif root.kind == "value":
                spec, complete = root.payload
                data[root.key] = complete(spec.compute(self.context))
            else:
                data[root.key] = root.payload
            if data[root.key] is None and not root.nullable:
                raise Fallback("value", "a null root field")
        return data

    async def root_list(self, plan: ConnectionPlan) -> dict[str, Any]:
        """`incidents`, `alerts`, `reports`, `workspaces` (as `schema.lists` answers them)."""
        spec = plan.spec
        listing = spec.listing
        args, order, values = list_arguments(listing, self.arguments(plan.arguments))
        shape, parameters = list_parameters(listing, args, order, values)
        permitted = self.context.principal.permitted_workspace_ids
        if spec.permitted:
            parameters[LIST + "permitted"] = sorted(permitted)
        else:
            parameters["workspace_id"] = self.context.workspace_id
        reader = await self.reader()
        nodes_as = None
        if self.shape is not None and self.shape.root == plan.key:
            nodes_as, self.shaped = self.shape.fields, True
        nested = self.nested_in_json(plan) if reader.driver == ASYNCPG and nodes_as is None \
            else None
        if nested is None:
            rows = await reader.rows(
                plan.statements, ("page", shape),
                lambda: statements.page(listing, plan.layout, shape, reader.name, spec.permitted),
                parameters,
            )
        else:  # the nodes come as JSON built by PostgreSQL (schema.plan.jsonsql)
            parameters.update((f"limit_j{n.number}", n.size) for n in nested)
            rows = await reader.rows(
                plan.statements, ("page-json", shape, tuple(n.shape for n in nested)),
                lambda: jsonsql.page_with_nodes(
                    statements.page(listing, plan.layout, shape, reader.name, spec.permitted),
                    plan.objects, listing.model.__table__, nested,
                ),
                parameters,
            )
        page = row_page(rows, args, plan.layout, listing.orders[order])
        built = plan.json_builders if nested is not None else None
        if built is None:
            for obj in plan.objects:
                await self.below(obj, page.items)
        total = None
        if plan.wants_total:
            if spec.permitted:
                total = len(permitted)
            else:
                count_parameters = {
                    name: value for name, value in parameters.items()
                    if name.startswith(("f_", LIST)) or name == "workspace_id"
                }
                found = await reader.rows(
                    plan.statements, ("count", shape.conditions),
                    lambda: statements.count(listing, shape, reader.name), count_parameters,
                )
                total = int(found[0][0])
        return plan.json(page, self.fetched, total, nodes_as, built)

    def nested_in_json(self, plan: ConnectionPlan) -> list[jsonsql.Nested] | None:
        """The nested lists of `plan`'s nodes as this request asks for them, when PostgreSQL can
        build those nodes (`schema.plan.jsonsql`); None to read them relation by relation."""
        if plan.json_builders is None:
            plan.json_builders = jsonsql.node_builders(plan)
        if not plan.json_builders:
            return None
        nested: list[jsonsql.Nested] = []
        try:
            for obj in plan.objects:
                for connection in jsonsql.nested_lists(obj):
                    listing = connection.spec.listing
                    args, order, values = list_arguments(
                        listing, self.arguments(connection.arguments)
                    )
                    if values or args.cursor is not None:  # filtered or paged: not in JSON
                        return None
                    shape = ListShape(order, (), False, args.backward)
                    nested.append(jsonsql.Nested(len(nested), shape, args.size))
        except Exception:  # the per-relation path raises it where it would anyway
            return None
        return nested

    async def root_one(self, root: RootPlan) -> Any:
        """`incident(id:)`, `alert(id:)`, `report(id:)`, `node(id:)`, `workspace(id:)`."""
        assert root.arguments is not None
        found = await self.find(root, self.arguments(root.arguments).get("id"))
        if found is None:
            return None
        type_name, row = found
        if type_name in root.values:
            return root.values[type_name](row)
        obj = root.objects[type_name]
        await self.below(obj, [row])
        assert obj.build is not None
        return obj.build(row, self.fetched)

    async def find(self, root: RootPlan, ref: str | None) -> tuple[str, Any] | None:
        spec = root.payload
        acting = self.context.workspace_id
        if isinstance(spec, RootById):
            if ref is None or ids.prefix_of(ref) != spec.prefix:
                return None
            row = (await self.rows_by_id(spec.type_name, acting, {ref})).get(ref)
            return (spec.type_name, row) if row is not None else None
        if isinstance(spec, RootNode):
            type_name = NODE_TYPES.get(ids.prefix_of(ref) or "") if ref is not None else None
            if type_name is None:
                return None
            if type_name == VIEWER:  # the calling key only: one key never reads another
                principal = self.context.principal
                return (VIEWER, Viewer.of(principal)) if ref == principal.key_id else None
            scope = None if type_name == WORKSPACE else acting
            row = (await self.rows_by_id(type_name, scope, {ref})).get(ref)  # type: ignore[arg-type]
            return (type_name, row) if row is not None else None
        # workspace(id:): the acting one, or one by id or slug among the permitted ones.
        if ref is None:
            ref = acting
        if ids.prefix_of(ref) == ids.WORKSPACE:
            row = (await self.rows_by_id(WORKSPACE, None, {ref})).get(ref)
        elif SLUG_RE.match(ref):
            row = await self.workspace_by_slug(ref)
        else:
            row = None
        return (WORKSPACE, row) if row is not None else None

    async def root_many(self, root: RootPlan) -> list[Any]:
        """`nodes(ids:)`: in order, null for what is not visible."""
        assert root.arguments is not None
        wanted: list[str] = self.arguments(root.arguments)["ids"]
        if len(wanted) > MAX_NODE_IDS:
            raise InvalidInput(f"at most {MAX_NODE_IDS} ids per call", field="ids")
        by_type: dict[str, set[str]] = {}
        for node_id in wanted:
            type_name = NODE_TYPES.get(ids.prefix_of(node_id) or "")
            if type_name is not None:
                by_type.setdefault(type_name, set()).add(node_id)
        acting = self.context.workspace_id
        rows: dict[str, tuple[str, Any]] = {}
        for type_name, keys in by_type.items():
            if type_name == VIEWER:
                principal = self.context.principal
                if principal.key_id in keys:
                    rows[principal.key_id] = (VIEWER, Viewer.of(principal))
                continue
            scope = None if type_name == WORKSPACE else acting
            found = await self.rows_by_id(type_name, scope, keys)
            await self.below(root.objects[type_name], list(found.values()))
            rows.update((key, (type_name, row)) for key, row in found.items())
        out: list[Any] = []
        for node_id in wanted:
            hit = rows.get(node_id)
            if hit is None:
                out.append(None)
                continue
            if hit[0] in root.values:
                out.append(root.values[hit[0]](hit[1]))
                continue
            build = root.objects[hit[0]].build
            assert build is not None
            out.append(build(hit[1], self.fetched))
        return out

    # ---- below a row ---------------------------------------------------------------------------

    async def below(self, obj: ObjectPlan, rows: list[Any]) -> None:
        """Read what the relations of `obj` need for all of `rows`, one statement each."""
        if not rows or not obj.relations:
            return
        index = {name: position for position, name in enumerate(obj.layout)}
        for relation in obj.relations:
            if isinstance(relation, ConnectionPlan):
                await self.children(relation, obj, rows, index)
            elif isinstance(relation, RefPlan):
                await self.refs(relation, obj, rows, index)
            elif isinstance(relation, ChildrenPlan):
                await self.child_workspaces(relation, rows, index)
            else:
                await self.computed(relation, obj, rows, index)

    async def children(
        self, plan: ConnectionPlan, parent: ObjectPlan, rows: list[Any], index: dict[str, int]
    ) -> None:
        spec: Children = plan.spec
        listing = spec.listing
        args, order, values = list_arguments(listing, self.arguments(plan.arguments))
        shape, parameters = list_parameters(listing, args, order, values)
        sort = listing.orders[order]
        groups: dict[str | None, dict[str, None]] = {}
        id_at = index["id"]
        if spec.parent.key == listing.scope.key:  # a workspace's rows: its id scopes them
            groups[None] = dict.fromkeys(row[id_at] for row in rows)
        else:
            scope_at = index[parent.scope_attribute]
            for row in rows:
                groups.setdefault(row[scope_at], {})[row[id_at]] = None
        reader = await self.reader()
        parent_at = plan.layout.index(spec.parent.key)
        pages: dict[str, RowPage] = {}
        totals: dict[str, int] = {}
        every: list[Any] = []
        # A row's own count column (`Incident.alertCount`) is the total of an unfiltered list.
        count = plan.wants_total and (spec.total == COUNT or bool(shape.conditions))
        for workspace_id, keys in groups.items():
            values_for = dict(parameters, **{LIST + "parents": list(keys)})
            if workspace_id is not None:
                values_for["workspace_id"] = workspace_id
            found = await reader.rows(
                plan.statements, ("children", shape),
                lambda: statements.children(listing, spec.parent, plan.layout, shape, reader.name),
                values_for,
            )
            grouped: dict[str, list[Any]] = {key: [] for key in keys}
            for row in found:
                grouped[row[parent_at]].append(row)
            for key, children in grouped.items():
                pages[key] = row_page(children, args, plan.layout, sort)
                every.extend(pages[key].items)
            if count:
                count_values = {
                    name: value for name, value in values_for.items()
                    if name.startswith(("f_", LIST)) or name == "workspace_id"
                }
                counted = await reader.rows(
                    plan.statements, ("counts", shape.conditions),
                    lambda: statements.counts(listing, spec.parent, shape, reader.name),
                    count_values,
                )
                totals.update(dict.fromkeys(keys, 0))
                totals.update((key, int(number)) for key, number in counted)
        self.fetched[id(plan)] = (pages, totals)
        for obj in plan.objects:
            await self.below(obj, every)

    async def refs(
        self, plan: RefPlan, parent: ObjectPlan, rows: list[Any], index: dict[str, int]
    ) -> None:
        ref_at = index[plan.attribute]
        found: dict[Any, Any] = {}
        if plan.type_name == WORKSPACE:
            wanted = {row[ref_at] for row in rows if row[ref_at] is not None}
            if plan.target is None:
                permitted = self.context.principal.permitted_workspace_ids
                found = {key: True for key in wanted if key in permitted}
            else:
                found = await self.rows_by_id(WORKSPACE, None, wanted)
        else:
            scope_at = index[parent.scope_attribute]
            groups: dict[str, set[str]] = {}
            for row in rows:
                if row[ref_at] is not None:
                    groups.setdefault(row[scope_at], set()).add(row[ref_at])
            for workspace_id, keys in groups.items():
                if plan.target is None:  # the id is the row's own: nothing to read
                    found.update(((workspace_id, key), True) for key in keys)
                    continue
                rows_by_id = await self.rows_by_id(plan.type_name, workspace_id, keys)
                found.update(((workspace_id, key), row) for key, row in rows_by_id.items())
        self.fetched[id(plan)] = found
        if plan.target is not None:
            unique = {id(row): row for row in found.values()}
            await self.below(plan.target, list(unique.values()))

    async def child_workspaces(
        self, plan: ChildrenPlan, rows: list[Any], index: dict[str, int]
    ) -> None:
        id_at = index["id"]
        parents = list(dict.fromkeys(row[id_at] for row in rows))
        model = plan.target.model
        reader = await self.reader()
        found = await reader.rows(
            self.plans.statements, ("child_workspaces",),
            lambda: statements.child_workspaces(model, reader.name), {LIST + "parents": parents},
        )
        permitted = self.context.principal.permitted_workspace_ids
        layout = plan.target.layout
        child_id_at, parent_at = layout.index("id"), layout.index("parent_id")
        grouped: dict[str, list[Any]] = {}
        kept = []
        for row in found:
            if row[child_id_at] in permitted:
                grouped.setdefault(row[parent_at], []).append(row)
                kept.append(row)
                self._rows[(WORKSPACE, None, row[child_id_at])] = row
        self.fetched[id(plan)] = grouped
        await self.below(plan.target, kept)

    async def computed(
        self, plan: ComputedPlan, parent: ObjectPlan, rows: list[Any], index: dict[str, int]
    ) -> None:
        objects = self.objects(parent, rows, plan.kind.needs)
        arguments = self.arguments(plan.arguments)
        values = await plan.kind.compute(self, objects, arguments, plan.in_list)
        id_at = index["id"]
        self.fetched[id(plan)] = {
            row[id_at]: plan.complete(value) for row, value in zip(rows, values, strict=True)
        }

    # ---- reads by id (what computed fields use too) --------------------------------------------

    async def rows_by_id(
        self, type_name: str, workspace_id: str | None, keys: set[str]
    ) -> dict[str, Any]:
        """Whole rows of `type_name` by id: in `workspace_id`, or for workspaces (None) only
        those the key may see. Read once per request."""
        if workspace_id is None:
            keys = keys & self.context.principal.permitted_workspace_ids
        missing = sorted(k for k in keys if (type_name, workspace_id, k) not in self._rows)
        if missing:
            model = self.plans.fields.model(type_name)
            reader = await self.reader()
            parameters: dict[str, Any] = {LIST + "keys": missing}
            if workspace_id is not None:
                parameters["workspace_id"] = workspace_id
            found = await reader.rows(
                self.plans.statements, ("by_id", type_name, workspace_id is not None),
                lambda: statements.by_key(model, "id", workspace_id is not None, reader.name),
                parameters,
            )
            id_at = list(model.__table__.columns.keys()).index("id")
            for row in found:
                self._rows[(type_name, workspace_id, row[id_at])] = row
            for key in missing:
                self._rows.setdefault((type_name, workspace_id, key), None)
        out = {}
        for key in keys:
            row = self._rows.get((type_name, workspace_id, key))
            if row is not None:
                out[key] = row
        return out

    async def workspace_by_slug(self, slug: str) -> Any:
        model = self.plans.fields.model(WORKSPACE)
        reader = await self.reader()
        found = await reader.rows(
            self.plans.statements, ("by_slug",),
            lambda: statements.by_key(model, "slug", False, reader.name),
            {LIST + "keys": [slug]},
        )
        layout = list(model.__table__.columns.keys())
        permitted = self.context.principal.permitted_workspace_ids
        rows = [row for row in found if row[layout.index("id")] in permitted]
        return rows[0] if rows else None

    async def workspaces(self, keys: set[str]) -> dict[str, Any]:
        """Workspaces the key may see, as objects (what `loaders.workspace` gives resolvers)."""
        rows = await self.rows_by_id(WORKSPACE, None, keys)
        model = self.plans.fields.model(WORKSPACE)
        return {key: self.object_of(model, row) for key, row in rows.items()}

    async def objects_by_id(
        self, type_name: str, workspace_id: str, keys: set[str]
    ) -> dict[str, Any]:
        rows = await self.rows_by_id(type_name, workspace_id, keys)
        model = self.plans.fields.model(type_name)
        return {key: self.object_of(model, row) for key, row in rows.items()}

    def objects(
        self, obj: ObjectPlan, rows: list[Any], needs: tuple[str, ...] | None = None
    ) -> list[Any]:
        """`rows` of `obj` as objects with the model's attributes (only `needs`, when given)
        and values as SQLAlchemy reads them (what the functions the resolvers call expect)."""
        names = needs if needs is not None else tuple(obj.layout)
        at = [obj.layout.index(name) for name in names]
        assert self._reader is not None
        processors = self.plans.processors(obj.model, names, self._reader)
        columns = list(zip(names, at, processors, strict=True))
        return [
            SimpleNamespace(**{
                name: row[position] if convert is None or row[position] is None
                else convert(row[position])
                for name, position, convert in columns
            })
            for row in rows
        ]

    def object_of(self, model: Any, row: Any) -> Any:
        """A whole row (read by id) as an object, as `objects` makes them."""
        names = tuple(model.__table__.columns.keys())
        assert self._reader is not None
        processors = self.plans.processors(model, names, self._reader)
        return SimpleNamespace(**{
            name: value if convert is None or value is None else convert(value)
            for name, value, convert in zip(names, row, processors, strict=True)
        })


@dataclass
class Entry:
    """What plans know of one document: the operation, the variables `@include` / `@skip`
    read, a plan (or why there is none) per combination of their values; or, when the document
    has no plan at all, why (`reason` one of REASONS, or NOT_A_QUERY for a mutation)."""

    document: DocumentNode | None
    operation: OperationDefinitionNode | None
    conditions: tuple[str, ...] = ()
    plans: dict[tuple[bool, ...], Plan | Unsupported] = field(default_factory=dict)
    reason: str | None = None
    detail: str = ""
    logged: bool = False


class Plans:
    """The plans of this schema, by (query text, operation name), with what they could not
    answer: every query the standard executor answers instead of a learned plan is counted in
    `seliq_graphql_fallbacks_total{reason}` and logged once per document (never its variables)."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int, *, enabled: bool = True) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.enabled = enabled
        strawberry_schema = schema._strawberry_schema  # type: ignore[attr-defined]
        self.scalar_registry = strawberry_schema.schema_converter.scalar_registry
        self.config = strawberry_schema.config
        self.fields = Fields(schema)
        # Statements that do not belong to one plan (reads by id), by shape.
        self.statements: dict[Any, Any] = {}
        # How many requests plans answered, and how many they handed to the standard executor.
        self.answered = 0
        self.fell_back = 0
        self._plans: OrderedDict[Key, Entry] = OrderedDict()
        self._processors: dict[Any, list[Any]] = {}

    def processors(self, model: Any, names: tuple[str, ...], reader: Reader) -> list[Any]:
        """How each column of raw driver rows becomes what SQLAlchemy would read (nothing to
        do for rows read through SQLAlchemy)."""
        key = (model, names, reader.driver)
        found = self._processors.get(key)
        if found is None:
            dialect = reader.dialect
            columns = model.__table__.columns
            found = [
                columns[name].type.dialect_impl(dialect).result_processor(dialect, None)
                if reader.driver else None
                for name in names
            ]
            self._processors[key] = found
        return found

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        """The plan learned for the document (with no `@include`/`@skip` variables), if any."""
        entry = self._plans.get((query, operation_name))
        if entry is None or not self.enabled:
            return None
        plan = entry.plans.get(())
        return plan if isinstance(plan, Plan) else None

    def reason(self, query: str, operation_name: str | None) -> str | None:
        """Why this document has no plan (None: it has one, or has not been learned)."""
        entry = self._plans.get((query, operation_name))
        if entry is None:
            return None
        if entry.reason is not None:
            return entry.reason
        refused = [p for p in entry.plans.values() if isinstance(p, Unsupported)]
        return refused[0].reason if refused else None

    def learn(self, query: str, operation_name: str | None) -> None:
        """Called after the standard executor ran the document without errors."""
        key = (query, operation_name)
        if not self.enabled or key in self._plans:
            return
        try:
            document = parse_document(query, self.max_tokens)
            operation = operation_of(document, operation_name)
        except Unsupported as exc:
            entry = Entry(None, None, reason=exc.reason, detail=exc.detail)
        else:
            entry = Entry(document, operation, directive_variables(document))
            if not entry.conditions:
                self._compile(entry, {})
        self._plans[key] = entry
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)

    def _compile(self, entry: Entry, conditions: dict[str, bool]) -> Plan | Unsupported:
        assert entry.document is not None and entry.operation is not None
        combination = tuple(conditions[name] for name in entry.conditions)
        try:
            plan: Plan | Unsupported = Compiler(
                self.schema, self.fields, entry.document, entry.operation, conditions
            ).compile()
        except Unsupported as exc:
            plan = exc
        entry.plans[combination] = plan
        return plan

    async def answer(
        self, query: str, operation_name: str | None, variables: dict[str, Any] | None,
        context: Context, shape: NodeShape | None = None,
    ) -> tuple[dict[str, Any], bool] | None:
        """The `data` of the answer from the document's plan, and whether `shape` was applied
        to its nodes; None when the standard executor must answer (not learned yet, no plan,
        or this request needs it)."""
        if not self.enabled:
            return None
        key = (query, operation_name)
        entry = self._plans.get(key)
        if entry is None:
            return None  # first sight: the standard executor runs it, then `learn`
        self._plans.move_to_end(key)
        if entry.operation is None:
            if entry.reason != NOT_A_QUERY:
                self._fell_back(entry, operation_name, entry.reason or "operation", entry.detail)
            return None
        try:
            async with AsyncExitStack() as stack:
                run, plan = await self._prepare(entry, variables or {}, context, stack, shape)
                data = await run.execute(plan)
        except (Fallback, Unsupported) as exc:
            self._fell_back(entry, operation_name, exc.reason, exc.detail)
            return None
        except Exception as exc:  # any doubt: the standard executor gives the canonical answer
            self._fell_back(entry, operation_name, "error", type(exc).__name__)
            return None
        self.answered += 1
        return data, run.shaped

    async def _prepare(
        self, entry: Entry, variables: dict[str, Any], context: Context, stack: AsyncExitStack,
        shape: NodeShape | None,
    ) -> tuple[Run, Plan]:
        assert entry.operation is not None
        coerced = get_variable_values(
            self.schema, entry.operation.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            raise Fallback("error", "variables the standard executor refuses")
        conditions = {}
        for name in entry.conditions:
            value = coerced.coerced.get(name)
            if not isinstance(value, bool):
                raise Fallback("variable", "an @include / @skip variable that is not a Boolean")
            conditions[name] = value
        combination = tuple(conditions[name] for name in entry.conditions)
        plan = entry.plans.get(combination)
        if plan is None:
            plan = self._compile(entry, conditions)
        if isinstance(plan, Unsupported):
            raise plan
        return Run(self, coerced, variables, context, stack, shape), plan

    def _fell_back(
        self, entry: Entry, operation_name: str | None, reason: str, detail: str
    ) -> None:
        self.fell_back += 1
        record_graphql_fallback(reason)
        if not entry.logged:
            entry.logged = True
            log.warning(
                "query %s runs on the standard executor: %s (%s)",
                operation_name or "<anonymous>", reason, detail,
                extra={"operation": operation_name, "reason": reason},
            )
