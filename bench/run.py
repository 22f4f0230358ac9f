"""`python -m bench [--quick]`: seed, start the servers, measure every ratio, print and record them.

Layout of a run: the gateway (`seliq-gateway serve`) and the hand-written reference each run in
their own process, pinned to one core once they answer; the load generator runs in another
process on the other core (when the machine has two). Throughput ratios alternate rounds
between the two variants (A B, B A, ...) and compare medians, so drift and noise hit both.

Before anything is timed the benchmark checks that the reference answers byte-identical JSON,
and every timed request must succeed: a mismatch or an error is a broken benchmark (exit 1),
whereas a missed target only shows as "NO" in the table (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import ingest, peer, seed
from bench.loadgen import BenchmarkBroken, Job, JobResult, LoadGenerator
from bench.procs import (
    HOST,
    ROOT,
    Cores,
    Server,
    child_env,
    pin_self,
    start_gateway,
    start_reference,
)
from bench.queries import (
    DASHBOARD_EXAMPLES,
    REST_LIST_INCIDENTS,
    Request,
    dashboard_request,
    reference_dashboard_request,
    rest_as_graphql_request,
    rest_request,
)
from bench.reference import rest_cursor
from bench.report import (
    FULL_ONLY,
    ORDER,
    PEER_ONLY,
    RESULTS_DIR,
    Ratio,
    details,
    machine,
    table,
    write,
)

STATEMENTS_HEADER = "X-Seliq-SQL-Statements"
# T10's ratios: (name, target).
PEER_RATIOS = {
    "T10": ("dashboard req/s on PostgreSQL, the gateway / PostGraphile 5 (first: 50)", ">= 1.0"),
    "T10b": ("incident by id (5 fields) req/s on PostgreSQL, the gateway / PostGraphile 5",
             ">= 0.5"),
}


@dataclass(frozen=True)
class Plan:
    mode: str
    rounds: int
    seconds: float  # per round and variant, throughput ratios
    concurrency: int
    latency_seconds: float  # per round, page and database, T7
    t5_seconds: float
    t6_alerts: int  # per round and variant
    t11_rounds: int
    t12_singles: int  # tenant B's alerts per backend
    t6_senders: int = 16

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls("quick", rounds=5, seconds=0.5, concurrency=8, latency_seconds=0.2,
                       t5_seconds=0.3, t6_alerts=64, t11_rounds=3, t12_singles=8)
        return cls("full", rounds=7, seconds=2.0, concurrency=8, latency_seconds=0.75,
                   t5_seconds=1.5, t6_alerts=320, t11_rounds=7, t12_singles=20)


class Bench:
    def __init__(self, plan: Plan, only: tuple[str, ...], run_dir: Path) -> None:
        self.plan = plan
        self.only = only
        self.run_dir = run_dir
        self.cores = Cores.detect()
        self.servers: dict[str, Server] = {}
        self.ratios: dict[str, Ratio] = {}
        self.loadgen: LoadGenerator | None = None
        self.key = seed.API_KEY
        self.t12_postgres: PostgresCopy | None = None
        self.peer_postgres: PostgresCopy | None = None
        self.peer_skipped: str | None = None  # why T10 could not run here

    def wants(self, *ids: str) -> bool:
        return any(i in self.only for i in ids)

    # ---- set-up ------------------------------------------------------------------------------

    def start(self) -> None:
        quick = self.plan.mode == "quick"
        started = []
        if self.wants("T1", "T2", "T3", "T4", "T5", "T8", "T9", "T10", "T10b"):
            dashboard = seed.copy_to(seed.ensure(seed.DASHBOARD), self.run_dir / "dashboard.db")
            if self.wants("T9"):
                add_customers(dashboard.path)  # for T9's MSSP overview
            self.dashboard = dashboard
            if self.wants("T1", "T2", "T3", "T4", "T5", "T8", "T9"):
                started.append(start_gateway("gateway", dashboard.url, self.run_dir))
            if self.wants("T10", "T10b"):
                started += self.start_peer(dashboard.url)
            if self.wants("T1", "T2", "T8"):
                started.append(start_reference("reference", dashboard.path, self.run_dir))
        if self.wants("T6", "T11", "T12"):
            base = seed.ensure(seed.INGEST)
            self.ingest_gateway_db = seed.copy_to(base, self.run_dir / "ingest-gateway.db")
            self.ingest_naive_db = seed.copy_to(base, self.run_dir / "ingest-naive.db")
            ingest.add_quiet_tenant(self.ingest_gateway_db.path)  # T12's tenant B
            started.append(start_gateway("gateway-ingest", self.ingest_gateway_db.url,
                                         self.run_dir))
        if self.wants("T12") and (admin := postgres_url()) is not None:
            self.t12_postgres = PostgresCopy.create(admin, self.ingest_gateway_db.url, "t12")
            started.append(start_gateway("gateway-ingest-pg", self.t12_postgres.url,
                                         self.run_dir))
        if self.wants("T7"):
            self.t7_big = seed.ensure(seed.t7_big(quick))
            self.t7_small = seed.copy_to(seed.ensure(seed.T7_SMALL), self.run_dir / "t7small.db")
            started.append(start_gateway("gateway-t7-big", self.t7_big.url, self.run_dir))
            started.append(start_gateway("gateway-t7-small", self.t7_small.url, self.run_dir))
        for server in started:
            self.servers[server.name] = server
        self.loadgen = LoadGenerator(self.cores.client)
        for server in started:
            server.wait_ready()
            server.pin(self.cores.server)

    def stop(self) -> None:
        if self.loadgen is not None:
            self.loadgen.close()
        for server in self.servers.values():
            server.stop()
        for copied in (self.t12_postgres, self.peer_postgres):
            if copied is not None:
                copied.drop()

    def start_peer(self, dashboard_url: str) -> list[Server]:
        """T10's two servers on one PostgreSQL copy of the dashboard data (none, with the
        reason kept, where PostgreSQL or Node 22 is missing)."""
        admin = postgres_url()
        if admin is None:
            self.peer_skipped = "no PostgreSQL: set SELIQ_BENCH_POSTGRES_URL"
            return []
        try:
            node = peer.install()
        except peer.PeerUnavailable as exc:
            self.peer_skipped = str(exc)
            return []
        self.peer_postgres = PostgresCopy.create(admin, dashboard_url, "peer")
        return [
            start_gateway("gateway-pg", self.peer_postgres.url, self.run_dir),
            peer.start_postgraphile("postgraphile", node, self.peer_postgres.url, self.run_dir),
        ]

    # ---- helpers -----------------------------------------------------------------------------

    @property
    def lg(self) -> LoadGenerator:
        assert self.loadgen is not None
        return self.loadgen

    def fetch(self, server: Server, request: Request, status: int = 200) -> Any:
        answer = self.lg.fetch(HOST, server.port, request.encode(f"{HOST}:{server.port}"))
        if answer.status != status:
            raise BenchmarkBroken(
                f"{request.label} on {server.name}: HTTP {answer.status}: {answer.body[:300]!r}"
            )
        return answer

    def job(self, server: Server, requests: list[Request], **kwargs: Any) -> JobResult:
        encoded = [r.encode(f"{HOST}:{server.port}") for r in requests]
        result = self.lg.run(Job(HOST, server.port, encoded, **kwargs))
        if result.errors:
            raise BenchmarkBroken(
                f"{requests[0].label} on {server.name}: {result.errors} failed requests, "
                f"first: {result.first_error}"
            )
        return result

    def alternate(
        self, variants: list[tuple[str, Server, Request]], seconds: float, concurrency: int,
    ) -> dict[str, list[JobResult]]:
        """Alternating rounds (A B, B A, ...) after a warm-up of each variant."""
        for _, server, request in variants:
            self.job(server, [request], concurrency=concurrency, seconds=min(seconds, 1.0))
        results: dict[str, list[JobResult]] = {name: [] for name, _, _ in variants}
        for index in range(self.plan.rounds):
            order = variants if index % 2 == 0 else list(reversed(variants))
            for name, server, request in order:
                results[name].append(
                    self.job(server, [request], concurrency=concurrency, seconds=seconds)
                )
        return results

    def throughput_ratio(
        self, key: str, name: str, target: str, a: tuple[str, Server, Request],
        b: tuple[str, Server, Request],
    ) -> None:
        results = self.alternate([a, b], self.plan.seconds, self.plan.concurrency)
        rate_a = statistics.median(r.rate for r in results[a[0]])
        rate_b = statistics.median(r.rate for r in results[b[0]])
        # Each round's two runs are adjacent in time: the median of the per-round ratios is
        # less sensitive to drift (and to other load on the machine) than a ratio of medians.
        paired = statistics.median(
            x.rate / y.rate for x, y in zip(results[a[0]], results[b[0]], strict=True)
        )
        self.ratios[key] = Ratio(
            key, name, target, paired,
            detail={
                f"{a[0]}_req_s": rate_a, f"{b[0]}_req_s": rate_b,
                "rounds": {n: [round(r.rate, 1) for r in rs] for n, rs in results.items()},
            },
        )

    # ---- checks ------------------------------------------------------------------------------

    def check_bytes(self) -> None:
        """The reference must answer exactly what the gateway answers."""
        gateway, reference = self.servers["gateway"], self.servers["reference"]
        pairs = [
            (dashboard_request(self.key, 50), reference_dashboard_request(self.key, 50)),
            (dashboard_request(self.key, 100), reference_dashboard_request(self.key, 100)),
            (rest_request(self.key), rest_request(self.key)),
        ]
        for ours, theirs in pairs:
            mine = self.fetch(gateway, ours).body
            expected = self.fetch(reference, theirs).body
            if mine != expected:
                dump = self.run_dir / "mismatch"
                dump.mkdir(exist_ok=True)
                (dump / "gateway.json").write_bytes(mine)
                (dump / "reference.json").write_bytes(expected)
                raise BenchmarkBroken(
                    f"{ours.label}: the gateway and the reference answer different bytes "
                    f"({len(mine)} vs {len(expected)}); both are in {dump}"
                )

    # ---- the ratios --------------------------------------------------------------------------

    def t1_t2(self) -> None:
        gateway, reference = self.servers["gateway"], self.servers["reference"]
        for key, first, target in (("T1", 50, ">= 0.8"), ("T2", 100, ">= 0.4")):
            if not self.wants(key):
                continue
            self.throughput_ratio(
                key, f"dashboard req/s, GraphQL / hand-written reference (first: {first})",
                target,
                ("graphql", gateway, dashboard_request(self.key, first)),
                ("reference", reference, reference_dashboard_request(self.key, first)),
            )

    def t8(self) -> None:
        gateway = self.servers["gateway"]
        if not self.wants("T1", "T2"):  # T8 is the peak under the T1 load: apply it
            self.job(gateway, [dashboard_request(self.key, 50)],
                     concurrency=self.plan.concurrency, seconds=self.plan.seconds)
        self.ratios["T8"] = Ratio(
            "T8", "peak RSS of the gateway under the dashboard load (VmHWM)", "<= 250",
            gateway.peak_rss_mib(), unit="MiB",
        )

    def t3(self) -> None:
        gateway = self.servers["gateway"]
        rest = self.fetch(gateway, rest_request(self.key)).body
        graphql = self.fetch(gateway, rest_as_graphql_request(self.key, 50)).body
        rest_ids = [row["id"] for row in orjson.loads(rest)["data"]]
        graphql_ids = [n["id"] for n in orjson.loads(graphql)["data"]["incidents"]["nodes"]]
        if rest_ids != graphql_ids:
            raise BenchmarkBroken("T3: the REST route and its GraphQL operation differ in rows")
        self.throughput_ratio(
            "T3", f"REST GET {REST_LIST_INCIDENTS} req/s / the GraphQL operation it runs", ">= 1.0",
            ("rest", gateway, rest_request(self.key)),
            ("graphql", gateway, rest_as_graphql_request(self.key, 50)),
        )

    def t4(self) -> None:
        gateway = self.servers["gateway"]
        counts = {}
        for first in (10, 100):
            answer = self.fetch(gateway, dashboard_request(self.key, first))
            body = orjson.loads(answer.body)
            if body.get("errors") or len(body["data"]["incidents"]["nodes"]) != first:
                raise BenchmarkBroken(f"T4: the dashboard at first:{first} did not answer a page")
            counts[first] = int(answer.headers[STATEMENTS_HEADER])
        self.ratios["T4"] = Ratio(
            "T4", "SQL statements of the dashboard query, first: 100 / first: 10", "= 1.0",
            counts[100] / counts[10],
            detail={"statements_first_10": counts[10], "statements_first_100": counts[100]},
        )

    def t9(self) -> None:
        """Realistic dashboard operations (`DASHBOARD_EXAMPLES`), each against the bench
        dashboard at the same page size, in alternating rounds; the worst is the ratio."""
        gateway = self.servers["gateway"]
        first = 50
        dashboard = dashboard_request(self.key, first)
        page = orjson.loads(self.fetch(gateway, dashboard).body)["data"]["incidents"]
        found = {
            "id": page["nodes"][0]["id"], "after": page["pageInfo"]["endCursor"],
            "assignee": f"{seed.ANALYSTS[0]}@soc.example",
        }
        ratios: dict[str, float] = {}
        rates: dict[str, float] = {}
        for example in DASHBOARD_EXAMPLES:
            request = example.request(self.key, first, found)
            body = orjson.loads(self.fetch(gateway, request).body)
            if body.get("errors") or not body.get("data"):
                raise BenchmarkBroken(f"T9: {example.name} did not answer: {str(body)[:300]}")
            results = self.alternate(
                [(example.name, gateway, request), ("dashboard", gateway, dashboard)],
                self.plan.seconds / 2, self.plan.concurrency,
            )
            ratios[example.name] = statistics.median(
                x.rate / y.rate
                for x, y in zip(results[example.name], results["dashboard"], strict=True)
            )
            rates[example.name] = statistics.median(r.rate for r in results[example.name])
        worst = min(ratios, key=ratios.__getitem__)
        self.ratios["T9"] = Ratio(
            "T9", f"{len(ratios)} dashboard operations req/s / the dashboard (first: {first}); "
            "the worst", ">= 0.8", ratios[worst],
            detail={"worst": worst, "ratios": ratios, "req_s": rates},
        )

    def t10(self) -> None:
        """Ours / PostGraphile on the same PostgreSQL rows: the dashboard and an incident by id."""
        if self.peer_skipped is not None:
            progress(f"T10 skipped: {self.peer_skipped}")
            for key, (name, target) in PEER_RATIOS.items():
                self.ratios[key] = Ratio(key, name, target, detail={"skipped": self.peer_skipped})
            return
        ours, theirs = self.servers["gateway-pg"], self.servers["postgraphile"]
        dashboard = dashboard_request(self.key, 50)
        peer_dashboard = peer.peer_dashboard_request(seed.WORKSPACE_ID, 50)
        answer = self.fetch(ours, dashboard).body
        if peer.dashboard_ids(answer) != peer.dashboard_ids(
            self.fetch(theirs, peer_dashboard).body
        ):
            raise BenchmarkBroken("T10: the gateway and PostGraphile list different rows")
        incident_id = orjson.loads(answer)["data"]["incidents"]["nodes"][7]["id"]
        by_id, peer_by_id = (peer.incident_request(self.key, incident_id),
                             peer.peer_incident_request(incident_id))
        mine = peer.incident_fields(self.fetch(ours, by_id).body)
        if mine != peer.incident_fields(self.fetch(theirs, peer_by_id).body):
            raise BenchmarkBroken(f"T10: the incident by id differs: {mine}")
        for key, request, peer_request in (("T10", dashboard, peer_dashboard),
                                           ("T10b", by_id, peer_by_id)):
            if self.wants(key):
                self.throughput_ratio(key, *PEER_RATIOS[key], ("seliq", ours, request),
                                      ("postgraphile", theirs, peer_request))

    def t5(self) -> None:
        command = [
            sys.executable, "-m", "bench.inprocess", "--database", self.dashboard.url,
            "--rounds", str(self.plan.rounds), "--seconds", str(self.plan.t5_seconds),
        ]
        if self.cores.server is not None:
            command += ["--core", str(self.cores.server)]
        done = subprocess.run(command, capture_output=True, text=True,
                              env=child_env(os.environ), cwd=ROOT, timeout=300)
        if done.returncode != 0:
            raise BenchmarkBroken(f"T5 failed: {done.stderr.strip()[-2000:]}")
        result = orjson.loads(done.stdout.strip().splitlines()[-1])
        self.ratios["T5"] = Ratio(
            "T5", "schema.execute time, every production extension / none (in-process)",
            "<= 1.1", result["ratio"],
            detail={"with_extensions_ms": result["with_extensions_ms"],
                    "no_extensions_ms": result["no_extensions_ms"]},
        )

    def t6(self) -> None:
        gateway = self.servers["gateway-ingest"]
        naive = ingest.NaiveLoop(self.ingest_naive_db.path, self.cores.server)
        count = self.plan.t6_alerts

        cpu_ms: list[float] = []  # the gateway's CPU per alert, each round
        group_sizes: list[float] = []

        def pair(index: int) -> tuple[Callable[[], float], Callable[[], float]]:
            requests = ingest.webhook_requests(ingest.stream(index, count))

            def through_gateway() -> float:
                # The scrape before the CPU reading: its own work is not the round's.
                groups = self.write_groups(gateway)
                cpu = gateway.cpu_seconds()
                result = self.job(gateway, requests, concurrency=self.plan.t6_senders,
                                  mode="count", expect_status=(202,))
                if index >= 0:
                    cpu_ms.append((gateway.cpu_seconds() - cpu) / count * 1000)
                    after = self.write_groups(gateway)
                    if after[0] > groups[0]:
                        group_sizes.append((after[1] - groups[1]) / (after[0] - groups[0]))
                return result.count / result.elapsed

            return through_gateway, lambda: count / naive.run(index, count)

        try:
            gateway_rates, naive_rates = _alternating(range(-1, self.plan.rounds), pair)
        finally:
            naive.close()
        ours = self._same_rows("T6", "the naive loop")
        rate_gateway = statistics.median(gateway_rates)
        rate_naive = statistics.median(naive_rates)
        paired = statistics.median(g / n for g, n in zip(gateway_rates, naive_rates, strict=True))
        self.ratios["T6"] = Ratio(
            "T6", f"ingest alerts/s, webhook at {self.plan.t6_senders} senders / naive loop "
            "(1 tx per alert, synchronous=FULL)", ">= 1.0", paired,
            detail={"webhook_alerts_s": rate_gateway, "naive_alerts_s": rate_naive,
                    "alerts_per_round": count, "rows": ours,
                    "fsync_ms": round(ingest.fsync_ms(self.run_dir), 3),
                    # What to compare between runs on a noisy machine: CPU, not rates.
                    "gateway_cpu_ms_per_alert": round(statistics.median(cpu_ms), 3),
                    "alerts_per_commit": round(statistics.median(group_sizes or [0.0]), 1)},
        )

    def write_groups(self, server: Server) -> tuple[float, float]:
        """(group-committed transactions, writes they held) so far, from /metrics."""
        text = self.fetch(server, Request("metrics", "GET", "/metrics")).body.decode()
        found = dict.fromkeys(("seliq_write_groups_total", "seliq_write_group_units_total"), 0.0)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in found:
                    found[sample.name] = sample.value
        return found["seliq_write_groups_total"], found["seliq_write_group_units_total"]

    def _same_rows(self, label: str, other: str) -> dict[str, int]:
        """The ingest databases of the gateway and of its baseline hold the same rows."""
        ours = ingest.table_counts(self.ingest_gateway_db.path)
        theirs = ingest.table_counts(self.ingest_naive_db.path)
        if ours != theirs:
            raise BenchmarkBroken(
                f"{label}: the gateway and {other} wrote different rows: {ours} vs {theirs}"
            )
        return ours

    def t11(self) -> None:
        gateway = self.servers["gateway-ingest"]
        raw = ingest.RawBatch(self.ingest_naive_db.path, self.cores.server)

        def pair(index: int) -> tuple[Callable[[], float], Callable[[], float]]:
            # Round numbers go on from 1000 so that T6's alerts are never met again.
            number = 1000 + index
            request = ingest.batch_request(ingest.new_incident_batch(number))

            def through_gateway() -> float:
                result = self.job(gateway, [request], mode="count", expect_status=(202,))
                return result.latencies[0]

            return through_gateway, lambda: raw.run(number)

        try:
            gateway_s, raw_s = _alternating(range(-1, self.plan.t11_rounds), pair)
        finally:
            raw.close()
        self._same_rows("T11", "the raw batch")
        paired = statistics.median(r / g for g, r in zip(gateway_s, raw_s, strict=True))
        self.ratios["T11"] = Ratio(
            "T11", f"{ingest.T11_BATCH:,}-alert webhook batch opening incidents: raw executemany "
            "s / gateway s", ">= 0.1", paired,
            detail={"gateway_ms": statistics.median(gateway_s) * 1000,
                    "raw_ms": statistics.median(raw_s) * 1000},
        )

    def t12(self) -> None:
        driver = ingest.FairnessDriver(self.cores.client)
        slowest: dict[str, float] = {}
        detail: dict[str, Any] = {}
        try:
            backends = [("sqlite", self.servers["gateway-ingest"])]
            if "gateway-ingest-pg" in self.servers:
                backends.append(("postgres", self.servers["gateway-ingest-pg"]))
            for name, server in backends:
                result = driver.run(HOST, server.port, self.plan.t12_singles)
                refused = sum(1 for s in result.single_statuses if s != 202)
                worst = max(result.single_latencies)
                # A refused single has to be sent again: it counts as the whole deadline.
                slowest[name] = max(worst, 10.0) if refused else worst
                detail[name] = {
                    "b_slowest_s": worst, "b_median_s": statistics.median(result.single_latencies),
                    "b_2xx": len(result.single_statuses) - refused,
                    "b_sent": len(result.single_statuses),
                    "a_batches": {str(status): n for status, n in result.storm_statuses.items()},
                }
        finally:
            driver.close()
        if "postgres" not in slowest:
            detail["postgres"] = "not measured: set SELIQ_BENCH_POSTGRES_URL"
        self.ratios["T12"] = Ratio(
            "T12", f"B's slowest single alert while A posts {ingest.T12_SENDERS} x 1,000-alert "
            "batches (s, worst backend)", "<= 1.0",
            max(slowest.values()), unit="s", detail=detail,
        )

    def t7(self) -> None:
        big, small = self.servers["gateway-t7-big"], self.servers["gateway-t7-small"]
        # The first page of each list, and a page from half-way down it (keyset: same cost).
        pages = [("incidents", False), ("alerts", False), ("incidents", True), ("alerts", True)]
        requests: dict[str, dict[str, Request]] = {"big": {}, "small": {}}
        for size, dataset in (("big", self.t7_big), ("small", self.t7_small)):
            for table_name, deep in pages:
                path = f"/v1/{table_name}?limit=50"
                if deep:
                    path += "&cursor=" + _middle_cursor(dataset.path, table_name)
                label = f"{table_name}{' (deep)' if deep else ''}"
                requests[size][label] = rest_request(self.key, path)
        for label in requests["big"]:  # warm-up, and both answer a full page
            for size, server in (("big", big), ("small", small)):
                body = orjson.loads(self.fetch(server, requests[size][label]).body)
                if len(body["data"]) != 50:
                    raise BenchmarkBroken(f"T7: {label} on {size} did not answer a full page")
                self.job(server, [requests[size][label]], seconds=0.2)
        medians: dict[str, dict[str, list[float]]] = {
            label: {"big": [], "small": []} for label in requests["big"]
        }
        for index in range(self.plan.rounds):
            for label in requests["big"]:
                order = [("big", big), ("small", small)]
                if index % 2:
                    order.reverse()
                for size, server in order:
                    result = self.job(server, [requests[size][label]], concurrency=1,
                                      seconds=self.plan.latency_seconds)
                    medians[label][size].append(result.median_latency)
        per_page = {  # per-round pairs, as for throughput (see throughput_ratio)
            label: statistics.median(b / s for b, s in zip(m["big"], m["small"], strict=True))
            for label, m in medians.items()
        }
        worst = max(per_page, key=lambda label: per_page[label])
        shape = seed.t7_big(self.plan.mode == "quick")
        self.ratios["T7"] = Ratio(
            "T7", f"list page latency, {shape.total_alerts:,} alerts + {shape.incidents:,} "
            f"incidents / {seed.T7_SMALL.total_alerts:,} alerts (worst page)", "<= 1.5",
            per_page[worst],
            detail={
                "worst_page": worst,
                "ratio_by_page": per_page,
                "big_ms": {k: statistics.median(m["big"]) * 1000 for k, m in medians.items()},
                "small_ms": {k: statistics.median(m["small"]) * 1000 for k, m in medians.items()},
            },
        )

    def run(self) -> None:
        steps: list[tuple[tuple[str, ...], str, Callable[[], None]]] = [
            (("T1", "T2", "T8"), "byte check", self.check_bytes),
            (("T1", "T2"), "T1/T2", self.t1_t2),
            (("T8",), "T8", self.t8),
            (("T3",), "T3", self.t3),
            (("T4",), "T4", self.t4),
            (("T9",), "T9", self.t9),
            (("T10", "T10b"), "T10", self.t10),
            (("T7",), "T7", self.t7),
            (("T6",), "T6", self.t6),
            (("T11",), "T11", self.t11),
            (("T12",), "T12", self.t12),
            (("T5",), "T5", self.t5),
        ]
        for ids, label, step in steps:
            if self.wants(*ids):
                progress(label)
                step()


def add_customers(database: Path, incidents: int = 100) -> None:
    """Two customer workspaces below the bench one (an MSSP then), each with a copy of the
    bench workspace's newest incidents: T9's MSSP overview lists across them. The bench
    workspace's own rows are untouched."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for number in (1, 2):
            workspace_id = f"ws_01benchcustomer{number:011d}"
            conn.execute(
                "INSERT INTO workspaces (id, slug, name, tier, parent_id, "
                "correlation_window_seconds, incident_seq, created_at) "
                "SELECT ?, ?, ?, 'growth', id, 1800, ?, created_at FROM workspaces WHERE id = ?",
                (workspace_id, f"bench-customer-{number}", f"Customer {number}", incidents,
                 seed.WORKSPACE_ID),
            )
            conn.execute(
                "INSERT INTO incidents (id, workspace_id, number, title, status, severity, "
                "severity_manual, assignee, alert_count, group_key, created_at, updated_at, "
                "acknowledged_at, resolved_at) "
                "SELECT ? || substr(id, 5), ?, number, title, status, severity, severity_manual, "
                "assignee, 0, group_key, created_at, updated_at, acknowledged_at, resolved_at "
                "FROM incidents WHERE workspace_id = ? ORDER BY created_at DESC LIMIT ?",
                (f"inc_c{number}", workspace_id, seed.WORKSPACE_ID, incidents),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def postgres_url() -> str | None:
    """Where T12 measures PostgreSQL too: `SELIQ_BENCH_POSTGRES_URL` (else the tests' URL)."""
    return os.environ.get("SELIQ_BENCH_POSTGRES_URL") or os.environ.get("SELIQ_TEST_POSTGRES_URL")


@dataclass
class PostgresCopy:
    """A PostgreSQL database of this run: created, migrated and filled from a SQLite file."""

    admin_url: str
    url: str

    @classmethod
    def create(cls, admin_url: str, source_url: str, purpose: str) -> PostgresCopy:
        from gateway.domain.storage import copy, migrate

        name = f"seliq_bench_{purpose}_{os.getpid()}"
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        made = cls(admin_url, url)
        asyncio.run(made._admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
        asyncio.run(migrate.upgrade(url))
        asyncio.run(copy.copy_database(source_url, url))
        return made

    def drop(self) -> None:
        name = make_url(self.url).database
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, *statements: str) -> None:
        engine = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    await conn.exec_driver_sql(statement)
        finally:
            await engine.dispose()


_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


def _alternating(
    rounds: range, pair: Callable[[int], tuple[Callable[[], float], Callable[[], float]]]
) -> tuple[list[float], list[float]]:
    """Run `pair(index)`'s two measurements each round, in alternating order so that neither
    always goes first; round -1 warms both sides up and is not kept."""
    firsts: list[float] = []
    seconds: list[float] = []
    for index in rounds:
        first, second = pair(index)
        order = [first, second] if index % 2 == 0 else [second, first]
        taken = {fn: fn() for fn in order}
        if index >= 0:
            firsts.append(taken[first])
            seconds.append(taken[second])
    return firsts, seconds


def _middle_cursor(database: Path, table_name: str) -> str:
    """The REST cursor of the row half-way down the list (newest first), as the API hands out."""
    column = "created_at" if table_name == "incidents" else "received_at"
    conn = sqlite3.connect(database)
    try:
        total = conn.execute(f"SELECT count(*) FROM {table_name}").fetchone()[0]
        stored, row_id = conn.execute(
            f"SELECT {column}, id FROM {table_name} ORDER BY {column} DESC, id DESC "
            "LIMIT 1 OFFSET ?", (min(total // 2, total - 51),),
        ).fetchone()
    finally:
        conn.close()
    return rest_cursor(stored, row_id)


def selection(only: str | None, *, quick: bool, peer: bool) -> tuple[str, ...]:
    """The ratios a run measures: `--only`'s (any case), else every one but those `--quick`
    leaves out; T10 only with `--peer` (it installs Node and PostGraphile), which adds it to
    either."""
    if only is None:
        chosen = tuple(key for key in ORDER if not (quick and key in FULL_ONLY)
                       and key not in PEER_ONLY)
    else:
        named = {key.upper(): key for key in ORDER}
        chosen = tuple(named.get(part.strip().upper(), part.strip())
                       for part in only.split(",") if part.strip())
    if peer:
        chosen += tuple(key for key in PEER_ONLY if key not in chosen)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short rounds and a smaller T7 database (about 90 s, idle machine)")
    parser.add_argument("--only", default=None,
                        help="comma-separated ratios to measure (default: all; --quick leaves "
                        f"out {', '.join(FULL_ONLY)})")
    parser.add_argument("--peer", action="store_true",
                        help="also T10: the same dashboard and incident by id on PostGraphile 5 "
                        "(Node 22 and PostGraphile from npm, PostgreSQL); with --only T10 alone")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR,
                        help="where latest.json and history.md go (default: bench/results)")
    parser.add_argument("--no-record", action="store_true",
                        help="print only; write neither latest.json nor history.md")
    args = parser.parse_args(argv)
    only = selection(args.only, quick=args.quick, peer=args.peer)
    unknown = [part for part in only if part not in ORDER]
    if unknown:
        parser.error(f"unknown ratio(s): {', '.join(unknown)}")
    plan = Plan.for_mode(args.quick)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seliq-bench-") as tmp:
        bench = Bench(plan, only, Path(tmp))
        pin_self(bench.cores.client)
        try:
            progress("starting servers")
            bench.start()
            bench.run()
        except (BenchmarkBroken, RuntimeError, KeyError) as exc:
            print(f"benchmark broken: {exc}", file=sys.stderr)
            for server in bench.servers.values():
                if server.process.poll() is not None:
                    print(f"--- {server.name} log ---\n{server.tail()}", file=sys.stderr)
            return 1
        finally:
            bench.stop()
    elapsed = time.monotonic() - started
    about = machine()
    header = (
        f"Seliq benchmark ({plan.mode}, {elapsed:.0f} s) on {about['cpu']}, {about['cores']} "
        f"cores, Python {about['python']}; {bench.cores.describe()}"
    )
    print(table(bench.ratios, header))
    print()
    print(details(bench.ratios))
    if not args.no_record:
        settings = {
            "rounds": plan.rounds, "seconds_per_round": plan.seconds,
            "concurrency": plan.concurrency, "pinning": bench.cores.describe(),
            "elapsed_s": round(elapsed, 1), "only": list(only),
        }
        write(bench.ratios, plan.mode, settings, args.results, about)
    return 0
