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

import asyncio
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from bench.loadgen import _exchange, _open
from bench.procs import Worker, pin_self
from bench.queries import Request
from bench.seed import RATE_LIMIT, WEBHOOK_TOKEN, WORKSPACE_ID, WORKSPACE_SLUG, _encode, ts
from gateway.domain.tenancy.auth import hash_secret
from gateway.service.processes import event_loop_factory

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


# ---- T11: one 1,000-alert batch that opens new incidents, against a raw executemany ---------

T11_BATCH = 1000


def new_incident_batch(round_index: int, size: int = T11_BATCH) -> list[AlertSpec]:
    """`size` alerts with a host each: every alert opens an incident of its own."""
    return [
        AlertSpec(ALERTNAMES[n % len(ALERTNAMES)], f"t11-{round_index}-{n}",
                  f"t11-{round_index}-{n}")
        for n in range(size)
    ]


def batch_body(alerts: list[AlertSpec]) -> bytes:
    return json.dumps({"alerts": [json.loads(alert.body()) for alert in alerts]}).encode()


def batch_request(alerts: list[AlertSpec], slug: str = WORKSPACE_SLUG,
                  token: str = WEBHOOK_TOKEN) -> Request:
    return Request("webhook batch", "POST", f"/webhook/{slug}/{token}",
                   (("Content-Type", "application/json"),), batch_body(alerts))


def raw_batch(database: Path, alerts: list[AlertSpec]) -> float:
    """Write what the gateway writes for one batch of new-incident alerts (an incident, its
    `incident.created` and `alert.attached` events and the alert per item, the workspace's
    incident numbers, one delivery row) with `executemany`, in ONE transaction at the gateway's
    durability; returns the seconds it took, building the rows included."""
    ids = _Ids()
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    started = time.perf_counter()
    now = ts(datetime.now(UTC).replace(tzinfo=None))
    conn.execute("BEGIN IMMEDIATE")
    first = conn.execute(
        "UPDATE workspaces SET incident_seq = incident_seq + ? WHERE id = ? "
        "RETURNING incident_seq", (len(alerts), WORKSPACE_ID),
    ).fetchone()[0] - len(alerts) + 1
    incidents, rows, events = [], [], []
    alert_ids, incident_ids = [], []
    for n, alert in enumerate(alerts):
        key = f"{SOURCE}|{alert.alertname}|{alert.host}"
        alert_id, incident_id = ids.new("alt"), ids.new("inc")
        alert_ids.append(alert_id)
        incident_ids.append(incident_id)
        incidents.append((incident_id, WORKSPACE_ID, first + n, alert.title, alert.severity, key,
                          now, now))
        rows.append((alert_id, WORKSPACE_ID, incident_id, SOURCE, alert.title, alert.severity,
                     alert.fingerprint,
                     json.dumps({"alertname": alert.alertname, "host": alert.host}),
                     alert.body().decode(), now, now, now))
        events.append((ids.new("evt"), WORKSPACE_ID, incident_id, "incident.created", now,
                       f"opened by alert: {alert.title}",
                       json.dumps({"alert_id": alert_id, "source": SOURCE, "group_key": key})))
        events.append((ids.new("evt"), WORKSPACE_ID, incident_id, "alert.attached", now,
                       f"alert attached: {alert.title}",
                       json.dumps({"alert_id": alert_id, "fingerprint": alert.fingerprint})))
    conn.executemany(
        "INSERT INTO incidents (id, workspace_id, number, title, status, severity, "
        "severity_manual, assignee, alert_count, group_key, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 'triggered', ?, 0, NULL, 1, ?, ?, ?)", incidents,
    )
    conn.executemany(
        "INSERT INTO alerts (id, workspace_id, incident_id, source, title, description, "
        "severity, status, fingerprint, labels, raw_payload, occurrences, first_seen_at, "
        "last_seen_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?, 'firing', ?, ?, ?, 1, ?, ?, ?)", rows,
    )
    conn.executemany(
        "INSERT INTO timeline_events (id, workspace_id, incident_id, type, at, actor, "
        "message, data) VALUES (?, ?, ?, ?, ?, 'webhook', ?, ?)", events,
    )
    conn.execute(
        "INSERT INTO webhook_deliveries (id, workspace_id, received_at, request_id, "
        "size_bytes, format, status_code, accepted, alert_ids, incident_ids, outcomes) "
        "VALUES (?, ?, ?, ?, ?, 'batch', 202, ?, ?, ?, ?)",
        (ids.new("dlv"), WORKSPACE_ID, now, ids.new("req"), len(batch_body(alerts)),
         len(alerts), json.dumps(alert_ids), json.dumps(incident_ids),
         json.dumps(["created"] * len(alerts))),
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _raw_batch_worker(conn: Connection, database: str, core: int | None) -> None:
    pin_self(core)
    while True:
        message = conn.recv()
        if message is None:
            break
        conn.send(raw_batch(Path(database), new_incident_batch(message)))


class RawBatch(Worker):
    """T11's raw side in its own process on the server core, as the naive loop is for T6."""

    def __init__(self, database: Path, core: int | None) -> None:
        super().__init__(_raw_batch_worker, str(database), core)

    def run(self, round_index: int) -> float:
        elapsed: float = self.ask(round_index)
        return elapsed


# ---- T12: fairness between two tenants -------------------------------------------------------

T12_WORKSPACE_ID = "ws_01bench0000000000000000012"
T12_SLUG = "bench-quiet"
T12_TOKEN_ID = "whk_01bench0000000000000000012"
T12_TOKEN = "whk_bench-quiet-token-for-the-fairness-run-t12"
T12_SENDERS = 6  # tenant A's concurrent 1,000-alert batches
T12_SINGLES = 20  # tenant B's single alerts, one after another
T12_BATCHES = 48  # distinct batches A cycles through


def add_quiet_tenant(database: Path) -> None:
    """Tenant B of T12: a second workspace with its own webhook URL, next to the bench one."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        created = ts(datetime(2025, 12, 31))
        conn.execute(
            "INSERT OR IGNORE INTO workspaces (id, slug, name, tier, parent_id, "
            "rate_limit_per_minute, correlation_window_seconds, sla_policy, incident_seq, "
            "created_at) VALUES (?, ?, 'Quiet Corp', 'enterprise', NULL, ?, 1800, NULL, 0, ?)",
            (T12_WORKSPACE_ID, T12_SLUG, RATE_LIMIT, created),
        )
        conn.execute(
            "INSERT OR IGNORE INTO webhook_tokens (id, workspace_id, token_hash, created_at, "
            "revoked_at) VALUES (?, ?, ?, ?, NULL)",
            (T12_TOKEN_ID, T12_WORKSPACE_ID, hash_secret(T12_TOKEN), created),
        )
    finally:
        conn.close()


def storm_requests(count: int = T12_BATCHES) -> list[bytes]:
    """Tenant A's batches: 1,000 new alerts each over T6's alert names and hosts (the first
    opens a few incidents, the rest join them), pre-encoded for the load generator."""
    requests = []
    for number in range(count):
        alerts = [
            AlertSpec(ALERTNAMES[n % len(ALERTNAMES)], f"host-{(n // len(ALERTNAMES)) % HOSTS}",
                      f"t12-{number}-{n}")
            for n in range(T11_BATCH)
        ]
        requests.append(batch_request(alerts).encode(HOST_HEADER))
    return requests


def single_requests(count: int = T12_SINGLES, offset: int = 0) -> list[bytes]:
    path = f"/webhook/{T12_SLUG}/{T12_TOKEN}"
    return [
        Request("webhook", "POST", path, (("Content-Type", "application/json"),),
                AlertSpec("ServiceDown", "quiet-host", f"t12-quiet-{offset + n}").body())
        .encode(HOST_HEADER)
        for n in range(count)
    ]


HOST_HEADER = "127.0.0.1"


@dataclass
class Fairness:
    single_latencies: list[float]
    single_statuses: list[int]
    storm_statuses: dict[int, int]


async def fairness(host: str, port: int, storm: list[bytes], singles: list[bytes],
                   senders: int = T12_SENDERS) -> Fairness:
    """A's `senders` post batches in a loop while B posts its singles one after another."""
    stop = asyncio.Event()
    storm_statuses: Counter[int] = Counter()
    sent = 0

    async def storm_sender() -> None:
        nonlocal sent
        reader, writer = await _open(host, port)
        try:
            while not stop.is_set():
                payload = storm[sent % len(storm)]
                sent += 1
                status, _, _ = await _exchange(reader, writer, payload)
                storm_statuses[status] += 1
        finally:
            writer.close()

    storm_tasks = [asyncio.create_task(storm_sender()) for _ in range(senders)]
    await asyncio.sleep(0.5)  # A's batches are in flight and queued
    latencies, statuses = [], []
    reader, writer = await _open(host, port)
    try:
        for payload in singles:
            started = time.perf_counter()
            status, _, _ = await _exchange(reader, writer, payload)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
    finally:
        writer.close()
        stop.set()
    await asyncio.gather(*storm_tasks)
    return Fairness(latencies, statuses, dict(storm_statuses))


def _fairness_worker(conn: Connection, core: int | None) -> None:
    pin_self(core)
    loop = (event_loop_factory() or asyncio.new_event_loop)()
    storm = storm_requests()
    while True:
        message = conn.recv()
        if message is None:
            break
        host, port, count = message
        conn.send(loop.run_until_complete(
            fairness(host, port, storm, single_requests(count, offset=sent_singles(host, port)))
        ))
    loop.close()


_sent_singles: Counter[tuple[str, int]] = Counter()


def sent_singles(host: str, port: int) -> int:
    """Fresh fingerprints for every run against one server."""
    _sent_singles[(host, port)] += 1000
    return _sent_singles[(host, port)]


class FairnessDriver(Worker):
    """T12's two tenants, driven from the load generator's core."""

    def __init__(self, core: int | None) -> None:
        super().__init__(_fairness_worker, core)

    def run(self, host: str, port: int, singles: int = T12_SINGLES) -> Fairness:
        result: Fairness = self.ask((host, port, singles))
        return result
