"""How a stored row becomes its GraphQL object: `from_row(cls, row)`, derived from the type's
fields rather than written out per type.

Every field of the object type (public or `strawberry.Private`) whose name is a column of the
row's table takes that column's value; an enum field (or a list of them, or an optional one)
turns the stored lower-case value into the enum. A field with no same-named column is passed
in `values` by the type's own `from_row` (`Report.row`, `Workspace.stored_sla_policy`): a
field that has neither fails the first conversion, naming itself. So adding a column and the
same-named field is the whole change for every resolver that returns the type, as it is for the
cached plans (`schema.plan.fields`, which derive their columns the same way).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

T = TypeVar("T")
Convert = Callable[[Any], Any]

# Per object type: (field name, converter or None) for each field read from a column.
_PLANS: dict[type, tuple[tuple[str, Convert | None], ...]] = {}


def from_row(cls: type[T], row: Any, /, **values: Any) -> T:
    """`cls` built from `row`, plus `values` for the fields that are not columns (a type's
    `from_row` passes the same names every time: the first call decides which they are)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls, row, frozenset(values))
    for name, convert in plan:
        value = getattr(row, name)
        values[name] = value if convert is None else convert(value)
    return cls(**values)


def _plan(cls: type, row: Any, given: frozenset[str]) -> tuple[tuple[str, Convert | None], ...]:
    table = row.__table__
    columns = table.columns
    public = {f.python_name: f for f in cls.__strawberry_definition__.fields}  # type: ignore[attr-defined]
    plan = []
    for field in dataclasses.fields(cls):
        resolved = field.name in public and public[field.name].base_resolver is not None
        if field.name in given or resolved:
            continue
        if field.name not in columns:
            raise TypeError(
                f"{cls.__name__}.{field.name}: no column of {table.name} has that "
                f"name; pass its value to from_row"
            )
        field_type = public[field.name].type if field.name in public else None  # None: private
        plan.append((field.name, _converter(field_type)))
    return tuple(plan)


def _converter(field_type: Any) -> Convert | None:
    """Stored value -> Python value the field's type serializes; None when it is the same."""
    if isinstance(field_type, StrawberryOptional | StrawberryList):
        inner = _converter(field_type.of_type)
        if inner is None:
            return None
        if isinstance(field_type, StrawberryList):
            return lambda values: [inner(value) for value in values]
        return lambda value: None if value is None else inner(value)
    if isinstance(field_type, StrawberryEnumDefinition):
        field_type = field_type.wrapped_cls
    if isinstance(field_type, type) and issubclass(field_type, Enum):
        return field_type
    return None
