"""From a validated document to a `Plan`: walk the operation's selections, resolve fragments and
variables, and refuse (`Unsupported`) anything plans do not cover."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    get_named_type,
    is_abstract_type,
)

from gateway.domain.incidents import alerts, incidents
from gateway.domain.incidents.alerts import ALERT_SORT, AlertFilter
from gateway.domain.incidents.incidents import DEFAULT_ORDER, ORDER_COLUMNS, IncidentFilter
from gateway.domain.storage.models import Alert, Incident
from schema.plan.selections import (
    ConnectionPlan,
    EdgePlan,
    ObjectPlan,
    Plan,
    RefPlan,
    finish_connection,
)
from schema.plan.statements import Statements
from schema.plan.values import (
    FIELDS,
    NOT_A_QUERY,
    PAGE_INFO_FIELDS,
    Column,
    Nested,
    Ref,
    Root,
    Unsupported,
)


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
            raise Unsupported(
                "operation" if len(chosen) != 1 else NOT_A_QUERY, "one query operation"
            )
        self.operation = chosen[0]

    def compile(self) -> Plan:
        if self.operation.directives:
            raise Unsupported("directive", "operation directives")
        variables: dict[str, tuple[str, bool, ValueNode | None]] = {}
        for definition in self.operation.variable_definitions or ():
            if definition.directives:
                raise Unsupported("directive", "variable directives")
            type_node = definition.type
            non_null = isinstance(type_node, NonNullTypeNode)
            inner = type_node.type if isinstance(type_node, NonNullTypeNode) else type_node
            if not isinstance(inner, NamedTypeNode):
                raise Unsupported("operation", "list variables")
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
                finish_connection(plan, None)
                roots.append((key, "list", plan))
            else:
                raise Unsupported("root_field", f"root field {name}")
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
                    raise Unsupported("directive", "directives")
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

    def connection(
        self, key: str, nodes: list[FieldNode], parent: GraphQLObjectType, spec: Nested | None,
        root: Root | None = None,
    ) -> ConnectionPlan:
        definition = parent.fields[nodes[0].name.value]
        connection_type = get_named_type(definition.type)
        if not isinstance(connection_type, GraphQLObjectType):
            raise Unsupported("unsupported_field", "connection type")
        list_of = root or spec
        assert list_of is not None
        node_type = list_of.node_type
        arguments = {arg.name.value: arg.value for arg in nodes[0].arguments or ()}
        if any(name not in list_of.arguments for name in arguments):
            raise Unsupported("argument", "connection arguments")
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
                        raise Unsupported("unsupported_field", f"pageInfo.{info_name}")
                    info.append((info_key, info_name))
                plan.fields.append((sub_key, "pageInfo", info))
            elif name == "totalCount":
                if spec is not None and spec.total_column is None:
                    raise Unsupported("unsupported_field", "totalCount of this list")
                plan.fields.append((sub_key, "totalCount", None))
            else:
                raise Unsupported("unsupported_field", f"connection field {name}")
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
                raise Unsupported("unsupported_field", f"edge field {name}")
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
                raise Unsupported("unsupported_field", f"{type_name}.{name}")
            if any(node.arguments for node in sub_nodes) and not isinstance(kind, Nested):
                raise Unsupported("argument", "arguments")
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
                        raise Unsupported(
                            "unsupported_field", f"{kind.type_name}.{ref_name} beyond id"
                        )
                    selected.append((ref_key, ref_name))
                nullable = not isinstance(runtime.fields[name].type, GraphQLNonNull)
                plan.fields.append(
                    (key, "ref", RefPlan(kind.column, kind.type_name, selected, nullable))
                )
            else:
                nested = self.connection(key, sub_nodes, runtime, kind)
                if nested.nested:
                    raise Unsupported("nested_list", "lists below nested lists")
                if kind.total_column is not None:
                    plan.columns[kind.total_column] = None
                plan.nested.append(nested)
                plan.fields.append((key, "nested", nested))
        return plan


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
