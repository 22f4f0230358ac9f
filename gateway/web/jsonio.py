"""JSON responses, encoded by `gateway.domain.jsontext` (orjson, several times faster than the
stdlib encoder on our bodies, with exact integers beyond 64 bits)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.domain import jsontext


def json_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    return web.Response(
        body=jsontext.dumps(body),
        status=status,
        headers=headers,
        content_type=content_type,
    )


# The REST error code of each HTTP status (DESIGN.md), for answers that have no more specific one.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}


def error_code(status: int) -> str:
    return ERROR_CODES.get(status, "internal" if status >= 500 else "invalid_request")


def rest_error(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    field: str | None = None,
) -> web.Response:
    """The REST error body of DESIGN.md: `{"error": {"code", "message", "request_id"}}`, plus
    `field` when one parameter or body field is at fault."""
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id_of(request)}
    if field is not None:
        error["field"] = field
    return json_response({"error": error}, status=status, headers=headers)


def graphql_error_response(
    request: web.Request,
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A GraphQL-shaped error body (`errors[0].extensions.code`, `request_id`) for answers made
    before or instead of execution."""
    body = {
        "errors": [
            {"message": message, "extensions": {"code": code, "request_id": request_id_of(request)}}
        ]
    }
    return json_response(body, status=status, headers=headers)


REQUEST_ID_KEY = web.RequestKey("request_id", str)


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY, "")
