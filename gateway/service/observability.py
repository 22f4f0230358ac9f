"""What operators see of each request: `/metrics` served from the app's `Metrics`
(`gateway.domain.metrics`), and the access log line with its counts (`RequestObserver`, used by
the request middleware).

Routes are the aiohttp route's canonical path (`/v1/incidents/{id}`), never the raw path, which
could hold ids or the webhook's secret token. The access line (logger `seliq.access`) carries
request id, workspace, key id, route or operation name, status, duration and cost, never a
header, query string or body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from typing import Any

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from gateway.domain.metrics import Metrics, bind_metrics, metrics_scope
from gateway.domain.storage.engine import Database, StatementCounter
from gateway.web.jsonio import request_id_of
from gateway.web.labels import COST_KEY, OPERATION_KEY
from gateway.web.principal import PRINCIPAL_KEY

__all__ = ["METRICS_KEY", "RequestObserver", "add_metrics"]

access_log = logging.getLogger("seliq.access")
log = logging.getLogger("seliq.metrics")

UNMATCHED = "<unmatched>"
QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

METRICS_KEY = web.AppKey("metrics", Metrics)


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
        bind_metrics(metrics)

    app.on_startup.insert(0, bind)
    return metrics


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
        self._scope = metrics_scope(self.metrics)
        self._scope.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._scope.__exit__()
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
        # Made and handled here rather than by `access_log.log`: that would look up the caller's
        # source line (a stack walk per request), which the access line never shows.
        record = access_log.makeRecord(
            access_log.name, level, "(access)", 0, "request", (), None, extra=fields
        )
        access_log.handle(record)
