"""`setup_rest`: check every row of the table against the schema, then serve it.

Per request the layer does only what GraphQL over HTTP would: authenticate, build variables, run
the (already parsed and validated, via the schema's caches) document, reshape the JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web
from graphql import GraphQLSchema

from gateway.domain import jsontext
from gateway.domain.errors import DomainError
from gateway.domain.storage.engine import Database
from gateway.web.jsonio import request_id_of
from gateway.web.labels import note_query_cost
from gateway.web.operations import Executor, OperationRefused
from gateway.web.principal import PRINCIPAL_KEY, principal_for
from rest_compat.documents import (
    Document,
    RestSetupError,
    check_enums,
    check_shape,
    validate_document,
)
from rest_compat.errors import GRAPHQL_CODES, REFUSED_CODES, RestError, error_response
from rest_compat.openapi import build_openapi
from rest_compat.results import raise_for_errors
from rest_compat.route import Route
from rest_compat.routes import ROUTES

OPENAPI_PATH = "/v1/openapi.json"


class RestHandler:
    def __init__(self, route: Route, document: Document, db: Database, executor: Executor) -> None:
        self.route = route
        self.document = document
        self.db = db
        self.executor = executor

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            principal = await principal_for(request, self.db)
        except DomainError as exc:
            status, code = GRAPHQL_CODES.get(exc.code, (500, "internal"))
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return error_response(request, status, code, exc.message, headers=headers)
        request[PRINCIPAL_KEY] = principal
        try:
            call = await self.route.bind(request)
            outcome = await self.executor.run(
                self.document.source,
                call.variables,
                self.document.name,
                principal,
                request_id_of(request),
                allow_mutations=self.document.is_mutation,
                shape=self.route.result.node_shape,
            )
            note_query_cost(request, outcome.body)  # for the access log line
            raise_for_errors(outcome.body, call.renames)
            call.shaped = outcome.shaped
            reply = self.route.result.render(outcome.body["data"], call)
        except RestError as exc:
            return exc.response(request)
        except OperationRefused as exc:  # refused before running: over the rate limit
            if exc.status not in REFUSED_CODES:
                raise
            return error_response(request, exc.status, REFUSED_CODES[exc.status], exc.message)
        return reply.response()


def graphql_schema_of(executor: Executor) -> GraphQLSchema:
    """The graphql-core schema behind the executor (a strawberry Schema at `executor.schema`)."""
    schema: Any = getattr(executor, "schema", None)
    graphql_schema = getattr(schema, "_schema", schema)
    if not isinstance(graphql_schema, GraphQLSchema):
        raise RestSetupError("rest_compat: the executor has no GraphQL schema to validate against")
    return graphql_schema


def check_routes(routes: Iterable[Route], schema: GraphQLSchema) -> list[Document]:
    """Every document loads, fits its row and validates; every shape and enum fits the schema.
    Raises RestSetupError (one line) on the first problem."""
    check_enums(schema)
    documents: list[Document] = []
    shapes = {}
    for route in routes:
        document = route.document()
        validate_document(document, schema)
        documents.append(document)
        shapes.update({shape.name: shape for shape in route.result.shapes})
    for shape in shapes.values():
        check_shape(shape)
    return documents


def setup_rest(
    app: web.Application,
    *,
    db: Database,
    executor: Executor,
    routes: tuple[Route, ...] = ROUTES,
) -> None:
    """Register the /v1 routes and /v1/openapi.json on `app`. Raises RestSetupError when a
    document does not validate against the executor's schema, so the gateway refuses to start."""
    documents = check_routes(routes, graphql_schema_of(executor))
    for route, document in zip(routes, documents, strict=True):
        handler = RestHandler(route, document, db, executor)
        app.router.add_route(route.method, route.path, handler.handle)
    # jsontext: the document holds integers beyond 64 bits (the bounds of JSON numbers).
    openapi = jsontext.dumps(build_openapi(routes))

    async def serve_openapi(request: web.Request) -> web.Response:
        return web.Response(body=openapi, content_type="application/json")

    app.router.add_get(OPENAPI_PATH, serve_openapi)
