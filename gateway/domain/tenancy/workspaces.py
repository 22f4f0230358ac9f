"""Workspaces: the tenant tree (an MSSP and the customers below it) and lookups by id or slug."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.errors import InvalidInput
from gateway.domain.listing import Listing
from gateway.domain.pagination import Page, PageArgs, SortKey, apply_keyset, make_page
from gateway.domain.storage.models import TIERS, Workspace

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

WORKSPACE_SORT = SortKey(
    Workspace.created_at, Workspace.id, descending=False, attribute="created_at"
)
# The workspaces a key may see, oldest first. Tenancy here is `id IN <permitted>`, not one
# workspace: `list_workspaces` and the cached plans (schema/plan) apply it themselves.
WORKSPACES = Listing(Workspace, Workspace.id, {"created_at:asc": WORKSPACE_SORT}, "created_at:asc")

async def descendant_ids(session: AsyncSession, root_id: str) -> list[str]:
    """`root_id` and every workspace below it, in one recursive query."""
    tree = (
        select(col(Workspace.id).label("id"))
        .where(col(Workspace.id) == root_id)
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(select(col(Workspace.id)).where(col(Workspace.parent_id) == tree.c.id))
    result = await session.execute(select(tree.c.id))
    return [row[0] for row in result]

async def find_workspace(
    session: AsyncSession, ref: str, permitted_ids: frozenset[str] | None
) -> Workspace | None:
    """A workspace by id or slug, or None; with `permitted_ids`, only among those. A reference
    that is neither a well-formed id nor a well-formed slug finds nothing, without a query."""
    if ids.prefix_of(ref) != ids.WORKSPACE and not SLUG_RE.match(ref):
        return None
    column: Any = col(Workspace.id) if ids.prefix_of(ref) == ids.WORKSPACE else col(Workspace.slug)
    stmt = select(Workspace).where(column == ref)
    if permitted_ids is not None:
        stmt = stmt.where(col(Workspace.id).in_(permitted_ids))
    return (await session.execute(stmt)).scalar_one_or_none()

async def require_workspace(session: AsyncSession, ref: str) -> Workspace:
    """A workspace by id or slug; InvalidInput (field `workspace`) when there is none."""
    workspace = await find_workspace(session, ref, None)
    if workspace is None:
        raise InvalidInput(f"no workspace {ref!r}", field="workspace")
    return workspace

async def workspaces_by_ids(session: AsyncSession, wanted: list[str]) -> list[Workspace]:
    if not wanted:
        return []
    stmt = select(Workspace).where(col(Workspace.id).in_(wanted))
    return list((await session.execute(stmt)).scalars())

async def list_workspaces(
    session: AsyncSession, permitted_ids: frozenset[str], args: PageArgs
) -> Page[Workspace]:
    stmt = select(Workspace).where(col(Workspace.id).in_(permitted_ids))
    rows = (await session.execute(apply_keyset(stmt, WORKSPACE_SORT, args))).scalars().all()
    return make_page(rows, WORKSPACE_SORT, args)

async def children_of(
    session: AsyncSession, parent_ids: list[str], permitted_ids: frozenset[str]
) -> dict[str, list[Workspace]]:
    """Children of each parent, limited to `permitted_ids` (one statement for all parents)."""
    stmt = (
        select(Workspace)
        .where(col(Workspace.parent_id).in_(parent_ids))
        .where(col(Workspace.id).in_(permitted_ids))
        .order_by(col(Workspace.created_at), col(Workspace.id))
    )
    grouped: dict[str, list[Workspace]] = {parent: [] for parent in parent_ids}
    for row in (await session.execute(stmt)).scalars():
        grouped[row.parent_id or ""].append(row)
    return grouped

async def create_workspace(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    tier: str = "starter",
    parent_slug: str | None = None,
    rate_limit: int | None = None,
) -> Workspace:
    if not SLUG_RE.match(slug) or ids.prefix_of(slug) is not None:
        raise InvalidInput(
            "slug must be 1-63 lower-case letters, digits and dashes, not starting with a dash",
            field="slug",
        )
    if tier not in TIERS:
        raise InvalidInput(f"tier must be one of {', '.join(TIERS)}", field="tier")
    if rate_limit is not None and rate_limit < 1:
        raise InvalidInput("rate limit must be a positive number per minute", field="rateLimit")
    if await find_workspace(session, slug, None) is not None:
        raise InvalidInput(f"a workspace with slug {slug!r} already exists", field="slug")
    parent_id = None
    if parent_slug:
        parent = await find_workspace(session, parent_slug, None)
        if parent is None:
            raise InvalidInput(f"no parent workspace {parent_slug!r}", field="parent")
        parent_id = parent.id
    workspace = Workspace(
        id=ids.new_id(ids.WORKSPACE),
        slug=slug,
        name=name or slug,
        tier=tier,
        parent_id=parent_id,
        rate_limit_per_minute=rate_limit,
    )
    session.add(workspace)
    await session.flush()
    return workspace

async def all_workspaces(session: AsyncSession) -> list[Workspace]:
    stmt = select(Workspace).order_by(col(Workspace.created_at), col(Workspace.id))
    return list((await session.execute(stmt)).scalars())

