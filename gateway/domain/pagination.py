"""Keyset pagination shared by every list: never OFFSET, so page N costs what page 1 costs and rows
inserted while a client walks the pages neither repeat nor vanish.

A cursor is the sort value and id of a row, JSON-encoded then base64url'd: opaque to callers,
stable across processes, and validated on the way back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, tuple_
from sqlalchemy.sql.elements import ColumnElement

from gateway.domain import ids
from gateway.domain.errors import InvalidInput
from gateway.domain.timeutil import parse_iso, to_utc

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageArgs:
    """Relay arguments, validated: exactly one direction, size within 1..MAX_PAGE_SIZE."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        if self.last is not None:
            return self.last
        return self.first if self.first is not None else DEFAULT_PAGE_SIZE

    @property
    def cursor(self) -> str | None:
        return self.before if self.backward else self.after


def page_args(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    *,
    max_size: int = MAX_PAGE_SIZE,
) -> PageArgs:
    if first is not None and last is not None:
        raise InvalidInput("pass `first` or `last`, not both", field="first")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 1 <= value <= max_size:
            raise InvalidInput(f"`{name}` must be between 1 and {max_size}", field=name)
    if last is None and before is not None:
        raise InvalidInput("`before` goes with `last`", field="before")
    if last is not None and after is not None:
        raise InvalidInput("`after` goes with `first`", field="after")
    return PageArgs(first=first, after=after, last=last, before=before)


@dataclass
class Page(Generic[T]):
    items: list[T]
    sort: SortKey
    has_next_page: bool
    has_previous_page: bool

    def cursor(self, index: int) -> str:
        item: Any = self.items[index]
        return encode_cursor(getattr(item, self.sort.attribute), item.id)

    @cached_property
    def cursors(self) -> list[str]:
        """Made when first asked for: most pages (nested lists) never show their cursors."""
        return [self.cursor(index) for index in range(len(self.items))]


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def encode_cursor(sort_value: Any, row_id: str) -> str:
    if isinstance(sort_value, datetime):
        sort_value = to_utc(sort_value).isoformat()
    raw = json.dumps([sort_value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, is_datetime: bool, field: str = "after") -> tuple[Any, str]:
    """Undo encode_cursor; anything else is a clear BAD_USER_INPUT, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(row_id, str) or ids.prefix_of(row_id) is None:
            raise ValueError("id")
        if is_datetime:
            if not isinstance(value, str):
                raise ValueError("value")
            value = parse_iso(value)
        elif type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("value")  # the only other sort is a number (Incident.number)
        return value, row_id
    except (ValueError, TypeError, RecursionError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(f"`{field}` is not a valid cursor", field=field) from None


@dataclass(frozen=True)
class SortKey:
    """The column a list is ordered by (ties broken by `id`), and in which direction."""

    column: Any
    id_column: Any
    descending: bool
    attribute: str
    is_datetime: bool = True


def keyset_condition(
    sort: SortKey, cursor: str | None, *, backward: bool, field: str
) -> ColumnElement[bool] | None:
    if cursor is None:
        return None
    value, row_id = decode_cursor(cursor, is_datetime=sort.is_datetime, field=field)
    row = tuple_(sort.column, sort.id_column)
    bound = tuple_(
        bindparam(None, value, type_=sort.column.type),
        bindparam(None, row_id, type_=sort.id_column.type),
    )
    # Moving forward through a descending list means smaller keys, and vice versa.
    smaller = sort.descending != backward
    return row < bound if smaller else row > bound


def ordering(sort: SortKey, *, backward: bool) -> list[Any]:
    descending = sort.descending != backward
    if descending:
        return [sort.column.desc(), sort.id_column.desc()]
    return [sort.column.asc(), sort.id_column.asc()]


def apply_keyset(stmt: Select[Any], sort: SortKey, args: PageArgs) -> Select[Any]:
    """Add the cursor condition, order and limit (one extra row tells whether more exist)."""
    field = "before" if args.backward else "after"
    condition = keyset_condition(sort, args.cursor, backward=args.backward, field=field)
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt.order_by(*ordering(sort, backward=args.backward)).limit(args.size + 1)


def make_page(rows: Sequence[T], sort: SortKey, args: PageArgs) -> Page[T]:
    """Turn the rows of an `apply_keyset` query into a Page (rows are in the list's order)."""
    items = list(rows[: args.size])
    more = len(rows) > args.size
    if args.backward:
        items.reverse()
        return Page(items, sort, has_next_page=args.cursor is not None, has_previous_page=more)
    return Page(items, sort, has_next_page=more, has_previous_page=args.cursor is not None)
