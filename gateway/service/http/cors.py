"""CORS for browser dashboards on other origins: only the origins in SELIQ_CORS_ORIGINS, none by
default. The allowed origin is echoed, never `*`, and no credentials are involved (the API
authenticates with a bearer key, not cookies), so a reflected wildcard with credentials cannot
happen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.service.http.middleware import new_request_id

CORS_ORIGINS_KEY = web.AppKey("cors_origins", frozenset)
ALLOW_METHODS = "GET, POST, PATCH, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-Workspace-ID, X-Request-ID, Idempotency-Key"
EXPOSE_HEADERS = (
    "X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After"
)
MAX_AGE = "600"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in request.app.get(CORS_ORIGINS_KEY, frozenset())
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        headers = {"Vary": "Origin", "X-Request-ID": new_request_id()}
        if not allowed:
            return web.Response(status=403, text="origin not allowed", headers=headers)
        headers.update({
            "Access-Control-Allow-Origin": origin or "",
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        })
        return web.Response(status=204, headers=headers)
    # Outermost middleware: error answers built by the inner one get the headers too.
    response = await handler(request)
    if not response.prepared:
        response.headers["Vary"] = "Origin"
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response
