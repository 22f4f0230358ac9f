"""Incidents with hand-picked timestamps, and workspaces with keys, for the SLA, summary and
report suites."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Incident, Workspace
from gateway.domain.tenancy.auth import create_key
from gateway.domain.tenancy.workspaces import create_workspace
from tests.support.data import make_incident

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 10, interval: float = 0.02
) -> T:
    """Await `check()` until it returns something truthy (or fail after `within` s)."""
    async with asyncio.timeout(within):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(interval)


async def incident_at(
    db: Database,
    workspace: Workspace,
    severity: str,
    created: datetime,
    *,
    acked: datetime | None = None,
    resolved: datetime | None = None,
    title: str | None = None,
    alerts: int = 1,
) -> Incident:
    """An incident created at `created`, acknowledged at `acked` and resolved at `resolved`
    (either may be None: never); its status follows from those."""
    status = "resolved" if resolved else "acknowledged" if acked else "triggered"
    incident, _ = await make_incident(
        db, workspace, title=title or f"{severity} at {created:%H:%M:%S}", severity=severity,
        status=status, alerts=alerts, created_at=created,
    )
    async with db.write() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        row.acknowledged_at = acked
        row.resolved_at = resolved
        row.updated_at = resolved or acked or created
        session.add(row)
    return row


async def workspace_with_key(
    db: Database, slug: str, *, parent: str | None = None, scope: str = "write"
) -> tuple[Workspace, str]:
    async with db.write() as session:
        workspace = await create_workspace(
            session, slug=slug, name=slug.title(), tier="enterprise", parent_slug=parent
        )
        _, key = await create_key(session, workspace, f"{slug} key", scope)
    return workspace, key
