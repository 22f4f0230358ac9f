"""T6: alerts per second through the webhook at 16 concurrent senders, against a naive loop that
writes the same rows with one raw `sqlite3` transaction per alert at the same durability
(WAL, `synchronous=FULL`, one fsync per commit).

The alert stream is deterministic: each alert has a fresh fingerprint (no deduplication), and
alerts fall into a fixed set of groups (alert name x host), so the first alert of a group opens
an incident and the others join it. Per alert the gateway writes the alert, an `alert.attached`
event, the webhook delivery and the incident (inserted, with `incident.created` and the
workspace's incident number, or updated); the naive loop writes exactly those rows, and the
benchmark checks that both databases hold the same number of each afterwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from bench.procs import Worker, pin_self
from bench.queries import Request
from bench.seed import WEBHOOK_TOKEN, WORKSPACE_ID, WORKSPACE_SLUG, _encode, ts

ALERTNAMES = ("HighCPU", "DiskFull", "MemoryPressure", "ServiceDown", "TLSExpiry")
SEVERITY_OF = {"HighCPU": "high", "DiskFull": "critical", "MemoryPressure": "medium",
               "ServiceDown": "critical", "TLSExpiry": "low"}
HOSTS = 8
SOURCE = "bench"
COUNTED_TABLES = ("alerts", "incidents", "timeline_events", "webhook_deliveries")


@dataclass(frozen=True)
class AlertSpec:
    alertname: str
    host: str
    fingerprint: str

    @property
    def title(self) -> str:
        return f"{self.alertname} on {self.host}"

    @property
    def severity(self) -> str:
        return SEVERITY_OF[self.alertname]

    def body(self) -> bytes:
        return json.dumps({
            "title": self.title,
            "severity": self.severity,
            "source": SOURCE,
            "fingerprint": self.fingerprint,
            "labels": {"alertname": self.alertname, "host": self.host},
        }).encode()


def stream(round_index: int, count: int) -> list[AlertSpec]:
    """The alerts of one round (the same for the gateway and the naive loop)."""
    return [
        AlertSpec(
            ALERTNAMES[n % len(ALERTNAMES)],
            f"host-{(n // len(ALERTNAMES)) % HOSTS}",
            f"t6-{round_index}-{n}",
        )
        for n in range(count)
    ]


def webhook_requests(alerts: list[AlertSpec]) -> list[Request]:
    path = f"/webhook/{WORKSPACE_SLUG}/{WEBHOOK_TOKEN}"
    return [
        Request("webhook", "POST", path, (("Content-Type", "application/json"),), alert.body())
        for alert in alerts
    ]


def table_counts(database: Path) -> dict[str, int]:
    conn = sqlite3.connect(database)
    try:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in COUNTED_TABLES
        }
    finally:
        conn.close()


def fsync_ms(directory: Path, count: int = 200) -> float:
    """What one fsync costs where the databases live. The naive loop pays one per alert, group
    commit one per group, so the ratio depends on it: printed with T6 to read it by."""
    probe = directory / "fsync-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - started) / count * 1000
    finally:
        os.close(fd)
        probe.unlink()


class _Ids:
    def __init__(self) -> None:
        self.seq = int.from_bytes(os.urandom(6), "big")

    def new(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}_{_encode(int(time.time() * 1000), 10)}{_encode(self.seq, 16)}"


def naive_loop(database: Path, alerts: list[AlertSpec], groups: dict[str, str]) -> float:
    """Write `alerts` one raw transaction each; returns the seconds it took. `groups` maps a
    group key to its incident id and is kept across rounds, like the gateway's open incidents."""
    ids = _Ids()
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    started = time.perf_counter()
    for alert in alerts:
        now = ts(datetime.now(UTC).replace(tzinfo=None))
        body = alert.body()
        key = f"{SOURCE}|{alert.alertname}|{alert.host}"
        alert_id = ids.new("alt")
        conn.execute("BEGIN IMMEDIATE")
        incident_id = groups.get(key)
        if incident_id is None:
            incident_id = groups[key] = ids.new("inc")
            conn.execute(
                "UPDATE workspaces SET incident_seq = incident_seq + 1 WHERE id = ?",
                (WORKSPACE_ID,),
            )
            number = conn.execute(
                "SELECT incident_seq FROM workspaces WHERE id = ?", (WORKSPACE_ID,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO incidents (id, workspace_id, number, title, status, severity, "
                "severity_manual, assignee, alert_count, group_key, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'triggered', ?, 0, NULL, 1, ?, ?, ?)",
                (incident_id, WORKSPACE_ID, number, alert.title, alert.severity, key, now, now),
            )
            conn.execute(
                "INSERT INTO timeline_events (id, workspace_id, incident_id, type, at, actor, "
                "message, data) VALUES (?, ?, ?, 'incident.created', ?, 'webhook', ?, ?)",
                (ids.new("evt"), WORKSPACE_ID, incident_id, now,
                 f"opened by alert: {alert.title}",
                 json.dumps({"alert_id": alert_id, "source": SOURCE, "group_key": key})),
            )
        else:
            conn.execute(
                "UPDATE incidents SET alert_count = alert_count + 1, updated_at = ? "
                "WHERE id = ?",
                (now, incident_id),
            )
        labels = json.dumps({"alertname": alert.alertname, "host": alert.host})
        conn.execute(
            "INSERT INTO alerts (id, workspace_id, incident_id, source, title, description, "
            "severity, status, fingerprint, labels, raw_payload, occurrences, first_seen_at, "
            "last_seen_at, received_at) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?, 'firing', ?, ?, ?, 1, ?, ?, ?)",
            (alert_id, WORKSPACE_ID, incident_id, SOURCE, alert.title, alert.severity,
             alert.fingerprint, labels, body.decode(), now, now, now),
        )
        conn.execute(
            "INSERT INTO timeline_events (id, workspace_id, incident_id, type, at, actor, "
            "message, data) VALUES (?, ?, ?, 'alert.attached', ?, 'webhook', ?, ?)",
            (ids.new("evt"), WORKSPACE_ID, incident_id, now, f"alert attached: {alert.title}",
             json.dumps({"alert_id": alert_id, "fingerprint": alert.fingerprint})),
        )
        conn.execute(
            "INSERT INTO webhook_deliveries (id, workspace_id, received_at, request_id, "
            "size_bytes, format, status_code, accepted, alert_ids, incident_ids, outcomes) "
            "VALUES (?, ?, ?, ?, ?, 'generic', 202, 1, ?, ?, ?)",
            (ids.new("dlv"), WORKSPACE_ID, now, ids.new("req"), len(body),
             json.dumps([alert_id]), json.dumps([incident_id]), json.dumps(["created"])),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _naive_worker(conn: Connection, database: str, core: int | None) -> None:
    pin_self(core)
    groups: dict[str, str] = {}
    while True:
        message = conn.recv()
        if message is None:
            break
        round_index, count = message
        conn.send(naive_loop(Path(database), stream(round_index, count), groups))


class NaiveLoop(Worker):
    """The naive loop in its own process on the server core (the gateway's core), so it gets
    the same single core the gateway does."""

    def __init__(self, database: Path, core: int | None) -> None:
        super().__init__(_naive_worker, str(database), core)

    def run(self, round_index: int, count: int) -> float:
        elapsed: float = self.ask((round_index, count))
        return elapsed
