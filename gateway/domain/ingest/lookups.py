"""The two questions ingestion asks the database, as statements: one alert narrows them to its
fingerprint or group key (`pipeline`, `correlation`), a group to all of its own
(`prefetch`). Written once so that a group always asks exactly what its alerts would alone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlmodel import col

from gateway.domain.storage.models import OPEN_STATUSES, Alert, Incident


def firing_alerts(workspace_id: str) -> Select[Any]:
    """Firing alerts a new one may deduplicate into: those whose incident is still open (a
    firing alert left in an incident someone resolved by hand starts afresh). Unordered: narrowed
    to one fingerprint, add `NEWEST_FIRST`; to many, pick each one's newest with `newest`
    (ordered by time, SQLite without statistics walks every alert of the workspace in
    `ix_alerts_ws_received` rather than sort the few rows the fingerprints' index finds)."""
    return (
        select(Alert)
        .outerjoin(Incident, col(Incident.id) == col(Alert.incident_id))
        .where(col(Alert.workspace_id) == workspace_id)
        .where(col(Alert.status) == "firing")
        .where(or_(col(Alert.incident_id).is_(None), col(Incident.status) != "resolved"))
    )


# Newest first; with an equality on the fingerprint, `ix_alerts_ws_fingerprint_received` gives
# the rows in this order (migration 0005).
NEWEST_FIRST = (col(Alert.received_at).desc(), col(Alert.id).desc())


def newest(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """Each fingerprint's newest alert of `alerts`, in the order `NEWEST_FIRST` gives."""
    found: dict[str, Alert] = {}
    for alert in alerts:
        kept = found.get(alert.fingerprint)
        if kept is None or (alert.received_at, alert.id) > (kept.received_at, kept.id):
            found[alert.fingerprint] = alert
    return found


def open_incidents_since(workspace_id: str, cutoff: datetime) -> Select[Any]:
    """Open incidents opened at or after `cutoff`, newest first, locked and re-read
    (PostgreSQL): an analyst resolving one right now either committed, and the row no longer
    matches (the alert opens a new incident), or waits for us."""
    return (
        select(Incident)
        .where(col(Incident.workspace_id) == workspace_id)
        .where(col(Incident.status).in_(OPEN_STATUSES))
        .where(col(Incident.created_at) >= cutoff)
        .order_by(col(Incident.created_at).desc(), col(Incident.id).desc())
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
