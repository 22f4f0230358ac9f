"""The SLA sweeper: a background task that writes one `sla.breached` timeline event per breach,
when it happens (within one sweep interval), never at read time.

Idempotency comes from the timeline itself, not from extra state: before writing, the sweep reads
the incident's existing `sla.breached` events inside the same write transaction that will add the
new ones, with the incident rows locked (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
already serialises writers). So a second sweep, a restart, or a second replica finds the event and
writes nothing. With several processes the lock is `FOR UPDATE SKIP LOCKED`: a sweep skips the
incidents another process's sweep holds rather than waiting for them. Each (incident, kind) gets
at most one event, ever: changing the policy or the severity later does not write a second one.

What a sweep looks at:
- open incidents (triggered or acknowledged) old enough for the shortest target to have passed;
- incidents updated within a look-back window, which catches a target missed between two
  sweeps (acknowledged late, just before the next sweep). The first sweep after start-up looks
  back 30 days, so breaches that happened while the gateway was down are written after it.

The event is stamped with the time the sweep saw it (the timeline stays append-only in time
order); `data.due_at` is the exact moment the target was missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import background
from gateway.domain.incidents import timeline
from gateway.domain.sla import maths
from gateway.domain.sla import policy as sla
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import OPEN_STATUSES, Incident, TimelineEvent
from gateway.domain.timeutil import isoformat_z, to_utc, utcnow

log = logging.getLogger("seliq.sla")

EVENT_TYPE = "sla.breached"
ACTOR = "system"
FIRST_LOOKBACK = timedelta(days=30)
MIN_LOOKBACK = timedelta(minutes=10)
MAX_INCIDENTS_PER_WRITE = 200


@dataclass(frozen=True)
class PendingBreach:
    incident_id: str
    kind: str


def _shortest_target(policies: dict[str, dict[str, sla.Target]]) -> int | None:
    targets = [
        seconds
        for policy in policies.values()
        for target in policy.values()
        for seconds in (target.ack_seconds, target.resolve_seconds)
        if seconds is not None
    ]
    return min(targets) if targets else None


async def _candidates(
    session: AsyncSession,
    policies: dict[str, dict[str, sla.Target]],
    now: datetime,
    lookback: timedelta,
    *,
    only_ids: Sequence[str] | None = None,
    lock: bool = False,
) -> list[Incident]:
    shortest = _shortest_target(policies)
    if shortest is None:
        return []
    stmt = select(Incident).where(col(Incident.workspace_id).in_(list(policies)))
    if only_ids is not None:
        stmt = stmt.where(col(Incident.id).in_(list(only_ids)))
    else:
        old_enough = now - timedelta(seconds=shortest)
        stmt = stmt.where(
            or_(
                col(Incident.status).in_(OPEN_STATUSES)
                & (col(Incident.created_at) <= old_enough),
                col(Incident.updated_at) >= now - lookback,
            )
        )
    if lock:
        # Several processes sweep: one that finds an incident locked by another skips it (that
        # one writes its events) instead of waiting for it. SQLite ignores the clause (its
        # writers are serialised by BEGIN IMMEDIATE).
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars())


def _breaches_of(
    incident: Incident, policies: dict[str, dict[str, sla.Target]], now: datetime
) -> list[tuple[str, datetime, int]]:
    """(kind, due_at, target_seconds) of each target this incident has missed by `now`."""
    target = maths.target_for(policies, incident.workspace_id, incident.severity)
    if not target.has_any:
        return []
    state = maths.incident_sla(incident, target, now)
    found = []
    for kind, seconds in (("ack", target.ack_seconds), ("resolve", target.resolve_seconds)):
        due = state.due_at(kind)
        if state.breached(kind) and due is not None and seconds is not None:
            found.append((kind, due, seconds))
    return found


async def _recorded(session: AsyncSession, incident_ids: Sequence[str]) -> set[PendingBreach]:
    found: set[PendingBreach] = set()
    for start in range(0, len(incident_ids), MAX_INCIDENTS_PER_WRITE):
        stmt = select(col(TimelineEvent.incident_id), col(TimelineEvent.data)).where(
            col(TimelineEvent.incident_id).in_(
                list(incident_ids[start:start + MAX_INCIDENTS_PER_WRITE])
            ),
            col(TimelineEvent.type) == EVENT_TYPE,
        )
        found.update(
            PendingBreach(incident_id, str((data or {}).get("kind")))
            for incident_id, data in (await session.execute(stmt)).all()
        )
    return found


async def _pending(
    session: AsyncSession,
    policies: dict[str, dict[str, sla.Target]],
    incidents: Sequence[Incident],
    now: datetime,
) -> dict[PendingBreach, tuple[Incident, datetime, int]]:
    found = {
        PendingBreach(incident.id, kind): (incident, due, seconds)
        for incident in incidents
        for kind, due, seconds in _breaches_of(incident, policies, now)
    }
    if not found:
        return {}
    recorded = await _recorded(session, sorted({key.incident_id for key in found}))
    return {key: value for key, value in found.items() if key not in recorded}


def _write_event(
    session: AsyncSession, incident: Incident, kind: str, due: datetime, seconds: int,
    now: datetime,
) -> None:
    target = f"{sla.breach_word(kind)} target of {sla.format_duration(seconds)}"
    timeline.record(
        session, incident, EVENT_TYPE, ACTOR, f"{target} missed ({incident.severity})",
        {
            "kind": kind,
            "severity": incident.severity,
            "target_seconds": seconds,
            "due_at": isoformat_z(due),
        },
        at=now,
    )


async def sweep_once(
    db: Database, *, now: datetime | None = None, lookback: timedelta = FIRST_LOOKBACK
) -> int:
    """One sweep: returns the number of `sla.breached` events written.

    A read finds what is pending; only then is a write transaction opened, which locks those
    incidents, reads their recorded breaches again and writes what is still missing.
    """
    moment = to_utc(now) if now else utcnow()
    async with db.read() as session:
        policies = await maths.load_policies(session)
        candidates = await _candidates(session, policies, moment, lookback)
        pending = await _pending(session, policies, candidates, moment)
    if not pending:
        return 0
    incident_ids = sorted({key.incident_id for key in pending})
    written = 0
    for start in range(0, len(incident_ids), MAX_INCIDENTS_PER_WRITE):
        chunk = incident_ids[start:start + MAX_INCIDENTS_PER_WRITE]
        async with db.write() as session:
            locked = await _candidates(
                session, policies, moment, lookback, only_ids=chunk, lock=True
            )
            still = await _pending(session, policies, locked, moment)
            for key, (incident, due, seconds) in sorted(
                still.items(), key=lambda item: (item[1][1], item[0].incident_id)
            ):
                _write_event(session, incident, key.kind, due, seconds, moment)
            written += len(still)
    if written:
        log.info("sla sweep wrote %d sla.breached event(s)", written)
    return written


class SlaSweeper(background.Periodic):
    """Runs `sweep_once` every `interval` seconds until stopped. The first sweep comes one
    interval after start-up (and looks back 30 days); later ones look back ten intervals."""

    def __init__(
        self, db: Database, interval: float, clock: Callable[[], datetime] = utcnow
    ) -> None:
        super().__init__(
            "seliq-sla-sweeper", interval, self._sweep, log=log, failure="sla sweep failed"
        )
        self.db = db
        self.clock = clock
        self._lookback = FIRST_LOOKBACK

    @property
    def sweeps(self) -> int:
        """Sweeps done since start-up, failed ones included."""
        return self.runs

    async def stop(self) -> None:
        await super().stop()
        self._lookback = FIRST_LOOKBACK  # started again, it looks back 30 days again

    async def _sweep(self) -> None:
        await sweep_once(self.db, now=self.clock(), lookback=self._lookback)
        self._lookback = max(MIN_LOOKBACK, timedelta(seconds=10 * self.interval))
