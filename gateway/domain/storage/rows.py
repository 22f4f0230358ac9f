"""Query helpers shared by the domain modules."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.domain.pagination import Page, PageArgs, SortKey, keyset_condition, make_page, ordering

M = TypeVar("M")


# Row locks taken by writers: `FOR NO KEY UPDATE` on PostgreSQL (blocks other writers of the row,
# not inserts of rows that reference it); SQLite ignores it (its writers are serialised anyway).
ROW_LOCK: dict[str, bool] = {"key_share": True}  # `with_for_update=ROW_LOCK`


def row_locked(stmt: Select[Any]) -> Select[Any]:
    """`stmt` taking `ROW_LOCK` on its rows, for statements built once (not `session.get`)."""
    return stmt.with_for_update(key_share=ROW_LOCK["key_share"])


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped (escape char `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def limited_per_parent(
    session: AsyncSession,
    base: Select[Any],
    model: type[M],
    parent_column: Any,
    parent_ids: list[str],
    sort: SortKey,
    args: PageArgs,
) -> dict[str, Page[M]]:
    """One page of children for each of many parents, in ONE statement.

    A window function numbers each parent's children in list order and keeps the first
    `size + 1`; that is what lets a dashboard ask for 10 or 100 incidents, each with its alerts,
    and still run a fixed number of statements.
    """
    if not parent_ids:
        return {}
    field = "before" if args.backward else "after"
    stmt = base.where(parent_column.in_(parent_ids))
    condition = keyset_condition(sort, args.cursor, backward=args.backward, field=field)
    if condition is not None:
        stmt = stmt.where(condition)
    row_number = (
        func.row_number()
        .over(partition_by=parent_column, order_by=ordering(sort, backward=args.backward))
        .label("rn")
    )
    numbered = stmt.add_columns(row_number).subquery()
    entity = aliased(model, numbered)
    outer = (
        select(entity)
        .where(numbered.c.rn <= args.size + 1)
        .order_by(numbered.c[parent_column.key], numbered.c.rn)
    )
    grouped: dict[str, list[M]] = {parent: [] for parent in parent_ids}
    for row in (await session.execute(outer)).scalars():
        grouped[getattr(row, parent_column.key)].append(row)
    return {parent: make_page(rows, sort, args) for parent, rows in grouped.items()}


async def counts_per_parent(
    session: AsyncSession, base: Select[Any], parent_column: Any, parent_ids: list[str]
) -> dict[str, int]:
    """How many rows of `base` each parent has (0 for none), in one grouped statement: the
    `totalCount` of a nested list for every row of a page at once."""
    counts = dict.fromkeys(parent_ids, 0)
    if not parent_ids:
        return counts
    stmt = (
        base.with_only_columns(parent_column, func.count())
        .where(parent_column.in_(parent_ids))
        .group_by(parent_column)
    )
    for parent_id, count in (await session.execute(stmt)).all():
        counts[parent_id] = count
    return counts
