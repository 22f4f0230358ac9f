"""Several real `seliq-gateway serve` processes on one PostgreSQL database of their own:

- a subscriber connected to process B receives, within a second, the events of alerts ingested
  through process A (REST and webhook), and a workspace's subscriber never sees another's;
- with `serve --workers 2`, report jobs and SLA sweeps run exactly once;
- SIGTERM during a stream of ingests: every alert that got a 2xx is stored, subscriptions are
  closed with 1001, and the process exits 0 (also for one process on SQLite);
- the supervisor restarts a worker that dies, and refuses what it cannot run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Alert, Report, TimelineEvent, Workspace
from gateway.domain.timeutil import utcnow
from tests.scale.conftest import Gateway, ScaleDatabase, start_gateway
from tests.support.procs import EXECUTABLE, cli_env, free_port, run_cli
from tests.support.sla import incident_at
from tests.support.wsclient import ConnectionClosed, WSClient, connect

EVENTS = "subscription($ws: ID) { incidentEvents(workspaceId: $ws) { id type data " \
    "incident { id title } } }"
ALERTS = "subscription($ws: ID) { alertsIngested(workspaceId: $ws) { outcome alert { id title } } }"
REPORTS = "subscription { reportCompleted { id status } }"


class Inbox:
    """Every message one WebSocket client receives, read in the background."""

    def __init__(self, client: WSClient) -> None:
        self.client = client
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Condition()
        self.closed_code: int | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                message = await self.client.receive(within=3600)
                async with self.arrived:
                    self.messages.append(message)
                    self.arrived.notify_all()
        except ConnectionClosed as closed:
            self.closed_code = closed.code
            async with self.arrived:
                self.arrived.notify_all()

    def payloads(self, operation_id: str) -> list[dict[str, Any]]:
        return [m["payload"]["data"] for m in self.messages
                if m.get("id") == operation_id and m["type"] == "next"]

    async def wait_for(self, check: Any, within: float = 10.0) -> Any:
        async with asyncio.timeout(within), self.arrived:
            while True:
                found = check(self)
                if found:
                    return found
                if self.closed_code is not None:
                    raise AssertionError(f"closed with {self.closed_code}: {self.messages}")
                await self.arrived.wait()

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def alert_titles(inbox: Inbox, operation_id: str) -> list[str]:
    return [p["alertsIngested"]["alert"]["title"] for p in inbox.payloads(operation_id)]


async def post_alert(http: aiohttp.ClientSession, url: str, key: str, title: str) -> str:
    async with http.post(f"{url}/v1/alerts", json={"title": title, "fingerprint": title},
                         headers={"Authorization": f"Bearer {key}"}) as response:
        body = await response.json()
        assert response.status == 201, body
        return str(body["id"])


async def subscribe(http: aiohttp.ClientSession, url: str, key: str,
                    operations: dict[str, tuple[str, dict[str, Any]]]) -> tuple[Any, Inbox]:
    context = connect(http, url)
    client = await context.__aenter__()
    ack = await client.init(key)
    assert ack["type"] == "connection_ack", ack
    for operation_id, (query, variables) in operations.items():
        await client.subscribe(operation_id, query, variables)
    return context, Inbox(client)


async def warm_up(http: aiohttp.ClientSession, ingest_url: str, key: str, inbox: Inbox,
                  operation_id: str, label: str) -> None:
    """Post through `ingest_url` until `inbox` hears of one: the subscription is registered
    and its process is listening. (graphql-transport-ws does not acknowledge subscriptions.)"""
    for attempt in range(100):
        title = f"{label}-warm-up-{attempt}"
        await post_alert(http, ingest_url, key, title)
        try:
            await inbox.wait_for(
                lambda box, t=title: t in alert_titles(box, operation_id), 0.3  # type: ignore[misc]
            )
            return
        except TimeoutError:
            continue
    raise AssertionError("the subscription never received anything")


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# --- a subscriber on B sees what is ingested through A --------------------------------------------


async def test_a_subscriber_on_one_process_sees_alerts_ingested_through_another(
    scale_pg: ScaleDatabase, tmp_path: Path
) -> None:
    a = start_gateway(scale_pg.url, tmp_path / "a.log")
    b = start_gateway(scale_pg.url, tmp_path / "b.log")
    hook = run_cli(scale_pg.url, "webhook", "create", "--workspace", "acme")["webhook"]
    hook_path = urlsplit(hook["url"]).path
    keys = scale_pg.keys
    try:
        async with aiohttp.ClientSession() as http:
            acme_ctx, acme = await subscribe(http, b.url, keys["acme"], {
                "alerts": (ALERTS, {}), "events": (EVENTS, {}),
            })
            mssp_ctx, mssp = await subscribe(http, b.url, keys["mssp"], {
                "alerts": (ALERTS, {"ws": "acme"}),
            })
            other_ctx, other = await subscribe(http, b.url, keys["other"], {
                "alerts": (ALERTS, {}), "events": (EVENTS, {}),
            })
            await warm_up(http, a.url, keys["acme"], acme, "alerts", "acme")
            await warm_up(http, a.url, keys["acme"], mssp, "alerts", "acme-mssp")
            await warm_up(http, a.url, keys["other"], other, "alerts", "other")

            latencies = []
            for number in range(5):
                title = f"acme-measured-{number}"
                alert_id = await post_alert(http, a.url, keys["acme"], title)
                answered = time.monotonic()

                def arrived(box: Inbox, title: str = title, alert_id: str = alert_id) -> bool:
                    attached = [
                        p for p in box.payloads("events")
                        if p["incidentEvents"]["data"].get("alert_id") == alert_id
                        and p["incidentEvents"]["type"] == "ALERT_ATTACHED"
                    ]
                    return title in alert_titles(box, "alerts") and bool(attached)

                await acme.wait_for(arrived, within=5)
                latencies.append(time.monotonic() - answered)
                await mssp.wait_for(lambda box, t=title: t in alert_titles(box, "alerts"), 5)

            # The webhook door, through A, too.
            async with http.post(f"{a.url}{hook_path}", json={"title": "acme-by-webhook"}) as r:
                assert r.status == 202, await r.text()
            sent = time.monotonic()
            await acme.wait_for(lambda box: "acme-by-webhook" in alert_titles(box, "alerts"), 5)
            latencies.append(time.monotonic() - sent)

            # `other` heard only of its own alerts, and acme of its own.
            await post_alert(http, a.url, keys["other"], "other-last")
            await other.wait_for(lambda box: "other-last" in alert_titles(box, "alerts"), 5)
            await asyncio.sleep(0.3)
            assert all(t.startswith("other-") for t in alert_titles(other, "alerts"))
            assert all(
                p["incidentEvents"]["incident"]["title"].startswith("other-")
                for p in other.payloads("events")
            )
            assert all(t.startswith("acme-") for t in alert_titles(acme, "alerts"))
            assert all(t.startswith("acme-") for t in alert_titles(mssp, "alerts"))
            for inbox, context in ((acme, acme_ctx), (mssp, mssp_ctx), (other, other_ctx)):
                await inbox.stop()
                await context.__aexit__(None, None, None)
    finally:
        a.stop()
        b.stop()
    assert max(latencies) < 1.0, latencies
    assert a.process.returncode == 0 and b.process.returncode == 0


# --- background work with two workers ------------------------------------------------------------


async def _seed_breaches(url: str, workspace_id: str) -> list[str]:
    """Four critical incidents past their ack target (15 min) and three also past their
    resolve target (4 h): 4 + 3 * 2 = 10 breaches."""
    db = Database(url)
    try:
        async with db.read() as session:
            workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        made = []
        for hours in (1, 1, 2, 2, 5, 6, 7):
            incident = await incident_at(db, workspace, "critical",
                                         utcnow() - timedelta(hours=hours),
                                         title=f"breach {hours}h")
            made.append(incident.id)
        return made
    finally:
        await db.dispose()


async def _count(url: str, stmt: Any) -> Any:
    db = Database(url)
    try:
        async with db.read() as session:
            return (await session.execute(stmt)).all()
    finally:
        await db.dispose()


async def test_report_jobs_and_sla_sweeps_run_once_with_two_workers(
    scale_pg: ScaleDatabase, tmp_path: Path
) -> None:
    gateway = start_gateway(
        scale_pg.url, tmp_path / "workers.log", "--workers", "2",
        SELIQ_SLA_SWEEP_SECONDS="0.2", SELIQ_REPORT_POLL_SECONDS="0.05",
    )
    key = scale_pg.keys["acme"]
    try:
        workers = gateway.children()
        async with aiohttp.ClientSession() as http:
            context, inbox = await subscribe(http, gateway.url, key, {
                "reports": (REPORTS, {}), "events": (EVENTS, {}), "alerts": (ALERTS, {}),
            })
            await warm_up(http, gateway.url, key, inbox, "alerts", "acme")

            incidents = await _seed_breaches(scale_pg.url, scale_pg.ids["acme"])
            report_ids = []
            for _ in range(20):
                async with http.post(
                    f"{gateway.url}/v1/reports", json={"kind": "sla"},
                    headers={"Authorization": f"Bearer {key}"},
                ) as response:
                    assert response.status == 202
                    report_ids.append((await response.json())["id"])

            def breaches(box: Inbox) -> list[dict[str, Any]]:
                return [p["incidentEvents"] for p in box.payloads("events")
                        if p["incidentEvents"]["type"] == "SLA_BREACHED"]

            await inbox.wait_for(lambda box: len(box.payloads("reports")) >= 20, within=30)
            await inbox.wait_for(lambda box: len(breaches(box)) >= 10, within=30)
            await asyncio.sleep(2.0)  # ten more sweeps and polls, in each worker
            completed = [p["reportCompleted"] for p in inbox.payloads("reports")]
            breached = breaches(inbox)
            await inbox.stop()
            await context.__aexit__(None, None, None)
    finally:
        gateway.stop()
    assert gateway.process.returncode == 0, gateway.output()[-3000:]

    # Reports: each completed once, in one attempt, by one of the two worker processes.
    assert sorted(r["id"] for r in completed) == sorted(report_ids)
    assert {r["status"] for r in completed} == {"READY"}
    rows = await asyncio.to_thread(run_async, _count(scale_pg.url, select(
        col(Report.id), col(Report.status), col(Report.attempts), col(Report.claimed_by)
    ).where(col(Report.id).in_(report_ids))))
    assert len(rows) == 20
    assert all(status == "ready" and attempts == 1 for _, status, attempts, _ in rows)
    claimers = {int(claimed_by.split("/")[1]) for *_, claimed_by in rows}
    assert claimers <= set(workers), (claimers, workers)

    # SLA breaches: one event per (incident, kind), written once and delivered once.
    stored = await asyncio.to_thread(run_async, _count(scale_pg.url, select(
        col(TimelineEvent.incident_id), col(TimelineEvent.data)
    ).where(col(TimelineEvent.type) == "sla.breached")))
    kinds = sorted((incident_id, data["kind"]) for incident_id, data in stored)
    assert len(kinds) == 10 and len(set(kinds)) == 10
    assert {incident_id for incident_id, _ in kinds} == set(incidents)
    assert len(breached) == 10 and len({b["id"] for b in breached}) == 10


# --- SIGTERM during a stream of ingests ----------------------------------------------------------


async def _stream_alerts(
    url: str, key: str, acknowledged: dict[str, str], stop: asyncio.Event, number: int
) -> None:
    sent = 0
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while not stop.is_set():
            sent += 1
            fingerprint = f"term-{number}-{sent}"
            try:
                async with http.post(
                    f"{url}/v1/alerts",
                    json={"title": f"Stream {number}", "fingerprint": fingerprint,
                          "labels": {"host": f"h{sent % 5}"}},
                    headers={"Authorization": f"Bearer {key}"},
                ) as response:
                    body = await response.json(content_type=None)
                    if 200 <= response.status < 300:
                        acknowledged[fingerprint] = body["id"]
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
                await asyncio.sleep(0.02)  # refused or cut: not acknowledged


async def _sigterm_during_ingests(
    gateway: Gateway, key: str, clients: int = 6
) -> tuple[dict[str, str], int | None]:
    acknowledged: dict[str, str] = {}
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        context, inbox = await subscribe(http, gateway.url, key, {"alerts": (ALERTS, {})})
        streams = [asyncio.create_task(_stream_alerts(gateway.url, key, acknowledged, stop, n))
                   for n in range(clients)]
        async with asyncio.timeout(60):
            while len(acknowledged) < 80:  # noqa: ASYNC110 (polling a counter)
                await asyncio.sleep(0.02)
        gateway.terminate()
        await asyncio.sleep(1.5)  # clients keep posting while it shuts down
        stop.set()
        await asyncio.gather(*streams)
        closed = await inbox.wait_for(lambda box: box.closed_code, within=20)
        await inbox.stop()
        await context.__aexit__(None, None, None)
    return acknowledged, closed


async def _stored(database_url: str, alert_ids: Sequence[str]) -> dict[str, str]:
    """fingerprint -> alert id of the acknowledged alerts found; and no fingerprint twice."""
    db = Database(database_url)
    try:
        async with db.read() as session:
            rows = (await session.execute(
                select(col(Alert.id), col(Alert.fingerprint))
                .where(col(Alert.id).in_(list(alert_ids)))
            )).all()
            twice = (await session.execute(
                select(col(Alert.fingerprint)).where(col(Alert.fingerprint).like("term-%"))
                .group_by(col(Alert.fingerprint)).having(func.count() > 1)
            )).scalars().all()
    finally:
        await db.dispose()
    assert twice == []
    return {fingerprint: alert_id for alert_id, fingerprint in rows}


async def test_sigterm_during_ingests_with_two_workers_on_postgres(
    scale_pg: ScaleDatabase, tmp_path: Path
) -> None:
    gateway = start_gateway(scale_pg.url, tmp_path / "term.log", "--workers", "2",
                            SELIQ_SHUTDOWN_GRACE_SECONDS="10")
    try:
        acknowledged, closed = await _sigterm_during_ingests(gateway, scale_pg.keys["acme"])
        code = await asyncio.to_thread(gateway.wait, 40)
    finally:
        gateway.stop()
    assert code == 0, gateway.output()[-3000:]
    assert closed == 1001
    stored = await asyncio.to_thread(run_async, _stored(scale_pg.url, list(acknowledged.values())))
    assert stored == acknowledged  # every 2xx alert, exactly as answered
    assert gateway.output().count("shut down cleanly") == 2


async def test_sigterm_during_ingests_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'term.db'}"
    run_cli(url, "workspace", "create", "acme", "--name", "Acme", "--tier", "enterprise")
    key = run_cli(url, "key", "create", "--workspace", "acme", "--name", "k")["key"]["secret"]
    gateway = start_gateway(url, tmp_path / "term.log")
    try:
        acknowledged, closed = await _sigterm_during_ingests(gateway, key, clients=4)
        code = await asyncio.to_thread(gateway.wait, 40)
    finally:
        gateway.stop()
    assert code == 0, gateway.output()[-3000:]
    assert closed == 1001
    stored = await asyncio.to_thread(run_async, _stored(url, list(acknowledged.values())))
    assert stored == acknowledged


# --- the supervisor ------------------------------------------------------------------------------


async def _listening(port: int, count: int, gateway: Gateway) -> None:
    deadline = time.monotonic() + 60
    while _listeners(port) != count:
        assert time.monotonic() < deadline, gateway.output()[-2000:]
        await asyncio.sleep(0.1)


async def test_a_worker_that_dies_is_replaced(scale_pg: ScaleDatabase, tmp_path: Path) -> None:
    port = free_port()
    gateway = start_gateway(scale_pg.url, tmp_path / "restart.log", "--workers", "2", port=port)
    try:
        await _listening(port, 2, gateway)
        workers = [pid for pid in gateway.children() if _is_worker(pid)]
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        await _listening(port, 1, gateway)
        await _listening(port, 2, gateway)  # the replacement listens
        now = [pid for pid in gateway.children() if _is_worker(pid)]
        assert len(now) == 2 and workers[0] not in now and workers[1] in now
        async with aiohttp.ClientSession() as http:
            for _ in range(20):  # whichever worker answers, all is well
                async with http.get(f"{gateway.url}/readyz") as response:
                    assert response.status == 200
    finally:
        gateway.stop()
    assert gateway.process.returncode == 0


def _is_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


@pytest.mark.parametrize(
    ("database", "port", "message"),
    [
        ("sqlite", "18080", "needs PostgreSQL"),
        ("postgres", "0", "needs a fixed --port"),
    ],
)
def test_workers_refuses_what_it_cannot_run(
    tmp_path: Path, database: str, port: str, message: str
) -> None:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'x.db'}" if database == "sqlite"
           else "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    done = subprocess.run(
        [EXECUTABLE, "serve", "--port", port, "--workers", "2"], env=cli_env(url),
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr


async def test_workers_bind_one_port(scale_pg: ScaleDatabase, tmp_path: Path) -> None:
    """All three workers listen on the same port (SO_REUSEPORT), and nothing else does."""
    port = free_port()
    gateway = start_gateway(scale_pg.url, tmp_path / "port.log", "--workers", "3", port=port)
    try:
        await _listening(port, 3, gateway)
        workers = [pid for pid in gateway.children() if _is_worker(pid)]
        assert len(workers) == 3
    finally:
        gateway.stop()


def _listeners(port: int) -> int:
    """Listening TCP sockets on `port` (from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count
