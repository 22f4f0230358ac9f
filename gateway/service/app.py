"""The aiohttp application factory: the one place that composes `gateway`, `schema` and
`rest_compat` into a running service."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.domain.events.brokers import build_broker
from gateway.domain.ratelimit.local import Limiter, LocalLimiter
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import Principal
from gateway.service import lifecycle
from gateway.service.chat_client import summarizer_from_settings
from gateway.service.http.connection import handler_args, set_server_header
from gateway.service.http.cors import CORS_ORIGINS_KEY, cors
from gateway.service.http.graphql import GraphQLHandler
from gateway.service.http.health import DB_KEY, LIMITER_KEY, healthz, readyz
from gateway.service.http.middleware import DEBUG_HEADERS_KEY, TIMEOUT_KEY, request_context
from gateway.service.http.persisted_queries import PersistedQueries
from gateway.service.http.websocket import SubscriptionView
from gateway.service.observability import add_metrics
from gateway.web.principal import AUTH_CACHE_KEY, AuthCache
from rest_compat import setup_rest
from schema.executor import GraphQLExecutor
from schema.limits import Limits

log = logging.getLogger("seliq")

SETTINGS_KEY = web.AppKey("settings", Settings)
EXECUTOR_KEY = web.AppKey("executor", GraphQLExecutor)

_DASHBOARD = """# Subscriptions run here too (over WebSocket), e.g.
# subscription { alertsIngested { alert { title } } }
query Dashboard {
  viewer { name actingWorkspace { slug name tier } }
  incidents(first: 5, filter: {status: [TRIGGERED, ACKNOWLEDGED]}) {
    totalCount
    edges { node { id number title status severity assignee alertCount createdAt } }
  }
}
"""
DEFAULT_QUERY = "# Paste your API key into Headers below, then press Run.\n" + _DASHBOARD
#: The page of `serve --demo`, whose headers already carry the demo key.
DEMO_QUERY = "# Demo: the acme-corp key is in Headers below; press Run.\n" + _DASHBOARD


def graphiql_page(settings: Settings, demo_key: str | None = None) -> str | None:
    """The GraphiQL page, or None when SELIQ_GRAPHIQL is off.

    With `demo_key` (only `serve --demo` passes one, for the key it just minted) the headers
    editor opens with that key, so the schema, docs and autocompletion load without pasting
    anything; the page then hands the key to whoever can open it, which is the point of a demo
    on loopback and why nothing else ever passes a key here.
    """
    if not settings.graphiql:
        return None
    try:
        from gateway.service.graphiql import render_graphiql_page
    except ImportError:  # pragma: no cover - the offline assets are part of the package
        return None
    if demo_key is None:
        return render_graphiql_page(default_query=DEFAULT_QUERY)
    return render_graphiql_page(
        default_query=DEMO_QUERY, headers={"Authorization": f"Bearer {demo_key}"}
    )


def query_limits(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.query_max_depth,
        max_aliases=settings.query_max_aliases,
        max_tokens=settings.query_max_tokens,
        max_characters=settings.query_max_characters,
        max_directives=settings.query_max_directives,
        max_root_fields=settings.query_max_root_fields,
        max_nodes=settings.query_max_nodes,
        max_node_ids=settings.query_max_node_ids,
        max_input_list=settings.query_max_input_list,
    )


def build_limiter(settings: Settings) -> Limiter:
    if settings.redis_url:
        from gateway.domain.ratelimit.redis_counts import RedisLimiter

        return RedisLimiter(settings.redis_url)
    return LocalLimiter()


def _shutdown(subscriptions: SubscriptionView) -> Callable[[web.Application], Awaitable[None]]:
    """SIGTERM, first step after the listening socket closed (aiohttp then waits for requests
    in flight): close subscriptions with 1001, stop the SLA sweeper and hand the report job in
    flight back to the queue."""

    async def shutdown(app: web.Application) -> None:
        await subscriptions.close_all()
        worker = app.get(lifecycle.WORKER_KEY)
        if worker is not None:
            await worker.stop()
        sweeper = app.get(lifecycle.SWEEPER_KEY)
        if sweeper is not None:
            await sweeper.stop()

    return shutdown


def create_app(
    settings: Settings, db: Database | None = None, *, demo_key: str | None = None
) -> web.Application:
    """Build the application. `db` may be passed in to share an engine (tests, benchmarks);
    `demo_key` only by `serve --demo`, to open GraphiQL with that key (see `graphiql_page`)."""
    database = db or Database(settings.database_url)
    app = web.Application(
        middlewares=[cors, request_context], client_max_size=1024 * 1024,
        handler_args=handler_args(settings.header_read_timeout_seconds),
    )
    app.on_response_prepare.append(set_server_header)
    app[TIMEOUT_KEY] = settings.request_timeout_seconds
    app[CORS_ORIGINS_KEY] = settings.allowed_origins
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = database
    app[DEBUG_HEADERS_KEY] = settings.debug_headers
    summarizer = summarizer_from_settings(settings)
    limiter = build_limiter(settings)
    app[LIMITER_KEY] = limiter
    app[AUTH_CACHE_KEY] = AuthCache[Principal](settings.auth_cache_seconds)
    executor = GraphQLExecutor(database, limiter, query_limits(settings), summarizer=summarizer)
    app[EXECUTOR_KEY] = executor
    # Live events after commit: in memory, PostgreSQL LISTEN/NOTIFY or Redis pub/sub;
    # started before the background work that publishes, stopped after it.
    broker = build_broker(
        settings.database_url, settings.redis_url, settings.events_channel
    )
    app[lifecycle.BROKER_KEY] = broker
    app.cleanup_ctx.append(lifecycle.event_broker(broker, database))
    # Background work, stopped before the database closes: SLA sweeper, report worker.
    app.cleanup_ctx.append(lifecycle.summarizer(summarizer))
    app.cleanup_ctx.append(lifecycle.sla_sweeper(database, settings.sla_sweep_seconds))
    app.cleanup_ctx.append(lifecycle.report_worker(
        database, settings.report_poll_seconds, settings.report_lease_seconds
    ))
    subscriptions = SubscriptionView(
        executor.schema, db=database, hub=broker.hub, limiter=limiter, limits=executor.limits,
        summarizer=summarizer, allowed_origins=settings.allowed_origins,
    )
    app.on_shutdown.append(_shutdown(subscriptions))

    persisted = PersistedQueries(max_query_characters=settings.query_max_characters)
    graphql = GraphQLHandler(
        database, executor, graphiql_page(settings), subscriptions, persisted,
        demo_html=graphiql_page(settings, demo_key) if demo_key else None,
    )
    app.router.add_route("*", "/graphql", graphql.handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    from rest_compat.webhook import setup_webhook

    setup_webhook(
        app, db=database, executor=executor, rate_limit=settings.webhook_rate_limit,
        auth_cache_seconds=settings.auth_cache_seconds,
    )  # POST /webhook/{slug}/{token} and POST /webhook/{slug} (token in Authorization: Bearer)
    setup_rest(app, db=database, executor=executor)  # /v1/... and /v1/openapi.json
    add_metrics(app, database, per_workspace=settings.metrics_per_workspace)  # GET /metrics
    if settings.graphiql:
        try:
            from gateway.service.graphiql import add_graphiql_assets

            add_graphiql_assets(app)
        except ImportError:  # pragma: no cover
            log.warning("GraphiQL assets are missing; the IDE is unavailable")

    async def end_group_commit(app: web.Application) -> None:
        # After the grace period: a group still committing is cancelled and rolls back.
        await database.grouped.close()

    app.on_cleanup.append(end_group_commit)
    if db is None:

        async def close_db(app: web.Application) -> None:
            await database.dispose()

        app.on_cleanup.append(close_db)
    return app
