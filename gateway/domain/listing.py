"""Lists as declarations: a table, the column tenancy scopes it by, the filters it takes (each a
domain filter attribute, a column and an operator), and the orders it may be read in.

Two users build their SQL from the same declaration: the domain's list functions
(`Listing.select`, with the caller's values) and the cached execution plans (`schema/plan`,
with bound parameters, built once per shape), so a filter, an order or the tenancy clause is
written once. Keyset pagination on top of either is `gateway.domain.pagination`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.sql.elements import ColumnElement

from gateway.domain.pagination import SortKey
from gateway.domain.storage.rows import like_pattern

# How a condition compares its column(s) with the filter's value.
IN = "in"  # any of the values (a non-empty tuple; empty means no condition)
EQ = "eq"  # equal (None means no condition)
TEXT = "text"  # case-insensitive substring of any of the columns (empty means no condition)
AT_LEAST = "at_least"  # >= (None means no condition)
BEFORE = "before"  # < (None means no condition)


@dataclass(frozen=True)
class Condition:
    """One filter attribute: `name` on the domain filter, compared with `columns` by `op`."""

    name: str
    op: str
    columns: tuple[Any, ...]

    def present(self, value: Any) -> bool:
        """Whether `value` filters at all (an empty list or text does not, nor None)."""
        if self.op in (IN, TEXT):
            return bool(value)
        return value is not None

    def parameter(self, value: Any) -> Any:
        """What is bound for `value`: the list of values, the LIKE pattern, or the value."""
        if self.op == IN:
            return list(value)
        if self.op == TEXT:
            return like_pattern(value)
        return value

    def clause(self, bound: Any) -> ColumnElement[bool]:
        """The condition on `bound`: a parameter, or for IN a list or a subquery of values."""
        column = self.columns[0]
        if self.op == IN:
            return column.in_(bound)
        if self.op == EQ:
            return column == bound
        if self.op == AT_LEAST:
            return column >= bound
        if self.op == BEFORE:
            return column < bound
        if self.op == TEXT:
            return or_(*(c.ilike(bound, escape="\\") for c in self.columns))
        raise ValueError(f"unknown condition {self.op}")


@dataclass(frozen=True)
class Listing:
    """A list of `model` rows inside one tenant (`scope` = the workspace id), filtered by
    `conditions`, ordered by one of `orders` (`"created_at:desc"` -> its SortKey)."""

    model: Any
    scope: Any
    orders: Mapping[str, SortKey]
    default_order: str
    conditions: tuple[Condition, ...] = ()

    @property
    def sort(self) -> SortKey:
        return self.orders[self.default_order]

    def filter_values(self, flt: Any) -> dict[str, Any]:
        """{condition name: value} of the conditions `flt` (a domain filter, or None) sets."""
        if flt is None:
            return {}
        found = vars(flt)
        return {c.name: found[c.name] for c in self.conditions if c.present(found.get(c.name))}

    def where(self, flt: Any) -> list[ColumnElement[bool]]:
        """The filter's conditions with its values (the domain functions' statements)."""
        values = self.filter_values(flt)
        return [c.clause(c.parameter(values[c.name])) for c in self.conditions if c.name in values]

    def select(self, workspace_id: str, flt: Any = None) -> Select[Any]:
        """`SELECT model WHERE scope = workspace_id AND <filter>`; order and page are added by
        `gateway.domain.pagination.apply_keyset`."""
        return select(self.model).where(self.scope == workspace_id, *self.where(flt))
