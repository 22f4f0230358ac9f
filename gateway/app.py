"""The aiohttp application factory: the one place that composes `gateway`, `schema` and
`rest_compat` into a running service."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.db import Database
from gateway.http.graphql import GraphQLHandler
from gateway.http.health import DB_KEY, healthz, readyz
from gateway.http.middleware import DEBUG_HEADERS_KEY, request_context
from gateway.settings import Settings
from schema.executor import GraphQLExecutor

log = logging.getLogger("seliq")

SETTINGS_KEY = web.AppKey("settings", Settings)
EXECUTOR_KEY = web.AppKey("executor", GraphQLExecutor)

DEFAULT_QUERY = """# Paste your API key into the Authorization header below, then press Run.
query Dashboard {
  viewer { name actingWorkspace { slug name tier } }
  incidents(first: 5, filter: {status: [TRIGGERED, ACKNOWLEDGED]}) {
    totalCount
    edges { node { id number title status severity assignee alertCount createdAt } }
  }
}
"""


def graphiql_page(settings: Settings) -> str | None:
    if not settings.graphiql:
        return None
    try:
        from gateway.graphiql import render_graphiql_page
    except ImportError:  # pragma: no cover - the offline assets are part of the package
        return None
    return render_graphiql_page(default_query=DEFAULT_QUERY)


def create_app(settings: Settings, db: Database | None = None) -> web.Application:
    """Build the application. `db` may be passed in to share an engine (tests, benchmarks)."""
    database = db or Database(settings.database_url)
    app = web.Application(middlewares=[request_context], client_max_size=1024 * 1024)
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = database
    app[DEBUG_HEADERS_KEY] = settings.debug_headers
    executor = GraphQLExecutor(database)
    app[EXECUTOR_KEY] = executor

    graphql = GraphQLHandler(database, executor, graphiql_page(settings))
    app.router.add_route("*", "/graphql", graphql)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.graphiql:
        try:
            from gateway.graphiql import add_graphiql_assets

            add_graphiql_assets(app)
        except ImportError:  # pragma: no cover
            log.warning("GraphiQL assets are missing; the IDE is unavailable")

    if db is None:

        async def close_db(app: web.Application) -> None:
            await database.dispose()

        app.on_cleanup.append(close_db)
    return app
