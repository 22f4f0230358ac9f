"""What a group of ingest requests needs from the database, read once for the whole group.

Alone, each alert asks three questions with a statement each: is there a firing alert with this
fingerprint (and which incident is it in), and is there an open incident for its group key. When
requests commit together (`gateway.domain.storage.group_commit`), `prefetch` asks them once per
workspace for
every alert of the group: one statement for the fingerprints, one for the group keys, one for
the incidents of the duplicates, the rows locked as the single-request path locks them. The
pipeline then answers from this cache and keeps it current as it creates alerts and incidents,
so the group writes what the same requests would have written one by one.

A resolution changes which alerts are firing and which incidents are open in ways the cache does
not follow, so after one the workspace's cache is dropped and the rest of the group asks the
database again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from gateway.domain.ingest import correlation, lookups
from gateway.domain.ingest.normalize import AlertIn
from gateway.domain.storage import direct
from gateway.domain.storage.models import Alert, Incident, Workspace
from gateway.domain.timeutil import to_utc, utcnow

SESSION_KEY = "seliq_ingest_prefetch"
M = TypeVar("M", bound=SQLModel)


@dataclass
class WorkspaceCache:
    """The answers for one workspace, kept current by the pipeline during the group."""

    workspace: Workspace
    # fingerprint -> the newest firing alert in an open (or no) incident; None: there is none.
    firing: dict[str, Alert | None] = field(default_factory=dict)
    # group key -> the newest open incident opened at or after `since`; None: there is none.
    open_incidents: dict[str, Incident | None] = field(default_factory=dict)
    since: datetime | None = None
    # The incidents this group opened, by id (the alerts deduplicated into theirs find them).
    created: dict[str, Incident] = field(default_factory=dict)
    # The incidents read (locked) for the group, by id: those of the firing alerts, and the open
    # incidents of its group keys.
    incidents: dict[str, Incident] = field(default_factory=dict)

    def next_number(self) -> int:
        """The workspace's next incident number. Its row is locked by this transaction (and
        loaded fresh by `prefetch`), so counting on it in memory is what `next_number` would
        do in the database: the new value goes out with the group's other writes."""
        self.workspace.incident_seq += 1
        return self.workspace.incident_seq

    def read_rows(self) -> list[SQLModel]:
        """The rows `prefetch` read (and watches): the workspace, the incidents and the firing
        alerts (the pipeline adds alerts it makes to `firing`; they are no watched rows)."""
        firing = [alert for alert in self.firing.values() if alert is not None]
        return [self.workspace, *self.incidents.values(), *firing]

    def incident(self, incident_id: str | None) -> Incident | None:
        """An incident the group read or made (a firing alert's: `prefetch` read them all)."""
        if incident_id is None:
            return None
        return self.created.get(incident_id) or self.incidents.get(incident_id)

    def knows_group(self, key: str) -> bool:
        return self.since is not None and key in self.open_incidents

    def open_incident(self, key: str, now: datetime) -> Incident | None:
        """The incident `key` joins at `now` (call when `knows_group(key)`). The prefetch took
        the newest open incident since its own, earlier, cutoff: if that one is older than this
        alert's cutoff, no other qualifies either."""
        incident = self.open_incidents[key]
        window = timedelta(seconds=self.workspace.correlation_window_seconds)
        if incident is None or to_utc(incident.created_at) < to_utc(now) - window:
            return None
        return incident


def cache_for(session: AsyncSession, workspace_id: str) -> WorkspaceCache | None:
    caches: dict[str, WorkspaceCache] = session.info.get(SESSION_KEY, {})
    return caches.get(workspace_id)


async def forget(session: AsyncSession, workspace_id: str) -> None:
    """Drop the workspace's cache: what its rows changed is written (a flush), and they are no
    longer watched (every later flush would compare them again, and nothing changes them)."""
    cache: WorkspaceCache | None = session.info.get(SESSION_KEY, {}).pop(workspace_id, None)
    await session.flush()
    if cache is not None:
        direct.unwatch(session, cache.read_rows())


async def prefetch(session: AsyncSession, alerts: dict[str, list[AlertIn]]) -> None:
    """Lock each workspace (in id order, so two groups never wait on each other crosswise) and
    read what its alerts will ask. `alerts` maps workspace id -> the group's alerts for it.
    The rows are read without the ORM and their changes written at the flush
    (`gateway.domain.storage.direct`)."""
    caches: dict[str, WorkspaceCache] = session.info.setdefault(SESSION_KEY, {})
    for workspace_id in sorted(alerts):
        found = await direct.load(
            session, Workspace, lookups.locked_workspace_row(), {"workspace_id": workspace_id}
        )
        if not found:
            continue  # the pipeline raises NotFound for it, as alone
        cache = WorkspaceCache(found[0])
        firing = [item for item in alerts[workspace_id] if item.status != "resolved"]
        await _prefetch_firing(session, cache, {item.fingerprint for item in firing})
        labels = correlation.labels_of(cache.workspace)
        await _prefetch_open(session, cache, {correlation.group_key(i, labels) for i in firing})
        direct.watch(session, cache.read_rows())
        caches[workspace_id] = cache


async def _load_in_pieces(
    session: AsyncSession,
    model: type[M],
    statement_of: Callable[[int], Select[Any]],
    values: list[str],
    others: dict[str, Any],
) -> list[M]:
    rows: list[M] = []
    for piece in lookups.pieces(values):
        statement = statement_of(lookups.in_size(len(piece)))
        rows += await direct.load(session, model, statement, {**others, **lookups.in_values(piece)})
    return rows


async def _prefetch_firing(
    session: AsyncSession, cache: WorkspaceCache, fingerprints: Iterable[str]
) -> None:
    wanted = sorted(fingerprints)
    if not wanted:
        return
    workspace = {"workspace_id": cache.workspace.id}
    found = await _load_in_pieces(
        session, Alert, lookups.firing_by_fingerprints, wanted, workspace
    )
    cache.firing = dict.fromkeys(wanted)
    cache.firing.update(lookups.newest(found))
    incident_ids = sorted({a.incident_id for a in cache.firing.values() if a and a.incident_id})
    # Locked and re-read, as `_locked_incident` does for one alert.
    if incident_ids:
        for incident in await _load_in_pieces(
            session, Incident, lookups.locked_incidents_by_ids, incident_ids, workspace
        ):
            cache.incidents[incident.id] = incident


async def _prefetch_open(session: AsyncSession, cache: WorkspaceCache, keys: set[str]) -> None:
    window = cache.workspace.correlation_window_seconds
    if not keys or window <= 0:
        return
    cache.since = utcnow() - timedelta(seconds=window)
    wanted = sorted(keys)
    found = await _load_in_pieces(
        session, Incident, lookups.open_by_group_keys, wanted,
        {"workspace_id": cache.workspace.id, "cutoff": cache.since},
    )
    cache.open_incidents = dict.fromkeys(wanted)
    for incident in found:
        key = incident.group_key
        if key is None:
            continue
        incident = cache.incidents.setdefault(incident.id, incident)  # one object per row
        kept = cache.open_incidents[key]
        if kept is None or (incident.created_at, incident.id) > (kept.created_at, kept.id):
            cache.open_incidents[key] = incident
