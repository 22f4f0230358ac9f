"""Middleware: request ids, JSON bodies for every error, statement counting.

Every response, error or not, carries `X-Request-ID` (the caller's, when it sent a sane one), and
an unexpected exception never reaches the client as anything but a 500 with that id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.domain.ratelimit.local import Decision, current_decision
from gateway.domain.storage import deadline
from gateway.domain.storage.engine import StatementCounter, current_counter
from gateway.service.observability import RequestObserver
from gateway.web.jsonio import (
    REQUEST_ID_KEY,
    error_code,
    graphql_error_response,
    rest_error,
)

log = logging.getLogger("seliq.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DEBUG_HEADERS_KEY = web.AppKey("debug_headers", bool)
TIMEOUT_KEY = web.AppKey("request_timeout", float)


# Request ids correlate logs and answers; they are not secrets, so they come from a PRNG seeded
# once from the OS: `secrets` reads the OS per call, and that syscall hands the GIL to the
# database threads, which costs far more than the id itself under load (measured).
_request_ids = random.Random(secrets.randbits(128))


def new_request_id() -> str:
    return f"req_{_request_ids.getrandbits(96):024x}"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if REQUEST_ID_RE.match(incoming) else new_request_id()
    request[REQUEST_ID_KEY] = request_id
    counter = StatementCounter()
    token = current_counter.set(counter)
    decisions: list[Decision] = []
    decision_token = current_decision.set(decisions)
    with RequestObserver(request, counter) as observed:  # metrics + the seliq.access log line
        try:
            response = await _respond(request, handler)
        finally:
            current_counter.reset(token)
            current_decision.reset(decision_token)
        observed.status = response.status
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
        if decisions:
            response.headers.update(decisions[-1].headers())
        if request.app.get(DEBUG_HEADERS_KEY, False):
            response.headers["X-Seliq-SQL-Statements"] = str(counter.count)
    return response


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await _within_deadline(request, handler)
    except TimeoutError:
        return _timed_out(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = error_code(exc.status)
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        return _error(request, exc.status, code, message or exc.reason, headers)
    except Exception:
        log.exception("unhandled error", extra={"request_id": request.get(REQUEST_ID_KEY)})
        return _error(request, 500, "internal", "internal error; quote the request id")


def _error(
    request: web.Request, status: int, code: str, message: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The error body of the door that was asked: GraphQL's shape on /graphql (a body over 1 MiB
    is PAYLOAD_TOO_LARGE there), the REST shape everywhere else."""
    if request.path == "/graphql":
        return graphql_error_response(request, status, message, code.upper(), headers)
    return rest_error(request, status, code, message, headers)


async def _within_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the handler under the request deadline (`gateway.domain.storage.deadline`). When it
    passes, the handler is cancelled and the request answered 504; its open transaction rolls
    back (asyncpg also cancels the running statement on PostgreSQL). A request that has started
    committing a write is not cancelled: it gets its real answer, however late; a write still
    queued for its group commit is withdrawn and answered 503. WebSocket connections
    (subscriptions) live as long as they like."""
    seconds = request.app.get(TIMEOUT_KEY)
    if not seconds or request.headers.get("Upgrade", "").lower() == "websocket":
        return await handler(request)
    limit = deadline.Deadline(seconds)
    token = deadline.activate(limit)
    try:
        return await handler(request)
    except asyncio.CancelledError:
        if not limit.cancellation_pending:
            raise  # not ours: the connection or the server is going away
        limit.absorb()
        raise TimeoutError from None
    finally:
        limit.stop()
        deadline.deactivate(token)


def _timed_out(request: web.Request) -> web.Response:
    seconds = request.app.get(TIMEOUT_KEY)
    message = f"the request took longer than {seconds:g} s and was cancelled; nothing was written"
    log.warning("request timed out", extra={"request_id": request.get(REQUEST_ID_KEY)})
    if request.path == "/graphql":
        return graphql_error_response(request, 504, message, "TIMEOUT")
    return rest_error(request, 504, "timeout", message)
