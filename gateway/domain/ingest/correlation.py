"""Correlation: which open incident a new alert joins.

The group key is source + alert name + the value of the first label present among the
workspace's correlation labels (default host, instance, service). A new alert joins the most
recent open (triggered or acknowledged) incident of its workspace with the same group key that
was opened within the workspace's window (default 30 minutes); otherwise it opens a new one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.errors import InvalidInput
from gateway.domain.ingest import lookups
from gateway.domain.ingest.normalize import AlertIn
from gateway.domain.storage.models import Incident, Workspace

DEFAULT_LABELS = ("host", "instance", "service")
MAX_WINDOW_SECONDS = 7 * 24 * 3600
MAX_GROUP_KEY = 255


def labels_of(workspace: Workspace) -> tuple[str, ...]:
    return tuple(workspace.correlation_labels or DEFAULT_LABELS)


def group_key(alert: AlertIn, labels: tuple[str, ...] = DEFAULT_LABELS) -> str:
    scope = next((alert.labels[name] for name in labels if alert.labels.get(name)), "")
    key = "|".join((alert.source, alert.alertname, scope))
    if len(key) > MAX_GROUP_KEY:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


async def open_incident_for(
    session: AsyncSession, workspace: Workspace, key: str, now: datetime
) -> Incident | None:
    """The open incident this group key joins, if one was opened inside the window."""
    if workspace.correlation_window_seconds <= 0:
        return None
    cutoff = now - timedelta(seconds=workspace.correlation_window_seconds)
    stmt = (
        lookups.open_incidents_since(workspace.id, cutoff)
        .where(col(Incident.group_key) == key)
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


def set_correlation(
    workspace: Workspace,
    *,
    window_seconds: int | None = None,
    labels: list[str] | None = None,
) -> Workspace:
    """Change a workspace's correlation settings (the caller's session writes it).
    `labels=[]` restores the default labels."""
    if window_seconds is not None:
        if not 0 <= window_seconds <= MAX_WINDOW_SECONDS:
            raise InvalidInput(
                f"the correlation window must be 0-{MAX_WINDOW_SECONDS} seconds "
                "(0 turns grouping off)",
                field="window",
            )
        workspace.correlation_window_seconds = window_seconds
    if labels is not None:
        cleaned = [name.strip() for name in labels if name.strip()]
        if len(cleaned) > 10 or any(len(name) > 100 for name in cleaned):
            raise InvalidInput("at most 10 label names of up to 100 characters", field="labels")
        workspace.correlation_labels = cleaned or None
    return workspace
