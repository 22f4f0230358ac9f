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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.incidents import incidents
from gateway.domain.ingest import correlation, lookups
from gateway.domain.ingest.normalize import AlertIn
from gateway.domain.storage.models import Alert, Incident, Workspace
from gateway.domain.timeutil import to_utc, utcnow

SESSION_KEY = "seliq_ingest_prefetch"


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

    def next_number(self) -> int:
        """The workspace's next incident number. Its row is locked by this transaction (and
        loaded fresh by `prefetch`), so counting on it in memory is what `next_number` would
        do in the database: the new value goes out with the group's other writes."""
        self.workspace.incident_seq += 1
        return self.workspace.incident_seq

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


def forget(session: AsyncSession, workspace_id: str) -> None:
    session.info.get(SESSION_KEY, {}).pop(workspace_id, None)


async def prefetch(session: AsyncSession, alerts: dict[str, list[AlertIn]]) -> None:
    """Lock each workspace (in id order, so two groups never wait on each other crosswise) and
    read what its alerts will ask. `alerts` maps workspace id -> the group's alerts for it."""
    caches: dict[str, WorkspaceCache] = session.info.setdefault(SESSION_KEY, {})
    for workspace_id in sorted(alerts):
        workspace = await lookups.locked_workspace(session, workspace_id)
        if workspace is None:
            continue  # the pipeline raises NotFound for it, as alone
        cache = WorkspaceCache(workspace)
        firing = [item for item in alerts[workspace_id] if item.status != "resolved"]
        await _prefetch_firing(session, cache, {item.fingerprint for item in firing})
        labels = correlation.labels_of(workspace)
        await _prefetch_open(session, cache, {correlation.group_key(i, labels) for i in firing})
        caches[workspace_id] = cache


async def _prefetch_firing(
    session: AsyncSession, cache: WorkspaceCache, fingerprints: Iterable[str]
) -> None:
    wanted = sorted(fingerprints)
    if not wanted:
        return
    found = await session.execute(
        lookups.FIRING_BY_FINGERPRINTS,
        {"workspace_id": cache.workspace.id, "fingerprints": wanted},
    )
    cache.firing = dict.fromkeys(wanted)
    cache.firing.update(lookups.newest(found.scalars()))
    incident_ids = sorted({a.incident_id for a in cache.firing.values() if a and a.incident_id})
    # Locked and re-read, as `_locked_incident` does for one alert; afterwards the pipeline
    # finds them in the session without asking again.
    await incidents.incidents_by_ids(session, cache.workspace.id, incident_ids, for_update=True)


async def _prefetch_open(session: AsyncSession, cache: WorkspaceCache, keys: set[str]) -> None:
    window = cache.workspace.correlation_window_seconds
    if not keys or window <= 0:
        return
    cache.since = utcnow() - timedelta(seconds=window)
    wanted = sorted(keys)
    found = await session.execute(
        lookups.OPEN_BY_GROUP_KEYS,
        {"workspace_id": cache.workspace.id, "cutoff": cache.since, "group_keys": wanted},
    )
    cache.open_incidents = dict.fromkeys(wanted)
    for incident in found.scalars():
        if incident.group_key is not None and cache.open_incidents[incident.group_key] is None:
            cache.open_incidents[incident.group_key] = incident
