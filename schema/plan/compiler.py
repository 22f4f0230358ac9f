"""From a validated document to a `Plan`: walk the operation's selections (fragments expanded,
`@include`/`@skip` decided for the request's values of their variables), decide for each field
how it is answered (`schema.plan.fields`), and refuse (`Unsupported`) what plans do not
cover."""

from __future__ import annotations

from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
)

from schema.plan.complete import completer
from schema.plan.fields import (
    NODE_TYPES,
    ROOTS,
    VIEWER,
    Children,
    ChildWorkspaces,
    Column,
    Computed,
    Fields,
    Ref,
    RootById,
    RootList,
    RootNode,
    RootValue,
    RootWorkspace,
)
from schema.plan.selections import (
    ChildrenPlan,
    ComputedPlan,
    ConnectionPlan,
    EdgePlan,
    FieldArguments,
    ObjectPlan,
    Plan,
    RefPlan,
    RootPlan,
    finish,
)
from schema.plan.values import NOT_A_QUERY, Unsupported

PAGE_INFO_FIELDS = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
CONDITIONAL = ("include", "skip")


def operation_of(
    document: DocumentNode, operation_name: str | None, kind: OperationType = OperationType.QUERY
) -> OperationDefinitionNode:
    """The operation `operation_name` picks, if it is one of `kind` (plans: queries; the direct
    mutations of `schema.plan.mutations`: mutations)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        op for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if len(chosen) != 1:
        raise Unsupported("operation", "one operation")
    if chosen[0].operation != kind:
        raise Unsupported(NOT_A_QUERY if kind == OperationType.QUERY else "operation",
                          f"not a {kind.value}")
    return chosen[0]


def directive_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables `@include` / `@skip` read: a plan is compiled per their values."""
    found: dict[str, None] = {}

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            for directive in selection.directives or ():
                for argument in directive.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        found[argument.value.name.value] = None
            walk(getattr(selection, "selection_set", None))

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            walk(definition.selection_set)
    return tuple(found)


class Compiler:
    def __init__(
        self, schema: GraphQLSchema, fields: Fields, document: DocumentNode,
        operation: OperationDefinitionNode, conditions: dict[str, bool],
    ) -> None:
        self.schema = schema
        self.fields = fields
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operation = operation
        self.conditions = conditions  # the values of the variables @include / @skip read

    # ---- selections ----------------------------------------------------------------------------

    def name_of(self, strawberry_field: Any) -> str:
        return self.fields.name_of(strawberry_field)

    def included(self, selection: SelectionNode) -> bool:
        """`@include` / `@skip` for this request (graphql-core's `should_include_node`)."""
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in CONDITIONAL:
                raise Unsupported("directive", f"@{name}")
            value = directive.arguments[0].value if directive.arguments else None
            if isinstance(value, BooleanValueNode):
                flag = value.value
            elif isinstance(value, VariableNode) and value.name.value in self.conditions:
                flag = self.conditions[value.name.value]
            else:
                raise Unsupported("directive", f"@{name} without a Boolean")
            if flag != (name == "include"):
                return False
        return True

    def collect(
        self, selection_sets: list[SelectionSetNode], runtime: GraphQLObjectType
    ) -> dict[str, list[FieldNode]]:
        """graphql-core's CollectFields: fields grouped by response key in the order they first
        appear, fragments expanded once, `@include` / `@skip` applied."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def walk(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not self.included(selection):
                    continue
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
                        raise Unsupported("operation", f"unknown fragment {name}")
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
            raise Unsupported("operation", "unknown type condition")
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
            raise Unsupported("unsupported_field", f"no object type {name}")
        return found

    @staticmethod
    def arguments(parent: GraphQLObjectType, nodes: list[FieldNode]) -> FieldArguments:
        definition = parent.fields[nodes[0].name.value]
        read: dict[str, None] = {}

        def walk(value: Any) -> None:
            if isinstance(value, VariableNode):
                read[value.name.value] = None
            for item in getattr(value, "values", None) or ():
                walk(item)
            for item in getattr(value, "fields", None) or ():
                walk(item.value)

        for argument in nodes[0].arguments or ():
            walk(argument.value)
        return FieldArguments(
            definition, nodes[0], definition.extensions["strawberry-definition"], tuple(read)
        )

    # ---- the operation -------------------------------------------------------------------------

    def compile(self) -> Plan:
        if self.operation.directives:
            raise Unsupported("directive", "operation directives")
        for definition in self.operation.variable_definitions or ():
            if definition.directives:
                raise Unsupported("directive", "variable directives")
        query_type = self.schema.query_type
        assert query_type is not None
        roots: list[RootPlan] = []
        for key, nodes in self.collect([self.operation.selection_set], query_type).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append(RootPlan(key, "__typename", query_type.name))
                continue
            spec = ROOTS.get(name)
            if spec is None:
                raise Unsupported("root_field", f"root field {name}")
            roots.append(self.root(key, nodes, query_type, spec))
        return Plan(roots)

    def root(
        self, key: str, nodes: list[FieldNode], query_type: GraphQLObjectType, spec: Any
    ) -> RootPlan:
        arguments = self.arguments(query_type, nodes)
        field_type = query_type.fields[nodes[0].name.value].type
        nullable = not isinstance(field_type, GraphQLNonNull)
        if isinstance(spec, RootList):
            connection = self.connection(key, nodes, query_type, spec, in_list=False)
            for obj in connection.objects:
                finish(obj, connection.layout)
            return RootPlan(key, "list", connection, arguments, nullable=nullable)
        if isinstance(spec, RootValue):
            complete = completer(self, field_type, nodes)
            return RootPlan(key, "value", (spec, complete), arguments, nullable=nullable)
        if isinstance(spec, RootById):
            type_names = [spec.type_name]
        elif isinstance(spec, RootWorkspace):
            type_names = ["Workspace"]
        else:
            type_names = list(NODE_TYPES.values())
        many = isinstance(spec, RootNode) and spec.many
        plan = RootPlan(key, "many" if many else "one", spec, arguments, nullable=nullable)
        for type_name in type_names:
            if type_name == VIEWER:  # the calling key: a value, not a row
                plan.values[type_name] = completer(self, self.object_type(type_name), nodes)
                continue
            obj = self.object(nodes, type_name, full=True, in_list=many)
            finish(obj, obj.layout)
            plan.objects[type_name] = obj
        return plan

    # ---- lists ---------------------------------------------------------------------------------

    def connection(
        self, key: str, nodes: list[FieldNode], parent: GraphQLObjectType, spec: Any,
        in_list: bool,
    ) -> ConnectionPlan:
        definition = parent.fields[nodes[0].name.value]
        connection_type = get_named_type(definition.type)
        if not isinstance(connection_type, GraphQLObjectType):
            raise Unsupported("unsupported_field", "connection type")
        if any(name not in spec.arguments for name in definition.args):
            raise Unsupported("argument", f"{parent.name}.{nodes[0].name.value} arguments")
        plan = ConnectionPlan(key, connection_type.name, spec, self.arguments(parent, nodes))
        node_type = spec.node_type
        for sub_key, sub_nodes in self.collect(
            self.sub_selections(nodes), connection_type
        ).items():
            name = sub_nodes[0].name.value
            if name == "__typename":
                plan.fields.append((sub_key, "__typename", connection_type.name))
            elif name == "nodes":
                obj = self.object(sub_nodes, node_type, full=False, in_list=True)
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
                        raise Unsupported("unsupported_field", f"pageInfo.{info_name}")
                    info.append((info_key, info_name))
                plan.fields.append((sub_key, "pageInfo", info))
            elif name == "totalCount":
                plan.fields.append((sub_key, "totalCount", None))
            else:
                raise Unsupported("unsupported_field", f"connection field {name}")
        sorts = spec.listing.orders.values()
        columns: dict[str, None] = {"id": None}
        columns.update((sort.attribute, None) for sort in sorts)
        if isinstance(spec, Children):
            columns[spec.parent.key] = None
        for obj in plan.objects:
            columns.update(obj.columns)
        plan.layout = list(columns)
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
                obj = self.object(sub_nodes, node_type, full=False, in_list=True)
                plan.fields.append((key, "node", obj))
            else:
                raise Unsupported("unsupported_field", f"edge field {name}")
        return plan

    # ---- objects -------------------------------------------------------------------------------

    def object(
        self, nodes: list[FieldNode], type_name: str, *, full: bool, in_list: bool
    ) -> ObjectPlan:
        """The plan of an object selection. `full`: its rows are whole rows (read by id),
        otherwise they carry what `columns` asks for."""
        runtime = self.object_type(type_name)
        model = self.fields.model(type_name)
        plan = ObjectPlan(type_name, model, full, in_list)
        plan.need("id", plan.scope_attribute)
        for key, sub_nodes in self.collect(self.sub_selections(nodes), runtime).items():
            name = sub_nodes[0].name.value
            if name == "__typename":
                plan.fields.append((key, "const", type_name))
                continue
            kind = self.fields.kind(type_name, name)
            if isinstance(kind, Column):
                plan.need(kind.attribute)
                plan.fields.append((key, "column", kind))
            elif isinstance(kind, Ref):
                ref = self.ref(sub_nodes, runtime, name, kind, in_list)
                plan.need(kind.attribute)
                plan.relations.append(ref)
                plan.fields.append((key, "ref", ref))
            elif isinstance(kind, Children):
                nested = self.connection(key, sub_nodes, runtime, kind, in_list=True)
                if kind.total not in (None, "count()"):
                    plan.need(kind.total)
                plan.relations.append(nested)
                plan.fields.append((key, "connection", nested))
            elif isinstance(kind, ChildWorkspaces):
                target = self.object(sub_nodes, "Workspace", full=True, in_list=True)
                children = ChildrenPlan(target)
                plan.relations.append(children)
                plan.fields.append((key, "children", children))
            elif isinstance(kind, Computed):
                needs = kind.needs if kind.needs is not None else model.__table__.columns.keys()
                plan.need(*needs)
                complete = completer(self, runtime.fields[name].type, sub_nodes)
                arguments = self.arguments(runtime, sub_nodes)
                computed = ComputedPlan(kind, arguments, complete, in_list)
                plan.relations.append(computed)
                plan.fields.append((key, "computed", computed))
        if full:
            plan.layout = list(model.__table__.columns.keys())
        return plan

    def ref(
        self, nodes: list[FieldNode], parent: GraphQLObjectType, name: str, kind: Ref,
        in_list: bool,
    ) -> RefPlan:
        nullable = not isinstance(parent.fields[name].type, GraphQLNonNull)
        target_type = self.object_type(kind.type_name)
        selected = self.collect(self.sub_selections(nodes), target_type)
        if all(sub[0].name.value in ("id", "__typename") for sub in selected.values()):
            id_fields = [(key, sub[0].name.value) for key, sub in selected.items()]
            return RefPlan(kind.attribute, kind.type_name, nullable, None, id_fields)
        target = self.object(nodes, kind.type_name, full=True, in_list=in_list)
        return RefPlan(kind.attribute, kind.type_name, nullable, target, [])
