"""`/graphql` over HTTP, following the GraphQL-over-HTTP spec: POST (application/json) for every
operation, GET for queries only, GraphiQL for a browser.

Authentication happens before anything is parsed: a missing or bad key is a 401 and a workspace
the key may not act on a 403, with a GraphQL-shaped error body, so clients see the same codes
(`extensions.code`) as for errors raised during execution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from gateway.domain import jsontext
from gateway.domain.errors import DomainError, Unauthenticated
from gateway.domain.storage.engine import Database
from gateway.service.http.persisted_queries import (
    NOT_FOUND,
    PersistedQueries,
    PersistedQueryNotFound,
)
from gateway.web.jsonio import graphql_error_response, json_response, request_id_of
from gateway.web.labels import INVALID, OPERATION_KEY, graphql_operation_label, note_query_cost
from gateway.web.operations import Executor, OperationRefused
from gateway.web.principal import PRINCIPAL_KEY, principal_for

GRAPHQL_RESPONSE = "application/graphql-response+json"
STATUS_FOR_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}


WebSocketHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GraphQLHandler:
    def __init__(
        self,
        db: Database,
        executor: Executor,
        graphiql_html: str | None,
        websocket: WebSocketHandler | None = None,
        persisted: PersistedQueries | None = None,
        demo_html: str | None = None,
    ) -> None:
        self.db = db
        self.executor = executor
        # Automatic persisted queries (Apollo's protocol): documents by sha256 hash.
        self.persisted = persisted or PersistedQueries()
        self.graphiql_html = graphiql_html
        # `serve --demo`: the page with the demo key in its headers, for loopback hosts only.
        self.demo_html = demo_html
        # Subscriptions (graphql-transport-ws): the app factory passes
        # `gateway.service.http.websocket`'s view.
        self.websocket = websocket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            request[OPERATION_KEY] = "<subscriptions>"
            if self.websocket is None:
                return graphql_error_response(
                    request, 400, "subscriptions are not served here", "BAD_REQUEST"
                )
            return await self.websocket(request)
        if request.method == "GET" and _wants_html(request) and "query" not in request.query:
            if self.graphiql_html is None:
                raise web.HTTPNotFound(text="GraphiQL is turned off (SELIQ_GRAPHIQL=false)")
            page = self.demo_html if self.demo_html and _loopback_host(request) else None
            return web.Response(text=page or self.graphiql_html, content_type="text/html")
        if request.method not in ("GET", "POST"):
            return graphql_error_response(
                request,
                405,
                "GraphQL only supports GET and POST",
                "METHOD_NOT_ALLOWED",
                {"Allow": "GET, POST"},
            )
        try:
            params = await _read_params(request)
        except OperationRefused as exc:
            return graphql_error_response(request, exc.status, exc.message, exc.code)
        try:
            principal = await principal_for(request, self.db)
        except DomainError as exc:
            status = STATUS_FOR_CODE.get(exc.code, 400)
            headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
            return graphql_error_response(request, status, exc.message, exc.code, headers)
        request[PRINCIPAL_KEY] = principal
        try:
            # After authentication: only callers with a key can add documents to the store.
            query = _require_query(self.persisted.resolve(
                params["query"], params["extensions"], principal.own_workspace_id
            ))
        except PersistedQueryNotFound as exc:
            return graphql_error_response(
                request, 200, str(exc), NOT_FOUND,
                {"Cache-Control": "private, no-cache, must-revalidate"},
            )
        except OperationRefused as exc:
            return graphql_error_response(request, exc.status, exc.message, exc.code)
        try:
            outcome = await self.executor.run(
                query,
                params["variables"],
                params["operationName"],
                principal,
                request_id_of(request),
                allow_mutations=request.method == "POST",
            )
        except OperationRefused as exc:
            headers = {"Allow": "POST"} if exc.status == 405 else None
            return graphql_error_response(request, exc.status, exc.message, exc.code, headers)
        # The metrics label and the access log's operation: taken only from an authenticated
        # caller's document that validated, so nobody can fill the label set with made-up names
        # (the first MAX_OPERATION_LABELS names a process sees become its labels).
        request[OPERATION_KEY] = (
            INVALID if outcome.not_executed
            else graphql_operation_label(query, params["operationName"])
        )
        note_query_cost(request, outcome.body)  # for the access log line
        strict = GRAPHQL_RESPONSE in request.headers.get("Accept", "")
        status = 400 if strict and outcome.not_executed else 200
        content_type = GRAPHQL_RESPONSE if strict else "application/json"
        return json_response(outcome.body, status=status, content_type=content_type)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _loopback_host(request: web.Request) -> bool:
    """The page was asked for by a loopback name: a page carrying the demo key is not handed to
    a browser that reached the gateway through another name (DNS rebinding, a shared port)."""
    try:
        hostname = urlsplit(f"//{request.host}").hostname
    except ValueError:
        return False
    return hostname in LOOPBACK_HOSTS


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept


async def _read_params(request: web.Request) -> dict[str, Any]:
    """query / variables / operationName from the query string (GET) or JSON body (POST)."""
    if request.method == "GET":
        raw: dict[str, Any] = dict(request.query)
        for name in ("variables", "extensions"):
            if isinstance(raw.get(name), str):
                try:
                    raw[name] = jsontext.loads(
                        raw[name], what=f"`{name}` in the query string", text=False
                    )
                except jsontext.BadJson as exc:
                    raise OperationRefused(exc.message, 400, "BAD_REQUEST") from None
    else:
        if request.content_type != "application/json":
            raise OperationRefused(
                "POST /graphql takes Content-Type: application/json", 415, "UNSUPPORTED_MEDIA_TYPE"
            )
        try:
            # Text is checked per argument before execution (schema.limits), to name it.
            raw = jsontext.loads(await request.read(), what="the request body", text=False)
        except jsontext.BadJson as exc:
            raise OperationRefused(exc.message, 400, "BAD_REQUEST") from None
        if isinstance(raw, list):
            raise OperationRefused(
                "batched (array) requests are not supported; send one operation per request",
                400,
                "BAD_REQUEST",
            )
        if not isinstance(raw, dict):
            raise OperationRefused("the request body must be a JSON object", 400, "BAD_REQUEST")
    query = raw.get("query")
    extensions = raw.get("extensions")
    if extensions is None or (isinstance(extensions, dict) and "persistedQuery" not in extensions):
        query = _require_query(query)  # otherwise the hash may stand for it
    elif not isinstance(extensions, dict):
        raise OperationRefused("`extensions` must be an object or null", 400, "BAD_REQUEST")
    variables = raw.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise OperationRefused("`variables` must be an object or null", 400, "BAD_REQUEST")
    operation_name = raw.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise OperationRefused("`operationName` must be a string or null", 400, "BAD_REQUEST")
    return {
        "query": query, "variables": variables, "operationName": operation_name,
        "extensions": extensions,
    }


def _require_query(query: Any) -> str:
    if not isinstance(query, str) or not query.strip():
        raise OperationRefused("`query` must be a non-empty string", 400, "BAD_REQUEST")
    return query
