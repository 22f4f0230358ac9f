"""`GET /v1/openapi.json`: an OpenAPI 3.1 document generated from the routing table, its
parameters, bodies and shapes, so it cannot drift from what the routes do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_compat.bodies import JSON_VALUE
from rest_compat.documents import RestSetupError
from rest_compat.ingest_body import SCHEMAS as INGEST_SCHEMAS
from rest_compat.params import PageSize, Param
from rest_compat.patterns import SLUG, id_body
from rest_compat.results import PAGINATION_SCHEMA
from rest_compat.route import Link, Route

ERROR_CODES = (
    "invalid_request",
    "unauthenticated",
    "forbidden",
    "not_found",
    "conflict",
    "payload_too_large",
    "validation_failed",
    "rate_limited",
    "internal",
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": list(ERROR_CODES)},
                "message": {"type": "string"},
                "request_id": {"type": "string", "description": "Also in `X-Request-ID`."},
                "field": {
                    "type": "string",
                    "description": "The parameter or body field at fault, when there is one.",
                },
            },
            "required": ["code", "message", "request_id"],
            "additionalProperties": False,
        }
    },
    "required": ["error"],
    "additionalProperties": False,
}

# status -> (component name, description)
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: (
        "InvalidRequest",
        "`invalid_request`: a query, path or header parameter outside what this document says "
        "it takes, empty values included (the message names it and what it accepts; so does "
        "`field`), or a body that is not a JSON object sent as `application/json`, holds a NUL "
        "or nests deeper than 64 levels. `POST /v1/alerts` also answers its body's refusals so.",
    ),
    401: ("Unauthenticated", "`unauthenticated`: missing, unknown or revoked API key."),
    403: (
        "Forbidden",
        "`forbidden`: the key may not act on the workspace in `X-Workspace-ID` (the same body "
        "whether it exists or not), or a read-scope key on a route that writes.",
    ),
    404: (
        "NotFound",
        "`not_found`: nothing with that id in the acting workspace (another workspace's ids, "
        "and ids of another kind, are not found either).",
    ),
    409: (
        "Conflict",
        "`conflict`: the resource's current state refuses the request: a status change the "
        "incident's status does not allow (statuses only move forward), or a rendering of a "
        "report that is not ready yet (retry once its `status` is `ready`).",
    ),
    413: ("PayloadTooLarge", "`payload_too_large`: the body is over 1 MiB."),
    422: (
        "ValidationFailed",
        "`validation_failed`: a body field has a value the route refuses (`field` names it), "
        "including what a schema cannot state, such as a report period that ends before it "
        "starts or spans more than 366 days; on `POST /v1/alerts`, an `Idempotency-Key` "
        "already used with a different body.",
    ),
    429: ("RateLimited", "`rate_limited`: too many requests; see `Retry-After`."),
    500: ("Internal", "`internal`: an unexpected error; quote the request id."),
    503: ("Unavailable", "`unavailable`: the database is busy; nothing was written. Retry "
          "after `Retry-After`."),
    504: ("Timeout", "`timeout`: the request ran past the deadline (10 s) and was cancelled."),
}
EVERY_ROUTE = (400, 401, 403, 429, 500, 503, 504)
WITH_BODY = (413, 422)

DESCRIPTION = """\
The v1 REST API of Seliq, served by translating each route into a GraphQL operation run against
the same schema as `/graphql`.

- Authenticate with `Authorization: Bearer <key>`. `X-Workspace-ID` (an id or a slug) selects a
  workspace below the key's own to act on; empty or absent, the key's own.
- JSON keys are snake_case, enum values lower-case, timeline event types dotted
  (`status.changed`), timestamps ISO 8601 UTC ending in `Z`.
- Lists answer `{"data": [...], "pagination": {"limit", "next_cursor", "has_more"}}`: pass
  `next_cursor` as `cursor` for the next page, as it came (cursors are `<number>.<id>` and
  belong to their list). Unknown query parameters are ignored. An empty value counts as absent
  for free-text filters (`q=`) and is refused for every other parameter (`status=`, `limit=`);
  comma-separated filters accept any case and blanks around items, never an empty item.
- Every parameter and body field states what the server accepts (patterns, lengths, enums,
  date ranges): a request this document calls valid is served, one it calls invalid is refused
  with 400 `invalid_request` (parameters, bodies that are not JSON objects) or 422
  `validation_failed` (a body field, naming it). Rules across fields, which a schema cannot
  state, are in the field descriptions.
- Errors answer `{"error": {"code", "message", "request_id"}}` (plus `field` when a parameter or
  body field is at fault). Every response carries `X-Request-ID`.
- Rate limits are per calling workspace (starter 60, growth 300, enterprise its own number of
  units per minute; a call costs what its GraphQL operation costs). Every authenticated response
  carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds when
  the bucket is full again); a refused call is a 429 with `Retry-After`.
"""


def _param(param: Param) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "schema": param.kind.schema(),
    }
    if param.description:
        doc["description"] = param.description
    if param.example is not None:
        doc["example"] = param.kind.parse(param.example) if isinstance(
            param.kind, PageSize
        ) else param.example
    return doc


def _with_request_id(response: dict[str, Any]) -> dict[str, Any]:
    headers = dict(response.get("headers") or {})
    headers["X-Request-ID"] = {"$ref": "#/components/headers/RequestId"}
    return {**response, "headers": headers}


def _operation(route: Route, targets: dict[str, Route]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": [
            {"$ref": "#/components/parameters/WorkspaceId"},
            *(_param(p) for p in route.params),
        ],
    }
    if route.tag:
        operation["tags"] = [route.tag]
    if route.description:
        operation["description"] = route.description
    if route.body is not None:
        media: dict[str, Any] = {"schema": route.body.json_schema()}
        if route.body.examples:
            media["examples"] = {name: {"value": value} for name, value in route.body.examples}
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    responses = {status: _with_request_id(doc) for status, doc in route.result.responses().items()}
    if route.links:
        for status, response in responses.items():
            response["links"] = {
                link.operation: _link(link, targets[link.operation], status)
                for link in route.links
            }
    errors = set(EVERY_ROUTE) | set(route.result.error_statuses())
    if route.body is not None:
        errors |= set(WITH_BODY)
    for error in sorted(errors):
        responses[str(error)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[error][0]}"}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _link(link: Link, target: Route, status: str) -> dict[str, Any]:
    names = {p.name for p in target.params}
    for name, _ in link.parameters:
        if name not in names:
            raise RestSetupError(
                f"rest_compat: a link to {target.operation} sets `{name}`, which it does not take"
            )
    doc: dict[str, Any] = {
        "operationId": target.operation_id,
        "parameters": dict(link.parameters),
    }
    doc["description"] = link.description or f"{target.summary}, from this {status} answer."
    return doc


def _error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
    }
    if status == 401:
        response["headers"]["WWW-Authenticate"] = {
            "description": "`Bearer`.",
            "schema": {"type": "string"},
        }
    if status == 429:
        response["headers"]["Retry-After"] = {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "string"},
        }
    return response


def build_openapi(routes: Iterable[Route]) -> dict[str, Any]:
    routes = tuple(routes)
    schemas: dict[str, Any] = {
        "Error": ERROR_SCHEMA, "Pagination": PAGINATION_SCHEMA, "JsonValue": JSON_VALUE,
        **INGEST_SCHEMAS,
    }
    targets = {route.operation: route for route in routes}
    for route in routes:
        for link in route.links:
            if link.operation not in targets:
                raise RestSetupError(
                    f"rest_compat: {route.method} {route.path} links to {link.operation}, "
                    "which no route runs"
                )
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for route in routes:
        for shape in route.result.shapes:
            schemas[shape.name] = shape.json_schema()
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, targets)
        if route.tag and route.tag not in tags:
            tags.append(route.tag)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Seliq REST API", "version": "1.0.0", "description": DESCRIPTION},
        "tags": [{"name": tag} for tag in tags],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: `Authorization: Bearer seliq_...`.",
                }
            },
            "parameters": {
                "WorkspaceId": {
                    "name": "X-Workspace-ID",
                    "in": "header",
                    "required": False,
                    "description": "The workspace to act on, by id (`ws_...`) or slug: the "
                    "key's own (the default, also when empty) or one below it. Any other "
                    "workspace, existing or not, is a 403.",
                    "schema": {
                        "type": "string",
                        "pattern": f"^(?:{id_body('ws')}|{SLUG})?$",
                        "maxLength": 64,
                    },
                }
            },
            "headers": {
                "RequestId": {
                    "description": "The request's id (the caller's, when it sent a sane one).",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "schemas": dict(sorted(schemas.items())),
            "responses": {
                name: _error_response(status, description)
                for status, (name, description) in ERROR_RESPONSES.items()
            },
        },
    }
