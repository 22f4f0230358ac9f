"""Strawberry's argument conversion, decided once per field instead of once per request.

`strawberry.types.arguments.convert_arguments` turns graphql-core's coerced argument values into
the Python values a resolver takes (input dataclasses, enums, lists). For every value it asks
again what the type is and what each input field is called in GraphQL (`to_camel_case` on every
field name, annotations resolved anew): about 12% of a webhook request's CPU in a py-spy of T6,
for an input of a dozen optional fields. `arguments_converter` walks the same decisions once, for
one field's arguments, and returns a function that only does what depends on the value.

It follows `convert_argument` case by case (optional, None, UNSET, lists, leaves, lazy types,
enums, input types with their implicit `None` defaults); what it does not follow (`Maybe`,
`GlobalID`, input types that build themselves with `from_input`) raises `NotCompiled`, and the
caller keeps Strawberry's own conversion. `tests/graphql/test_input_conversion.py` holds the
two to the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.types.arguments import StrawberryArgument, _is_leaf_type, _is_optional_leaf_type
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

Convert = Callable[[Any], Any]


class NotCompiled(Exception):
    """A type this module does not follow: Strawberry's own conversion runs instead."""


def arguments_converter(
    arguments: list[StrawberryArgument], scalar_registry: Mapping[object, Any], config: Any
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What `convert_arguments(value, arguments, scalar_registry, config)` returns, as a
    function of `value` (graphql-core's argument values by GraphQL name)."""
    built = _Built(scalar_registry, config)
    plan = [
        (config.name_converter.from_argument(argument), argument.python_name,
         built.converter(argument.type))
        for argument in arguments
    ]

    def convert(value: dict[str, Any]) -> dict[str, Any]:
        return {
            python_name: to_python(value[name])
            for name, python_name, to_python in plan
            if name in value
        }

    return convert


class _Built:
    """The converters made for one field's arguments; an input type that contains itself
    (directly or not) gets the converter being made."""

    def __init__(self, registry: Mapping[object, Any], config: Any) -> None:
        self.registry = registry
        self.config = config
        self.objects: dict[Any, Convert] = {}

    def converter(self, type_: Any) -> Convert:
        if isinstance(type_, StrawberryMaybe):
            raise NotCompiled("Maybe arguments")
        if isinstance(type_, StrawberryOptional):
            return self.converter(type_.of_type)
        return _absent_or(self.present(type_))

    def present(self, type_: Any) -> Convert:
        registry = self.registry
        if isinstance(type_, StrawberryList):
            of_type = type_.of_type
            skip = (GlobalID,)
            if _is_leaf_type(of_type, registry, skip) or _is_optional_leaf_type(
                of_type, registry, skip
            ):
                return list  # copied: graphql-core shares a default value between requests
            item = self.converter(of_type)
            return lambda value: [item(x) for x in value]
        if type_ is GlobalID:
            raise NotCompiled("GlobalID arguments")
        if _is_leaf_type(type_, registry):
            return _same
        if isinstance(type_, LazyType):
            return self.present(type_.resolve_type())
        if has_enum_definition(type_):
            return self.present(type_.__strawberry_definition__)
        if has_object_definition(type_):
            return self.objects.get(type_) or self.input_object(type_)
        raise NotCompiled(f"argument type {type_!r}")

    def input_object(self, type_: Any) -> Convert:
        definition = type_.__strawberry_definition__
        if definition.from_input is not None:
            raise NotCompiled("an input type that builds itself")
        implicit: dict[str, None] = {}
        if definition.is_input:  # nullable fields without a default are None when not given
            implicit = {
                field.python_name: None
                for field in definition.fields
                if field.default_value is MISSING and field.default_factory is MISSING
            }
        fields: list[tuple[str, str, Convert]] = []

        def build(value: Mapping[str, Any]) -> Any:
            kwargs: dict[str, Any] = dict(implicit)
            for name, python_name, to_python in fields:
                if name in value:
                    kwargs[python_name] = to_python(value[name])
            return type_(**kwargs)

        self.objects[type_] = build  # before its fields, which may contain it
        name_of = self.config.name_converter.from_field
        fields.extend(
            (name_of(field), field.python_name,
             self.converter(field.resolve_type(type_definition=definition)))
            for field in definition.fields
        )
        return build


def _absent_or(convert: Convert) -> Convert:
    """None and UNSET go through as they are, whatever the type (as in `convert_argument`)."""

    def maybe(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        return convert(value)

    return maybe


def _same(value: Any) -> Any:
    return value
