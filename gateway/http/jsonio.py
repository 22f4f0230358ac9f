"""JSON responses through orjson (several times faster than the stdlib encoder on our bodies)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def json_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type=content_type,
    )


def rest_error(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The REST error body of DESIGN.md: `{"error": {"code", "message", "request_id"}}`."""
    body = {"error": {"code": code, "message": message, "request_id": request_id_of(request)}}
    return json_response(body, status=status, headers=headers)


REQUEST_ID_KEY = web.RequestKey("request_id", str)


def request_id_of(request: web.Request) -> str:
    return request.get(REQUEST_ID_KEY, "")
