"""Relay connections: `edges {cursor node}`, `nodes`, `pageInfo`, and `totalCount` computed only
when a query asks for it (a COUNT is the most expensive part of a list)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import strawberry

from gateway.domain.pagination import Page, PageArgs
from gateway.domain.storage.engine import Database

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """Edges, cursors and page info are made only when a query selects them: a dashboard's
    nested lists mostly ask for `nodes`, and encoding every cursor is measurable."""

    @strawberry.field
    def edges(self) -> list[Edge[T]]:
        return [Edge(cursor=c, node=n) for c, n in zip(self.page.cursors, self.nodes, strict=True)]

    nodes: list[T]

    @strawberry.field
    def page_info(self) -> PageInfo:
        page = self.page
        return PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursor(0) if page.items else None,
            end_cursor=page.cursor(-1) if page.items else None,
        )

    page: strawberry.Private[Page[Any]]
    count_fn: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Rows matching the filter across all pages.")
    async def total_count(self) -> int:
        return await self.count_fn()


def connection(
    page: Page[Any], convert: Callable[[Any], T], count_fn: Callable[[], Awaitable[int]]
) -> Connection[T]:
    return Connection(nodes=[convert(row) for row in page.items], page=page, count_fn=count_fn)


def fixed_count(value: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return value

    return count


def enum_values(values: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(v.value for v in values) if values else ()


async def workspace_rows(
    db: Database,
    workspace_id: str,
    args: PageArgs,
    fetch_page: Callable[[Any, str, PageArgs], Awaitable[Page[Any]]],
    fetch_count: Callable[[Any, str], Awaitable[int]],
    convert: Callable[[Any], T],
) -> Connection[T]:
    """A connection over one workspace's rows of a kind with no filter: a page now, the count
    only if `totalCount` is asked for (each in its own read session)."""
    async with db.read() as session:
        page = await fetch_page(session, workspace_id, args)

    async def count() -> int:
        async with db.read() as session:
            return await fetch_count(session, workspace_id)

    return connection(page, convert, count)
