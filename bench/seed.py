"""Deterministic benchmark databases, built once and cached.

The schema comes from the gateway's own migrations; rows are written with raw `sqlite3`
(`executemany` in one transaction), in the storage format SQLAlchemy uses (datetimes as
`YYYY-MM-DD HH:MM:SS.ffffff` UTC text, JSON as `json.dumps` text), so the gateway reads them
exactly as rows it wrote itself. Ids are ULID-shaped like `gateway.domain.ids.new_id`, but derived
from
the row's time and a counter, so every build is byte-for-byte the same data.

Files are cached under `$SELIQ_BENCH_CACHE` (default `/tmp/seliq-bench`), keyed by the seed
version, the migration head and the sizes: a 1,000,000-alert database is built once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gateway.domain.tenancy.auth import KEY_PREFIX, hash_secret

SEED_VERSION = 1
BASE_TIME = datetime(2026, 1, 1)  # naive UTC, as SQLite stores it
WORKSPACE_ID = "ws_01bench0000000000000000000"
WORKSPACE_SLUG = "bench"
RATE_LIMIT = 1_000_000_000  # units per minute: the benchmark must never hit the limiter
KEY_ID = "key_01bench0000000000000000000"
TOKEN_ID = "whk_01bench0000000000000000000"
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
SEVERITIES = ("critical", "high", "medium", "low", "info")
SOURCES = ("prometheus", "grafana", "wazuh", "datadog")
ALERTNAMES = ("HighCPU", "DiskFull", "MemoryPressure", "ServiceDown", "TLSExpiry", "Latency")
ANALYSTS = ("ana", "bo", "chen", "dana", "eli", "fatou", "gus")
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")  # in the order they are reached


def _secret(prefix: str, label: str) -> str:
    digest = hashlib.sha256(f"seliq-bench:{label}".encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode().rstrip("=")


API_KEY = _secret(KEY_PREFIX, "api-key")
WEBHOOK_TOKEN = _secret("whk_", "webhook-token")


def cache_dir() -> Path:
    path = Path(os.environ.get("SELIQ_BENCH_CACHE", "/tmp/seliq-bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# Two Crockford base32 characters (10 bits) at a time: ids are made a million times per build.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _encode(value: int, length: int) -> str:
    """`value` in `length` (even) base32 characters, most significant first."""
    pairs = [_PAIRS[(value >> shift) & 1023] for shift in range(5 * length - 10, -1, -10)]
    return "".join(pairs)


_EPOCH = datetime(1970, 1, 1)


def ts(when: datetime) -> str:
    return when.isoformat(" ", "microseconds")


@dataclass(frozen=True)
class Shape:
    """How many rows: `incidents`, each with `alerts_per_incident` alerts (a fixed number, or 0
    for the varied 1..9 of the dashboard data), and either the full timeline or only the
    `incident.created` event (to keep a million-row build quick)."""

    name: str
    incidents: int
    alerts_per_incident: int = 0
    full_timeline: bool = True

    def alerts_of(self, index: int) -> int:
        return self.alerts_per_incident or 1 + (index * 7) % 9

    @property
    def total_alerts(self) -> int:
        return sum(self.alerts_of(i) for i in range(self.incidents))

    @property
    def file_name(self) -> str:
        from gateway.domain.storage import migrate

        head = migrate.head_revision() or "none"
        return (
            f"{self.name}-v{SEED_VERSION}-{head}-{self.incidents}x"
            f"{self.alerts_per_incident}{'f' if self.full_timeline else 'c'}.db"
        )


@dataclass(frozen=True)
class Dataset:
    path: Path
    shape: Shape

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"


def ensure(shape: Shape) -> Dataset:
    """The cached database for `shape`, built if missing."""
    path = cache_dir() / shape.file_name
    if not path.exists():
        _build(path, shape)
    return Dataset(path, shape)


def copy_to(dataset: Dataset, target: Path) -> Dataset:
    """A private copy (for runs that write, or to leave the cache untouched)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(dataset.path, target)
    return Dataset(target, dataset.shape)


def _build(path: Path, shape: Shape) -> None:
    from gateway.domain.storage import migrate

    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{tmp}"))
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        _fill(conn, shape)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    os.replace(tmp, path)


def _fill(conn: sqlite3.Connection, shape: Shape) -> None:
    created = ts(BASE_TIME - timedelta(days=1))
    conn.execute(
        "INSERT INTO workspaces (id, slug, name, tier, parent_id, rate_limit_per_minute, "
        "correlation_window_seconds, sla_policy, incident_seq, created_at) "
        "VALUES (?, ?, ?, 'enterprise', NULL, ?, 1800, NULL, ?, ?)",
        (WORKSPACE_ID, WORKSPACE_SLUG, "Bench Corp", RATE_LIMIT, shape.incidents, created),
    )
    conn.execute(
        "INSERT INTO api_keys (id, workspace_id, name, scope, secret_hash, secret_prefix, "
        "created_at, revoked_at) VALUES (?, ?, 'bench', 'write', ?, ?, ?, NULL)",
        (KEY_ID, WORKSPACE_ID, hash_secret(API_KEY), API_KEY[: len(KEY_PREFIX) + 4], created),
    )
    conn.execute(
        "INSERT INTO webhook_tokens (id, workspace_id, token_hash, created_at, revoked_at) "
        "VALUES (?, ?, ?, ?, NULL)",
        (TOKEN_ID, WORKSPACE_ID, hash_secret(WEBHOOK_TOKEN), created),
    )
    incidents: list[tuple[object, ...]] = []
    alerts: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    for batch_incidents, batch_alerts, batch_events in _rows(shape):
        incidents.extend(batch_incidents)
        alerts.extend(batch_alerts)
        events.extend(batch_events)
        if len(alerts) >= 50_000:
            _flush(conn, incidents, alerts, events)
    _flush(conn, incidents, alerts, events)


def _flush(
    conn: sqlite3.Connection,
    incidents: list[tuple[object, ...]],
    alerts: list[tuple[object, ...]],
    events: list[tuple[object, ...]],
) -> None:
    conn.executemany(
        "INSERT INTO incidents (id, workspace_id, number, title, status, severity, "
        "severity_manual, assignee, alert_count, group_key, created_at, updated_at, "
        "acknowledged_at, resolved_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
        incidents,
    )
    conn.executemany(
        "INSERT INTO alerts (id, workspace_id, incident_id, source, title, description, "
        "severity, status, fingerprint, labels, raw_payload, occurrences, first_seen_at, "
        "last_seen_at, received_at, resolved_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        alerts,
    )
    conn.executemany(
        "INSERT INTO timeline_events (id, workspace_id, incident_id, type, at, actor, message, "
        "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    incidents.clear()
    alerts.clear()
    events.clear()


def _rows(
    shape: Shape,
) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """Per incident: its row, its alerts and its timeline. Times only grow, so every index is
    filled in order (appends), which keeps a million-row build to seconds. Times are integer
    microseconds since the epoch until they are formatted, once each."""
    alert_seq = 0
    event_seq = 0
    base_us = (BASE_TIME - _EPOCH) // timedelta(microseconds=1)
    second = 1_000_000
    for index in range(shape.incidents):
        # An incident every 90 s; its alerts and events all fit in its first 75 s.
        created_us = base_us + index * 90 * second + ((index * 137) % 1000) * 1000
        created = _fmt(created_us)
        incident_id = _id("inc", created_us, index)
        severity = SEVERITIES[index % 5]
        status = INCIDENT_STATUSES[index % 3]
        analyst = ANALYSTS[index % 7]
        host = f"host-{index % 40:02d}"
        alertname = ALERTNAMES[index % len(ALERTNAMES)]
        source = SOURCES[index % len(SOURCES)]
        title = f"{alertname} on {host}"
        count = shape.alerts_of(index)
        labels = {"alertname": alertname, "host": host, "env": "prod"}
        labels_json = json.dumps(labels)
        payload_json = json.dumps({"title": title, "labels": labels})
        alert_status = "resolved" if status == "resolved" else "firing"
        alert_resolved = _fmt(created_us + 3600 * second) if status == "resolved" else None
        opened = f"opened by alert: {title}"
        attached = f"alert attached: {title}"
        alerts: list[tuple[object, ...]] = []
        events: list[tuple[object, ...]] = [(
            _id("evt", created_us, event_seq), WORKSPACE_ID, incident_id, "incident.created",
            created, "webhook", opened,
            json.dumps({"source": source}) if shape.full_timeline else "{}",
        )]
        event_seq += 1
        last_us = created_us
        for number in range(count):
            received_us = created_us + 7 * (number + 1) * second
            received_us += ((number * 53 + index) % 1000) * 1000
            received = _fmt(received_us)
            last_us = received_us
            alert_id = _id("alt", received_us, alert_seq)
            fingerprint = f"fp-{alert_seq:08d}"
            alerts.append((
                alert_id, WORKSPACE_ID, incident_id, source, f"{title} #{number}",
                f"{alertname} fired on {host} (check {number})",
                SEVERITIES[(index + number) % 5], alert_status, fingerprint, labels_json,
                payload_json, 1 + alert_seq % 3, received, received, received, alert_resolved,
            ))
            alert_seq += 1
            if shape.full_timeline:
                events.append((
                    _id("evt", received_us, event_seq), WORKSPACE_ID, incident_id,
                    "alert.attached", received, "webhook", attached,
                    json.dumps({"alert_id": alert_id, "fingerprint": fingerprint}),
                ))
                event_seq += 1
        # Acknowledged a moment after the last alert, resolved a second after that.
        reached: dict[str, str] = {}
        changes = ((second + index % 997, "triggered", "acknowledged"),
                   (second, "acknowledged", "resolved"))
        for step_us, before, after in changes[: INCIDENT_STATUSES.index(status)]:
            last_us += step_us
            reached[after] = _fmt(last_us)
            if shape.full_timeline:
                events.append((
                    _id("evt", last_us, event_seq), WORKSPACE_ID, incident_id, "status.changed",
                    reached[after], f"key:{analyst}", f"status changed to {after}",
                    json.dumps({"from": before, "to": after}),
                ))
                event_seq += 1
        acknowledged, resolved = reached.get("acknowledged"), reached.get("resolved")
        assignee = None if index % 4 == 0 else f"{analyst}@soc.example"
        incident = (
            incident_id, WORKSPACE_ID, index + 1, title, status, severity, assignee, count,
            f"{source}|{alertname}|{host}", created, _fmt(last_us), acknowledged, resolved,
        )
        yield [incident], alerts, events


def _fmt(micros: int) -> str:
    return ts(_EPOCH + timedelta(microseconds=micros))


def _id(prefix: str, micros: int, seq: int) -> str:
    return f"{prefix}_{_encode(micros // 1000, 10)}{_encode(seq, 16)}"


# The datasets of a run.
DASHBOARD = Shape("dashboard", 2_000)
INGEST = Shape("ingest", 0)


def t7_big(quick: bool) -> Shape:
    """1,000,000 alerts in 100,000 incidents (quick: a tenth), one workspace."""
    incidents = 10_000 if quick else 100_000
    return Shape("t7big", incidents, alerts_per_incident=10, full_timeline=False)


T7_SMALL = Shape("t7small", 100, alerts_per_incident=10, full_timeline=False)
