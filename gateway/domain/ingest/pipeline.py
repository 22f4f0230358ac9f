"""The ingestion pipeline behind all three doors (the `ingestAlert` mutation, `POST /v1/alerts`
and the webhook): deduplicate, correlate, resolve, in ONE write transaction per request.

`ingest` runs inside the caller's write session. It first locks the workspace row (SQLite's
`BEGIN IMMEDIATE` already holds the database write lock; on PostgreSQL the row lock serialises
ingestion per workspace), so the dedup lookup and the update it leads to can never interleave
with another request: concurrent posts of one fingerprint end as one alert whose `occurrences`
equals the number of posts.

Outcomes, per alert:
- `created`: a new alert that opened a new incident;
- `grouped`: a new alert that joined an open incident (same group key, inside the window);
- `deduplicated`: the fingerprint matched a firing alert: `occurrences` and `last_seen_at` rose;
- `resolved`: a resolved notification; the matching firing alert(s) resolved, and their
  incident too when none of its alerts is still firing (timeline actor `system`).

Every notification about an existing alert moves its `last_seen_at` to when it was received. A
resolved notification also replaces the alert's raw payload with its own (the latest is what
shows how it ended: Alertmanager's `endsAt`, the final annotations); the firing payload is not
kept beside it. A repeated firing (`deduplicated`) keeps the payload the alert was opened with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.errors import NotFound
from gateway.domain.events import hub as events
from gateway.domain.incidents import timeline
from gateway.domain.incidents.incidents import (
    next_number,
    set_severity,
    set_status,
)
from gateway.domain.ingest import correlation, deliveries, idempotency, lookups, prefetch
from gateway.domain.ingest.deliveries import DeliveryMeta
from gateway.domain.ingest.idempotency import IdempotencyRequest
from gateway.domain.ingest.normalize import AlertIn, Parsed
from gateway.domain.ingest.results import AlertResult, IngestResult
from gateway.domain.storage import bulk, direct
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import SEVERITY_RANK, Alert, Incident, Workspace
from gateway.domain.storage.rows import ROW_LOCK
from gateway.domain.timeutil import utcnow

OUTCOMES = ("created", "deduplicated", "grouped", "resolved")
SYSTEM = "system"


@dataclass
class IngestWork:
    """One request's ingestion (and, for the webhook, its delivery row) as a unit of work for
    `Database.write_grouped`: concurrent requests commit together (group commit), after
    `prepare_group` read what all of them need at once."""

    workspace_id: str
    parsed: Parsed
    actor: str
    idempotency_request: IdempotencyRequest | None = None
    delivery: DeliveryMeta | None = None

    async def __call__(self, session: AsyncSession) -> IngestResult:
        result = await ingest(
            session, self.workspace_id, self.parsed, actor=self.actor,
            idempotency_request=self.idempotency_request,
        )
        if self.delivery is not None:
            deliveries.record(
                session, self.workspace_id, self.delivery, status_code=202, result=result
            )
        return result.frozen()  # the next unit of the group may change the same rows


async def prepare_group(session: AsyncSession, works: Sequence[Any]) -> None:
    """Before a group's units run: lock their workspaces and prefetch their lookups."""
    alerts: dict[str, list[AlertIn]] = {}
    for work in works:
        if isinstance(work, IngestWork):
            alerts.setdefault(work.workspace_id, []).extend(work.parsed.alerts)
    await prefetch.prefetch(session, alerts)


async def commit(db: Database, work: IngestWork) -> IngestResult:
    """Ingest in a group-committed write transaction; returns once it committed. Groups are
    shared out by workspace and by alerts, so one tenant's storm does not hold up the others."""
    return await db.write_grouped(
        work, prepare=prepare_group, lane=work.workspace_id, weight=len(work.parsed.alerts)
    )


async def ingest(
    session: AsyncSession,
    workspace_id: str,
    parsed: Parsed,
    *,
    actor: str,
    idempotency_request: IdempotencyRequest | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Ingest every alert of `parsed` into `workspace_id`, in the caller's write transaction."""
    now = now or utcnow()
    cache = prefetch.cache_for(session, workspace_id)
    if cache is not None:
        workspace: Workspace | None = cache.workspace  # locked by the group's prefetch
    else:
        workspace = await lookups.locked_workspace(session, workspace_id)
    if workspace is None:
        raise NotFound(f"no workspace {workspace_id}")
    if idempotency_request is not None:
        stored = await idempotency.recall(session, workspace_id, idempotency_request, now)
        if stored is not None:
            return IngestResult.from_snapshot(stored.response_body)
    labels = correlation.labels_of(workspace)
    clock = Clock(now)
    result = IngestResult(format=parsed.format)
    for item in parsed.alerts:
        if item.status == "resolved":
            outcome = await _resolve(session, workspace, item, actor, clock)
        else:
            outcome = await _fire(session, workspace, item, actor, clock, labels)
        result.results.append(outcome)
        events.record(session, events.Event(
            events.ALERT_INGESTED, workspace_id, outcome.alert.id,
            outcome.incident.id if outcome.incident else None, outcome.outcome,
        ))  # `alertsIngested` subscribers hear of it once the transaction commits
        if prefetch.cache_for(session, workspace_id) is None:
            await session.flush()  # the next alert's lookups must see this one

    if idempotency_request is not None:
        await idempotency.remember(
            session, workspace_id, idempotency_request, result.http_status, result.snapshot(), now
        )
    if prefetch.cache_for(session, workspace_id) is None:
        await session.flush()
    # In a group the commit flushes everything at once: one INSERT per table for the group.
    return result


class Clock:
    """The request's time, advanced by a microsecond per timeline event so the events one
    request writes keep their order (ids only order by millisecond)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._ticks = 0

    def tick(self) -> datetime:
        self._ticks += 1
        return self.now + timedelta(microseconds=self._ticks)


def _higher(severity: str, than: str) -> bool:
    return SEVERITY_RANK[severity] > SEVERITY_RANK[than]


def _raise_severity(
    session: AsyncSession, incident: Incident, severity: str, clock: Clock
) -> None:
    """An incident's severity follows its highest alert, unless someone set it by hand."""
    if not incident.severity_manual and _higher(severity, incident.severity):
        set_severity(session, incident, severity, SYSTEM, clock.tick(), manual=False)
        _keep(session, incident)


def _keep(session: AsyncSession, row: Alert | Incident) -> None:
    """Have the session write `row`'s changes: a row the ORM loaded is added; a new row waiting
    for its bulk INSERT (`gateway.domain.storage.bulk`) is inserted with them already, and a
    row the group's prefetch read (`gateway.domain.storage.direct`) is updated at the flush."""
    if not bulk.is_pending(session, row) and not direct.is_watched(session, row):
        session.add(row)


async def _fire(
    session: AsyncSession,
    workspace: Workspace,
    item: AlertIn,
    actor: str,
    clock: Clock,
    labels: tuple[str, ...],
) -> AlertResult:
    now = clock.now
    cache = prefetch.cache_for(session, workspace.id)
    if cache is not None and item.fingerprint in cache.firing:
        existing = cache.firing[item.fingerprint]
    else:
        existing = await _firing_duplicate(session, workspace.id, item.fingerprint)
    if existing is not None:
        existing.occurrences += 1
        existing.last_seen_at = now
        if cache is not None:  # read and locked by the group's prefetch, or made by the group
            incident: Incident | None = cache.incident(existing.incident_id)
        else:
            incident = await _incident_of(session, existing)
        if _higher(item.severity, existing.severity):
            existing.severity = item.severity
            if incident is not None:
                _raise_severity(session, incident, item.severity, clock)
        _keep(session, existing)
        return AlertResult(existing, incident, "deduplicated")

    key = correlation.group_key(item, labels)
    if cache is not None and cache.knows_group(key):
        incident = cache.open_incident(key, now)
    else:
        incident = await correlation.open_incident_for(session, workspace, key, now)
    outcome = "grouped"
    alert_id = ids.new_id(ids.ALERT)
    if incident is None:
        outcome = "created"
        if cache is not None:  # the workspace row is locked and loaded: count in memory
            number = cache.next_number()
        else:
            number = await next_number(session, workspace.id)
        # What `new_incident` makes, made as loaded rows are (`direct.new_row`), and inserted in
        # bulk, before the rows that refer to it, at the next flush.
        incident = direct.new_row(
            Incident, id=ids.new_id(ids.INCIDENT), workspace_id=workspace.id, number=number,
            title=item.title[:500], severity=item.severity, group_key=key, created_at=now,
            updated_at=now,
        )
        bulk.add(session, incident)
        if cache is not None:
            cache.open_incidents[key] = incident
            cache.created[incident.id] = incident
        timeline.record(
            session, incident, "incident.created", actor, f"opened by alert: {item.title}"[:1000],
            {"alert_id": alert_id, "source": item.source, "group_key": key}, at=clock.tick(),
        )
    else:
        _raise_severity(session, incident, item.severity, clock)

    first_seen = min(item.occurred_at, now) if item.occurred_at else now
    alert = direct.new_row(
        Alert,
        id=alert_id,
        workspace_id=workspace.id,
        incident_id=incident.id,
        source=item.source,
        title=item.title,
        description=item.description,
        severity=item.severity,
        status="firing",
        fingerprint=item.fingerprint,
        labels=item.labels,
        raw_payload=item.raw,
        occurrences=1,
        first_seen_at=first_seen,
        last_seen_at=now,
        received_at=now,
    )
    bulk.add(session, alert)
    if cache is not None:
        cache.firing[item.fingerprint] = alert
    incident.alert_count += 1
    incident.updated_at = now
    _keep(session, incident)
    timeline.record(
        session, incident, "alert.attached", actor, f"alert attached: {item.title}"[:1000],
        {"alert_id": alert_id, "fingerprint": item.fingerprint, "outcome": outcome},
        at=clock.tick(),
    )
    return AlertResult(alert, incident, outcome)


async def _incident_of(session: AsyncSession, alert: Alert) -> Incident | None:
    if alert.incident_id is None:
        return None
    return await _locked_incident(session, alert.incident_id)


async def _locked_incident(session: AsyncSession, incident_id: str) -> Incident | None:
    """The incident, row-locked and re-read: a concurrent manual change (which locks it too)
    either committed before, and we see it, or waits for us."""
    return await session.get(
        Incident, incident_id, with_for_update=ROW_LOCK, populate_existing=True
    )


async def _firing_duplicate(
    session: AsyncSession, workspace_id: str, fingerprint: str
) -> Alert | None:
    """The firing alert this fingerprint deduplicates into (`lookups.firing_alerts`)."""
    stmt = (
        lookups.firing_alerts(workspace_id)
        .where(col(Alert.fingerprint) == fingerprint)
        .order_by(*lookups.NEWEST_FIRST)
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


def _heard(alert: Alert, item: AlertIn, now: datetime) -> None:
    """A resolved notification about `alert` arrived at `now`: it is the latest word on it."""
    alert.last_seen_at = now
    alert.raw_payload = item.raw


async def _resolve(
    session: AsyncSession, workspace: Workspace, item: AlertIn, actor: str, clock: Clock
) -> AlertResult:
    now = clock.now
    # A resolution changes which alerts fire and which incidents are open: from here on this
    # workspace's lookups ask the database (which sees everything after a flush).
    await prefetch.forget(session, workspace.id)
    stmt = (
        select(Alert)
        .where(col(Alert.workspace_id) == workspace.id)
        .where(col(Alert.fingerprint) == item.fingerprint)
        .order_by(*lookups.NEWEST_FIRST)
    )
    firing = list((await session.execute(stmt.where(col(Alert.status) == "firing"))).scalars())
    if not firing:
        latest = (await session.execute(stmt.limit(1))).scalars().first()
        if latest is not None:
            # Already resolved (Alertmanager repeats resolved alerts): nothing changes but when
            # it was last heard of, and the payload that said so.
            _heard(latest, item, now)
            session.add(latest)
            incident = await _incident_of(session, latest)
            return AlertResult(latest, incident, "resolved")
        # A resolution for an alert never seen firing: kept for the record, with no incident.
        resolved_at = min(item.ended_at, now) if item.ended_at else now
        first_seen = min(item.occurred_at, resolved_at) if item.occurred_at else resolved_at
        alert = Alert(
            id=ids.new_id(ids.ALERT), workspace_id=workspace.id, incident_id=None,
            source=item.source, title=item.title, description=item.description,
            severity=item.severity, status="resolved", fingerprint=item.fingerprint,
            labels=item.labels, raw_payload=item.raw, occurrences=1, first_seen_at=first_seen,
            last_seen_at=resolved_at, received_at=now, resolved_at=resolved_at,
        )
        session.add(alert)
        return AlertResult(alert, None, "resolved")

    incidents: dict[str, Incident] = {}
    for alert in firing:
        alert.status = "resolved"
        alert.resolved_at = min(item.ended_at, now) if item.ended_at else now
        _heard(alert, item, now)
        session.add(alert)
        if alert.incident_id is None:
            continue
        incident = incidents.get(alert.incident_id) or await _locked_incident(
            session, alert.incident_id
        )
        if incident is None:
            continue
        incidents[incident.id] = incident
        incident.updated_at = now
        session.add(incident)
        timeline.record(
            session, incident, "alert.resolved", actor, f"alert resolved: {alert.title}"[:1000],
            {"alert_id": alert.id, "fingerprint": alert.fingerprint}, at=clock.tick(),
        )
    await session.flush()
    for incident in incidents.values():
        if incident.status == "resolved":
            continue
        still_firing = (
            await session.execute(
                select(func.count())
                .select_from(Alert)
                .where(col(Alert.incident_id) == incident.id)
                .where(col(Alert.status) == "firing")
            )
        ).scalar_one()
        if still_firing == 0:
            set_status(session, incident, "resolved", SYSTEM, clock.tick())
            session.add(incident)
    newest = firing[0]
    return AlertResult(
        newest, incidents.get(newest.incident_id) if newest.incident_id else None, "resolved"
    )
