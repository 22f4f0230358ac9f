"""Crash test: the real executable serves a SQLite file, several clients post alerts (single and
batched), the server is killed with SIGKILL mid-stream and restarted. Every alert that got a 2xx
is on disk exactly once, with its timeline event and its delivery-log row, and no incident is
left without its alert."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.procs import EXECUTABLE, cli_env, free_port, run_cli

CLIENTS = 8
TARGET_ACKNOWLEDGED = 150


@contextmanager
def serving(database_url: str, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`seliq-gateway serve` on a free port, output to a file (a pipe nobody drains could
    block the server), until the block ends (or the test kills it first)."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [EXECUTABLE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=cli_env(database_url, SELIQ_LOG_LEVEL="WARNING"),
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _client(
    number: int, url: str, acknowledged: dict[str, str], stop: asyncio.Event
) -> int:
    """Post until told to stop or the server is gone; remember what got a 2xx."""
    sent = 0
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while not stop.is_set():
            sent += 1
            size = 3 if sent % 4 == 0 else 1
            alerts = [
                {
                    "title": f"Crash alert {(sent + i) % 5}",
                    "fingerprint": f"c{number}-{sent}-{i}",
                    "severity": "high",
                    "labels": {"host": f"h{number % 3}"},
                }
                for i in range(size)
            ]
            body: dict[str, Any] = alerts[0] if size == 1 else {"alerts": alerts}
            try:
                async with http.post(url, json=body) as response:
                    if 200 <= response.status < 300:
                        reply = await response.json()
                        for alert, alert_id in zip(alerts, reply["alerts"], strict=True):
                            acknowledged[str(alert["fingerprint"])] = alert_id
            except (aiohttp.ClientError, TimeoutError):
                return sent
    return sent


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


async def test_kill_9_mid_stream(tmp_path: Path) -> None:
    db_path = tmp_path / "crash.db"
    database_url = f"sqlite+aiosqlite:///{db_path}"
    log = tmp_path / "server.log"
    run_cli(database_url, "workspace", "create", "crashco", "--name", "Crash Co",
            "--tier", "enterprise", "--rate-limit", "1000000")
    hook = run_cli(database_url, "webhook", "create", "--workspace", "crashco")["webhook"]
    path = "/webhook/" + hook["url"].split("/webhook/", 1)[1]

    acknowledged: dict[str, str] = {}
    with serving(database_url, log) as (process, url):
        stop = asyncio.Event()
        clients = [
            asyncio.create_task(_client(n, url + path, acknowledged, stop))
            for n in range(CLIENTS)
        ]
        deadline = time.monotonic() + 30
        while len(acknowledged) < TARGET_ACKNOWLEDGED and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        process.kill()  # SIGKILL, with requests in flight
        process.wait()
        stop.set()
        sent = await asyncio.gather(*clients)
    assert len(acknowledged) >= TARGET_ACKNOWLEDGED, (len(acknowledged), log.read_text())
    assert sum(sent) > len(acknowledged) // 3

    with serving(database_url, log) as (_, url):
        # The restarted server found everything that was acknowledged, exactly once.
        rows = _query(db_path, "SELECT fingerprint, id FROM alerts")
        on_disk: dict[str, list[str]] = {}
        for fingerprint, alert_id in rows:
            on_disk.setdefault(fingerprint, []).append(alert_id)
        for fingerprint, alert_id in acknowledged.items():
            assert on_disk.get(fingerprint) == [alert_id], fingerprint
        assert all(len(ids) == 1 for ids in on_disk.values())
        # No incident without its alerts, and the denormalised count agrees.
        assert _query(db_path, """
            SELECT i.id FROM incidents i LEFT JOIN alerts a ON a.incident_id = i.id
            GROUP BY i.id HAVING count(a.id) = 0 OR count(a.id) != max(i.alert_count)
        """) == []
        # Every alert has its timeline event, every incident its creation event.
        assert _query(db_path, """
            SELECT a.id FROM alerts a WHERE NOT EXISTS (
              SELECT 1 FROM timeline_events e
              WHERE e.type = 'alert.attached' AND json_extract(e.data, '$.alert_id') = a.id)
        """) == []
        assert _query(db_path, """
            SELECT i.id FROM incidents i WHERE NOT EXISTS (
              SELECT 1 FROM timeline_events e
              WHERE e.type = 'incident.created' AND e.incident_id = i.id)
        """) == []
        # Incident numbers: unique, and the workspace counter covers them.
        ((numbers, distinct, top, seq),) = _query(db_path, """
            SELECT count(*), count(DISTINCT number), max(number),
                   (SELECT incident_seq FROM workspaces WHERE slug = 'crashco')
            FROM incidents
        """)
        assert numbers == distinct and top == seq
        # Each acknowledged alert is in the delivery log row written with it.
        logged = {
            alert_id
            for (ids,) in _query(db_path, "SELECT alert_ids FROM webhook_deliveries")
            for alert_id in json.loads(ids)
        }
        assert set(acknowledged.values()) <= logged
        assert _query(db_path, "PRAGMA integrity_check") == [("ok",)]

        # And it keeps working: a retry of an acknowledged alert is deduplicated, not doubled.
        fingerprint, alert_id = next(iter(acknowledged.items()))
        async with aiohttp.ClientSession() as http, http.post(
            url + path, json={"title": "retry", "fingerprint": fingerprint}
        ) as response:
            assert response.status == 202
            reply = await response.json()
        assert reply["alerts"] == [alert_id]
        assert reply["results"][0]["outcome"] == "deduplicated"
