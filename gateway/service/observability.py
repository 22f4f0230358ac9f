"""What operators see: Prometheus metrics at `/metrics` and one JSON log line per request.

Metrics live in a `CollectorRegistry` owned by each application (`METRICS_KEY`), never in
prometheus-client's process-global registry, so several apps in one process (tests, benchmarks)
keep separate counts. Code that has no request at hand (ingestion, the webhook, rate limits, report
workers) records through the module functions `record_ingested`, `record_webhook_refused` and
`record_rate_limited`; they write to the metrics of the app serving the current request (bound in a
context variable by the request middleware and at app start-up, so tasks started from the app
inherit it) and do nothing outside one, e.g. in CLI commands.

Label values never carry workspace ids unless `SELIQ_METRICS_PER_WORKSPACE=true`: each workspace
would multiply every series, and an MSSP has thousands of them. Routes are the aiohttp route's
canonical path (`/v1/incidents/{id}`), never the raw path, which could hold ids or the webhook's
secret token. GraphQL operation names come from the client, so they are checked against the
GraphQL name grammar and capped (`MAX_OPERATION_LABELS` distinct names, then `<other>`).

Logs are stdlib `logging` with `JsonFormatter` (orjson): one object per line, with any `extra=`
fields. The access line (logger `seliq.access`) carries request id, workspace, key id, route or
operation name, status, duration and cost, never a header, query string or body; as a second line
of defence the formatter masks anything shaped like an API key, webhook token or bearer credential.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

import orjson
from aiohttp import web
from graphql import GraphQLError
from graphql.language import Lexer, Source, TokenKind
from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlmodel import col

from gateway.db import Database, StatementCounter
from gateway.http.jsonio import request_id_of
from gateway.http.principal import PRINCIPAL_KEY
from gateway.models import Report

__all__ = [
    "COST_KEY",
    "METRICS_KEY",
    "OPERATION_KEY",
    "JsonFormatter",
    "Metrics",
    "RequestObserver",
    "add_metrics",
    "configure_logging",
    "graphql_operation_label",
    "metrics_scope",
    "note_query_cost",
    "record_ingested",
    "record_rate_limited",
    "record_webhook_refused",
]

access_log = logging.getLogger("seliq.access")
log = logging.getLogger("seliq.metrics")

#: The GraphQL operation name of this request (set by the /graphql handler, or by the REST layer
#: for the operation a route runs); a label of the request metrics and a field of the access log.
OPERATION_KEY = web.RequestKey("graphql_operation", str)
#: The query cost of this request, when the query-limits code computed one (access log `cost`).
COST_KEY = web.RequestKey("query_cost", int)

ANONYMOUS = "<anonymous>"
INVALID = "<invalid>"
OTHER = "<other>"
UNMATCHED = "<unmatched>"
MAX_OPERATION_LABELS = 200
# Requests to these routes are logged at DEBUG: scrapes and probes arrive every few seconds.
QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REPORT_QUERY_TIMEOUT = 2.0

_NAME_RE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}$")
_LABEL_TEXT_RE = re.compile(r"[^0-9A-Za-z_.:-]")
_MAX_TOKENS = 4000


# --------------------------------------------------------------------------------------------
# Metrics


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


METRICS_KEY = web.AppKey("metrics", Metrics)
_current: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar(
    "seliq_metrics", default=None
)


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


async def metrics_handler(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text format (OpenMetrics when the scraper asks for it)."""
    metrics = request.app[METRICS_KEY]
    await metrics.refresh()
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = web.Response(body=encoder(metrics.registry))
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response


def add_metrics(app: web.Application, db: Database, *, per_workspace: bool = False) -> Metrics:
    """Create the app's metrics, serve them at GET /metrics (no authentication: expose the port
    to the scraper only), and bind them for tasks started from the app's start-up."""
    metrics = Metrics(per_workspace=per_workspace, db=db)
    app[METRICS_KEY] = metrics
    app.router.add_get("/metrics", metrics_handler, name="metrics")

    async def bind(app: web.Application) -> None:
        # Signals are awaited in the starting task, so this binding is inherited by every task
        # created afterwards from it (workers started in later on_startup / cleanup_ctx hooks).
        _current.set(metrics)

    app.on_startup.insert(0, bind)
    return metrics


# --------------------------------------------------------------------------------------------
# Per-request observation (metrics + access log), used by the request middleware


def graphql_operation_label(query: str, operation_name: str | None) -> str:
    """The operation name of a GraphQL request, for metrics and logs.

    The client's `operationName` if it is a valid GraphQL name; otherwise the name of the first
    operation in the document, found by lexing only up to it (cheap: no parse), `<anonymous>` for
    an unnamed one, `<invalid>` when the document has no operation or does not lex.
    """
    if operation_name:
        return operation_name if _NAME_RE.match(operation_name) else INVALID
    try:
        lexer = Lexer(Source(query))
        braces = parens = 0
        fragment = False  # a `fragment` definition started; its `{` is not a shorthand query
        for _ in range(_MAX_TOKENS):
            token = lexer.advance()
            kind = token.kind
            if kind == TokenKind.EOF:
                return INVALID
            if kind == TokenKind.PAREN_L:
                parens += 1
            elif kind == TokenKind.PAREN_R:
                parens -= 1
            elif kind == TokenKind.BRACE_L and parens == 0:
                if braces == 0:
                    if not fragment:
                        return ANONYMOUS  # `{ ... }` shorthand query
                    fragment = False
                braces += 1
            elif kind == TokenKind.BRACE_R and parens == 0:
                braces -= 1
            elif kind == TokenKind.NAME and braces == 0 and parens == 0:
                if fragment or token.value == "fragment":
                    fragment = True  # names in a fragment's header are not keywords
                    continue
                if token.value not in ("query", "mutation", "subscription"):
                    continue
                following = lexer.lookahead()
                if following.kind == TokenKind.NAME and following.value:
                    return following.value[:128]
                return ANONYMOUS
    except GraphQLError:
        return INVALID
    return INVALID


def note_query_cost(request: web.Request, body: dict[str, Any]) -> None:
    """Keep the cost the executor reported (`extensions.cost.requestedQueryCost`) for the log."""
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    value = cost.get("requestedQueryCost") if isinstance(cost, dict) else None
    if isinstance(value, int):
        request[COST_KEY] = value


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


class RequestObserver:
    """`with RequestObserver(request, counter) as seen: ...; seen.status = response.status`

    Binds the app's metrics for the request, then on exit counts it, observes its latency and
    writes its access log line; an exception leaving the block sets the status (HTTPException:
    its status; cancelled by a client that went away: 499; anything else: 500). Never raises.
    """

    def __init__(self, request: web.Request, counter: StatementCounter | None = None) -> None:
        self.request = request
        self.counter = counter
        self.status = 500
        self.metrics = request.app.get(METRICS_KEY)

    def __enter__(self) -> RequestObserver:
        self.started = time.perf_counter()
        self._token = _current.set(self.metrics)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _current.reset(self._token)
        if isinstance(exc, web.HTTPException):
            self.status = exc.status
        elif isinstance(exc, asyncio.CancelledError):
            self.status = 499
        elif exc is not None:
            self.status = 500
        try:
            self._finish(time.perf_counter() - self.started)
        except Exception:  # observability must never turn an answer into an error
            log.exception("could not record request metrics")

    def _finish(self, elapsed: float) -> None:
        request = self.request
        route = route_label(request)
        operation = request.get(OPERATION_KEY, "")
        principal = request.get(PRINCIPAL_KEY)
        workspace_id = principal.acting_workspace_id if principal is not None else None
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        metrics = self.metrics
        if metrics is not None:
            op_label = metrics.operation_label(operation) if operation else ""
            ws = metrics.workspace_labels(workspace_id)
            metrics.requests.labels(method, route, op_label, str(self.status), *ws).inc()
            metrics.latency.labels(method, route, op_label, *ws).observe(elapsed)
        if self.status >= 500:
            level = logging.ERROR
        elif route in QUIET_ROUTES:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not access_log.isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "request_id": request_id_of(request),
            "method": method,
            "route": route,
            **({"operation": operation} if operation else {}),
            "status": self.status,
            "duration_ms": round(elapsed * 1000, 2),
        }
        if principal is not None:
            fields["workspace_id"] = principal.acting_workspace_id
            fields["key_id"] = principal.key_id
        cost = request.get(COST_KEY)
        if cost is not None:
            fields["cost"] = cost
        if self.counter is not None:
            fields["sql_statements"] = self.counter.count
        access_log.log(level, "request", extra=fields)


# --------------------------------------------------------------------------------------------
# JSON logs

_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}
# API keys (`seliq_` + 43 url-safe chars), webhook tokens (`whk_` + 43) and bearer credentials.
_SECRET_RE = re.compile(r"\b((?:seliq|whk)_)[A-Za-z0-9_-]{32,}|(?i:\b(bearer\s+))[^\s\"\\]+")


def redact(text: str) -> str:
    """Mask anything shaped like an API key, webhook token or bearer credential."""
    return _SECRET_RE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ms), level, logger, msg, then any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return redact(line)


class _SeliqHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so calling it again replaces it."""


def configure_logging(
    level: str = "INFO", *, json: bool = True, stream: IO[str] | None = None
) -> None:
    """Process logging: one handler on the root logger writing JSON lines (or bare messages when
    `json` is false) to stderr, at `level` (SELIQ_LOG_LEVEL). Our `seliq.access` line replaces
    aiohttp's own access log, which is turned down to warnings."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _SeliqHandler)]:
        root.removeHandler(handler)
    handler = _SeliqHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def iter_log_lines(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects among `text`'s lines (tests and tooling)."""
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value
