"""The argument conversion decided once per field (`schema.plan.inputs`) returns what
Strawberry's `convert_arguments` returns, for every field with arguments in the schema: every
input field given (lists of two, nested inputs two levels down), none given, and nulls."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

from schema.build import build_schema
from schema.plan.inputs import NotCompiled, arguments_converter

SCHEMA = build_schema()
REGISTRY = SCHEMA.schema_converter.scalar_registry
CONFIG = SCHEMA.config


def fields_with_arguments() -> list[tuple[str, Any]]:
    """Every field with arguments, root fields first (nested lists' arguments too)."""
    roots = ("Query", "Mutation", "Subscription")
    names = [*roots, *(n for n in SCHEMA._schema.type_map if n not in roots and n[:2] != "__")]
    found = []
    for type_name in names:
        graphql_type = SCHEMA._schema.get_type(type_name)
        for name, field in getattr(graphql_type, "fields", {}).items():
            definition = getattr(field, "extensions", {}).get("strawberry-definition")
            if definition is not None and getattr(definition, "arguments", None):
                found.append((f"{type_name}.{name}", definition))
    return found


FIELDS = fields_with_arguments()


def sample(type_: Any, depth: int) -> Any:
    """A value graphql-core could hand over for `type_`: leaves as a marker object (conversion
    passes them on as they are), every input field filled down to `depth`."""
    if isinstance(type_, StrawberryOptional):
        return sample(type_.of_type, depth) if depth > 0 else None
    if isinstance(type_, StrawberryList):
        return [sample(type_.of_type, depth), sample(type_.of_type, depth)]
    if isinstance(type_, LazyType):
        return sample(type_.resolve_type(), depth)
    if has_object_definition(type_):
        definition = type_.__strawberry_definition__
        return {
            CONFIG.name_converter.from_field(field): sample(
                field.resolve_type(type_definition=definition), depth - 1
            )
            for field in definition.fields
        }
    return object()


def raw_values(arguments: list[Any]) -> list[dict[str, Any]]:
    names = [CONFIG.name_converter.from_argument(argument) for argument in arguments]
    full = {
        name: sample(argument.type, 3) for name, argument in zip(names, arguments, strict=True)
    }
    nulls = dict.fromkeys(names)
    unset = dict.fromkeys(names, UNSET)
    return [full, {}, nulls, unset]


def test_the_schema_has_fields_to_check() -> None:
    names = {name for name, _ in FIELDS}
    assert "Mutation.ingestAlert" in names
    assert len(FIELDS) >= 10


@pytest.mark.parametrize(("name", "definition"), FIELDS, ids=[name for name, _ in FIELDS])
def test_conversion_agrees_with_strawberry(name: str, definition: Any) -> None:
    try:
        convert = arguments_converter(definition.arguments, REGISTRY, CONFIG)
    except NotCompiled:
        pytest.skip(f"{name}: converted by Strawberry itself")
    for raw in raw_values(definition.arguments):
        try:
            expected = convert_arguments(raw, definition.arguments, REGISTRY, CONFIG)
        except TypeError:  # a required input field left null: graphql-core never sends it
            continue
        assert convert(raw) == expected, name


def test_a_list_of_leaves_is_copied() -> None:
    """graphql-core gives the same default list to every request that omits the value: a
    resolver changing its list must not change the next request's."""
    incidents = dict(FIELDS)["Query.incidents"]
    convert = arguments_converter(incidents.arguments, REGISTRY, CONFIG)
    statuses = ["TRIGGERED"]
    converted = convert({"filter": {"status": statuses}})["filter"]
    assert converted.status == statuses
    assert converted.status is not statuses
