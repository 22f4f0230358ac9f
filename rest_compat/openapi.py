"""`GET /v1/openapi.json`: an OpenAPI 3.1 document generated from the routing table, its
parameters, bodies and shapes, so it cannot drift from what the routes do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_compat.params import EnumList, Param
from rest_compat.results import PAGINATION_SCHEMA
from rest_compat.route import Route

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
        "`invalid_request`: a bad query or path parameter (the message names it and what it "
        "accepts), or a body that is not a JSON object sent as `application/json`.",
    ),
    401: ("Unauthenticated", "`unauthenticated`: missing, unknown or revoked API key."),
    403: (
        "Forbidden",
        "`forbidden`: the key may not act on the workspace in `X-Workspace-ID` (the same body "
        "whether it exists or not), or a read-scope key on a route that writes.",
    ),
    404: (
        "NotFound",
        "`not_found`: nothing with that id in the acting workspace (another workspace's ids "
        "are not found either).",
    ),
    409: (
        "Conflict",
        "`conflict`: the report is not ready, so it has no rendering yet; retry once its "
        "`status` is `ready`.",
    ),
    413: ("PayloadTooLarge", "`payload_too_large`: the body is over 1 MiB."),
    422: (
        "ValidationFailed",
        "`validation_failed`: a body field is missing or has a value the operation refuses "
        "(including a status change the incident's state does not allow); `field` names it.",
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
  workspace below the key's own to act on.
- JSON keys are snake_case, enum values lower-case, timeline event types dotted
  (`status.changed`), timestamps ISO 8601 UTC ending in `Z`.
- Lists answer `{"data": [...], "pagination": {"limit", "next_cursor", "has_more"}}`: pass
  `next_cursor` as `cursor` for the next page. Unknown query parameters are ignored; empty ones
  count as absent; comma-separated filters accept any case.
- Errors answer `{"error": {"code", "message", "request_id"}}` (plus `field` when a parameter or
  body field is at fault). Every response carries `X-Request-ID`.
- Rate limits are per calling workspace (starter 60, growth 300, enterprise its own number of
  units per minute; a call costs what its GraphQL operation costs). Every authenticated response
  carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds when
  the bucket is full again); a refused call is a 429 with `Retry-After`.
"""


def _param(param: Param) -> dict[str, Any]:
    schema = param.kind.schema()
    if param.location == "path":
        schema["minLength"] = 1
    doc: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "schema": schema,
    }
    if param.description:
        doc["description"] = param.description
    if isinstance(param.kind, EnumList):
        doc["style"] = "form"
        doc["explode"] = False
    return doc


def _with_request_id(response: dict[str, Any]) -> dict[str, Any]:
    headers = dict(response.get("headers") or {})
    headers["X-Request-ID"] = {"$ref": "#/components/headers/RequestId"}
    return {**response, "headers": headers}


def _operation(route: Route) -> dict[str, Any]:
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
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body.json_schema()}},
        }
    responses = {status: _with_request_id(doc) for status, doc in route.result.responses().items()}
    errors = set(EVERY_ROUTE) | set(route.result.error_statuses())
    if route.body is not None:
        errors |= set(WITH_BODY)
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


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
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, "Pagination": PAGINATION_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for route in routes:
        for shape in route.result.shapes:
            schemas[shape.name] = shape.json_schema()
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
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
                    "description": "The workspace to act on (id or slug): the key's own "
                    "(default) or one below it.",
                    "schema": {"type": "string"},
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
