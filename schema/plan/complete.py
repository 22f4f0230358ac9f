"""Serializing a computed value (an object of a Strawberry type with no resolvers, e.g.
`IncidentSla`, `SlaSummary`, `AlertSummary`, `Viewer`) for a selection, as graphql-core's
`complete_value` would: leaves through the schema's own `serialize`, objects field by field in
the selection's order, lists item by item, abstract types by the object's Strawberry type.
Compiled once per selection into nested closures."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_abstract_type,
)

from schema.plan.values import Fallback, Unsupported

if TYPE_CHECKING:
    from schema.plan.compiler import Compiler

Complete = Callable[[Any], Any]


def completer(
    compiler: Compiler, field_type: GraphQLOutputType, nodes: list[FieldNode]
) -> Complete:
    """A function from a Python value of `field_type` to its JSON value for `nodes`."""
    if isinstance(field_type, GraphQLNonNull):
        inner = completer(compiler, field_type.of_type, nodes)

        def non_null(value: Any) -> Any:
            result = inner(value)
            if result is None:
                raise Fallback("value", "a null where the schema has a non-null type")
            return result

        return non_null
    if isinstance(field_type, GraphQLList):
        item = completer(compiler, field_type.of_type, nodes)
        return lambda value: None if value is None else [item(entry) for entry in value]
    if isinstance(field_type, GraphQLLeafType):
        serialize = field_type.serialize

        def leaf(value: Any) -> Any:
            if value is None:
                return None
            result = serialize(value)
            if result is None:
                raise Fallback("value", f"a value {field_type.name} does not serialize")
            return result

        return leaf
    if is_abstract_type(field_type):
        by_type = {
            possible.name: _object(compiler, possible, nodes)
            for possible in compiler.schema.get_possible_types(field_type)  # type: ignore[arg-type]
        }

        def abstract(value: Any) -> Any:
            if value is None:
                return None
            name = type(value).__strawberry_definition__.name
            return by_type[name](value)

        return abstract
    assert isinstance(field_type, GraphQLObjectType)
    return _object(compiler, field_type, nodes)


def _object(
    compiler: Compiler, object_type: GraphQLObjectType, nodes: list[FieldNode]
) -> Complete:
    fields: list[tuple[str, str | None, Complete | None]] = []  # key, attribute, complete
    definition = object_type.extensions["strawberry-definition"]
    python_names = {
        compiler.name_of(strawberry_field): strawberry_field
        for strawberry_field in definition.fields
    }
    for key, sub_nodes in compiler.collect(compiler.sub_selections(nodes), object_type).items():
        name = sub_nodes[0].name.value
        if name == "__typename":
            fields.append((key, None, None))
            continue
        strawberry_field = python_names.get(name)
        if strawberry_field is None or strawberry_field.base_resolver is not None:
            raise Unsupported("unsupported_field", f"{object_type.name}.{name}")
        fields.append((
            key, strawberry_field.python_name,
            completer(compiler, object_type.fields[name].type, sub_nodes),
        ))
    type_name = object_type.name

    def complete(value: Any) -> Any:
        if value is None:
            return None
        out: dict[str, Any] = {}
        for key, attribute, complete_field in fields:
            if attribute is None or complete_field is None:
                out[key] = type_name
            else:
                out[key] = complete_field(getattr(value, attribute))
        return out

    return complete
