"""The gateway's Prometheus metrics: one `Metrics` (registry and metric objects) per application,
and the functions code with no request at hand records through.

Metrics live in a `CollectorRegistry` owned by each application, never in prometheus-client's
process-global registry, so several apps in one process (tests, benchmarks) keep separate counts.
Code that has no request at hand (ingestion, the webhook, rate limits, report workers) records
through `record_ingested`, `record_webhook_refused` and `record_rate_limited`; they write to the
metrics bound in a context variable (by the request observer and at app start-up, so tasks
started from the app inherit it) and do nothing outside one, e.g. in CLI commands.

Label values never carry workspace ids unless `SELIQ_METRICS_PER_WORKSPACE=true`: each workspace
would multiply every series, and an MSSP has thousands of them. GraphQL operation names come from
the client, so they are capped (`MAX_OPERATION_LABELS` distinct names, then `<other>`).

Served at `/metrics` by `gateway.service.observability`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlmodel import col

from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Report

__all__ = [
    "Metrics",
    "bind_metrics",
    "metrics_scope",
    "record_graphql_fallback",
    "record_ingested",
    "record_rate_limited",
    "record_webhook_refused",
]

log = logging.getLogger("seliq.metrics")

OTHER = "<other>"
MAX_OPERATION_LABELS = 200
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REPORT_QUERY_TIMEOUT = 2.0

_LABEL_TEXT_RE = re.compile(r"[^0-9A-Za-z_.:-]")


class Metrics:
    """One application's metrics: its registry, the metric objects, and snapshots for gauges that
    need the database (refreshed asynchronously just before each scrape)."""

    def __init__(self, *, per_workspace: bool = False, db: Database | None = None) -> None:
        # `_created` series double the series count and nobody graphs them.
        disable_created_metrics()
        self.per_workspace = per_workspace
        self.db = db
        self.registry = CollectorRegistry()
        ws: tuple[str, ...] = ("workspace",) if per_workspace else ()
        self.requests = Counter(
            "seliq_http_requests",
            "HTTP requests answered, by route (or GraphQL operation) and status.",
            ("method", "route", "operation", "status", *ws),
            registry=self.registry,
        )
        self.latency = Histogram(
            "seliq_http_request_duration_seconds",
            "Time from request received to response ready, by route (or GraphQL operation).",
            ("method", "route", "operation", *ws),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "seliq_rate_limited",
            "Requests refused with 429 by a rate limit, by bucket (api, webhook).",
            ("bucket", *ws),
            registry=self.registry,
        )
        self.ingested = Counter(
            "seliq_alerts_ingested",
            "Alerts through the ingestion pipeline, by outcome and payload format.",
            ("outcome", "format", *ws),
            registry=self.registry,
        )
        self.webhook_refused = Counter(
            "seliq_webhook_refused",
            "Webhook deliveries refused, by reason.",
            ("reason", *ws),
            registry=self.registry,
        )
        self.graphql_fallbacks = Counter(
            "seliq_graphql_fallbacks",
            "GraphQL queries answered by the standard executor instead of a cached plan, by "
            "reason (a fixed set: schema/plan/values.py REASONS).",
            ("reason",),
            registry=self.registry,
        )
        # Report queue depth per workspace id (key None when not per workspace).
        self.reports_queued: dict[str | None, int] = {}
        self.registry.register(_DatabaseCollector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.registry.register(GC_COLLECTOR)
        self._operations: set[str] = set()

    def operation_label(self, name: str) -> str:
        """`name` while fewer than MAX_OPERATION_LABELS distinct names were seen, then `<other>`."""
        if name in self._operations:
            return name
        if len(self._operations) >= MAX_OPERATION_LABELS:
            return OTHER
        self._operations.add(name)
        return name

    def workspace_labels(self, workspace_id: str | None) -> tuple[str, ...]:
        return (workspace_id or "",) if self.per_workspace else ()

    async def refresh(self) -> None:
        """Query what the gauges report from the database (queued reports)."""
        if self.db is None:
            return
        try:
            async with asyncio.timeout(REPORT_QUERY_TIMEOUT), self.db.read() as session:
                queued = col(Report.status) == "queued"
                if self.per_workspace:
                    workspace = col(Report.workspace_id)
                    rows = await session.execute(
                        select(workspace, func.count()).where(queued).group_by(workspace)
                    )
                    self.reports_queued = {str(ws): int(n) for ws, n in rows.all()}
                else:
                    total = (await session.execute(select(func.count()).where(queued))).scalar()
                    self.reports_queued = {None: int(total or 0)}
        except Exception:  # a scrape must still answer when the database does not
            log.warning("could not read the report queue for /metrics", exc_info=True)


class _DatabaseCollector(Collector):
    """Report queue depth (from the last refresh) and the SQLAlchemy pool's live numbers."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        metrics = self.metrics
        labels = ["workspace"] if metrics.per_workspace else []
        queue = GaugeMetricFamily(
            "seliq_report_queue_depth", "Reports waiting to be generated (status queued).",
            labels=labels,
        )
        for workspace_id, count in sorted(metrics.reports_queued.items(), key=lambda i: i[0] or ""):
            queue.add_metric([workspace_id or ""] if labels else [], count)
        yield queue
        if metrics.db is None:
            return
        grouped = metrics.db.grouped  # how many writes share a commit (operations.md)
        yield CounterMetricFamily(
            "seliq_write_groups", "Group-committed write transactions.", value=grouped.groups
        )
        yield CounterMetricFamily(
            "seliq_write_group_units", "Writes committed in those transactions.",
            value=grouped.units,
        )
        pool: Any = metrics.db.engine.sync_engine.pool
        if not all(hasattr(pool, name) for name in ("checkedout", "size", "overflow")):
            return  # NullPool / StaticPool: nothing to report
        yield GaugeMetricFamily(
            "seliq_db_pool_checked_out", "Database connections in use.", value=pool.checkedout()
        )
        yield GaugeMetricFamily(
            "seliq_db_pool_size", "Configured size of the database connection pool.",
            value=pool.size(),
        )
        yield GaugeMetricFamily(
            "seliq_db_pool_overflow", "Database connections open beyond the pool size.",
            value=max(0, pool.overflow()),
        )


_current: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar(
    "seliq_metrics", default=None
)


def bind_metrics(metrics: Metrics | None) -> None:
    """Bind `metrics` for the current task and every task it creates from now on (the app's
    start-up binds its metrics this way, so background workers inherit them)."""
    _current.set(metrics)


class metrics_scope:  # noqa: N801 - used like a function: `with metrics_scope(app[METRICS_KEY])`
    """Bind `metrics` for the code inside the block (e.g. a background worker's loop)."""

    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics

    def __enter__(self) -> Metrics | None:
        self._token = _current.set(self.metrics)
        return self.metrics

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


def _text(value: str, limit: int = 64) -> str:
    """A label value from code (outcome, reason...): bounded length and a safe alphabet."""
    return _LABEL_TEXT_RE.sub("_", value)[:limit] or "unknown"


def record_ingested(outcome: str, fmt: str, workspace_id: str | None = None) -> None:
    """Count one alert through the pipeline, e.g. `record_ingested("created", "alertmanager")`.
    `outcome` and `fmt` must come from a fixed set in code, never from the payload."""
    metrics = _current.get()
    if metrics is not None:
        labels = (_text(outcome), _text(fmt), *metrics.workspace_labels(workspace_id))
        metrics.ingested.labels(*labels).inc()


def record_webhook_refused(reason: str, workspace_id: str | None = None) -> None:
    """Count one refused webhook delivery, e.g. `record_webhook_refused("bad_token")`. Pass
    `workspace_id` only once the token proved it (never the slug from the path)."""
    metrics = _current.get()
    if metrics is not None:
        metrics.webhook_refused.labels(_text(reason), *metrics.workspace_labels(workspace_id)).inc()


def record_rate_limited(bucket: str = "api", workspace_id: str | None = None) -> None:
    """Count one request refused by a rate limit (`bucket`: "api" or "webhook")."""
    metrics = _current.get()
    if metrics is not None:
        metrics.rate_limited.labels(_text(bucket), *metrics.workspace_labels(workspace_id)).inc()


def record_graphql_fallback(reason: str) -> None:
    """Count one query the cached plans handed to the standard executor; `reason` comes from
    the plans' fixed set (`schema.plan.values.REASONS`), never from the document."""
    metrics = _current.get()
    if metrics is not None:
        metrics.graphql_fallbacks.labels(_text(reason)).inc()
