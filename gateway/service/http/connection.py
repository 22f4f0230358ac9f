"""What happens below the application, on the connection: requests aiohttp itself refuses, the
header-read deadline, and the `Server` header.

- A request aiohttp cannot parse (a bad request line, a control character in a header, a line
  over 8,190 bytes) is answered in our error shape, `{"error": {"code", "message",
  "request_id"}}` with `X-Request-ID`, and logged at WARNING in one line that names the kind of
  fault. aiohttp's own answer is plain text that quotes the offending line (which may be the
  caller's API key), and its log line is an ERROR with a traceback: a cheap log flood.
- The header-read deadline is aiohttp's keep-alive timer, which starts when a connection opens
  and again after each answer and is not pushed back by bytes that arrive: a client that has not
  finished its request's headers within `SELIQ_HEADER_READ_TIMEOUT_SECONDS` is disconnected, and
  so is an idle keep-alive connection. Bodies are covered by the request deadline.
- `Server: seliq-gateway`, without Python or aiohttp versions.

aiohttp builds one `RequestHandler` per connection inside `web.Server.__call__`, with no hook to
choose its class; `GatewayRunner` hands the server it made our subclass instead. Tests serve
through the same runner (tests/support/server.py).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from gateway.service.http.middleware import new_request_id
from gateway.web.jsonio import error_code

log = logging.getLogger("seliq.http")

SERVER_NAME = "seliq-gateway"

# What a refusal says, by the kind of fault: never the offending bytes themselves.
_FAULTS: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.LineTooLong, "a request line or header is longer than the server accepts"),
    (http_exceptions.BadHttpMethod, "the request line is not HTTP"),
    (http_exceptions.BadStatusLine, "the request line is malformed"),
    (http_exceptions.InvalidHeader, "a header is malformed (a control character or a bad name)"),
    (http_exceptions.InvalidURLError, "the request target is malformed"),
    (http_exceptions.PayloadEncodingError, "the body's transfer or content encoding is malformed"),
)


def fault_of(exc: BaseException | None) -> str:
    for kind, message in _FAULTS:
        if isinstance(exc, kind):
            return message
    return "the request is malformed"


class GatewayRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        request_id = new_request_id()
        if status >= 500:
            log.error("error below the application", exc_info=exc,
                      extra={"request_id": request_id})
            text = "internal error; quote the request id"
        else:
            text = fault_of(exc)
            log.warning("refused a malformed request: %s", text,
                        extra={"request_id": request_id, "status": status,
                               "fault": type(exc).__name__ if exc else None})
        if request.writer.output_size > 0:  # an answer was under way: nothing more can be sent
            raise ConnectionError("the response was already started")
        body = {"error": {"code": error_code(status), "message": text, "request_id": request_id}}
        response = web.json_response(body, status=status, headers={
            "X-Request-ID": request_id, "Server": SERVER_NAME,
        })
        response.force_close()
        return response


class _GatewayServer(web.Server):
    def __call__(self) -> RequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """`web.AppRunner` whose connections are handled by `GatewayRequestHandler`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _GatewayServer  # the same server; only how it makes handlers changes
        return server


async def set_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: name the product, not the versions of Python and aiohttp."""
    response.headers["Server"] = SERVER_NAME


def handler_args(header_read_timeout: float) -> dict[str, Any]:
    """The connection settings `create_app` gives the application (`handler_args`)."""
    return {"keepalive_timeout": header_read_timeout}
