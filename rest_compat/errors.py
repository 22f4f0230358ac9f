"""REST errors: the `{"error": {"code", "message", "request_id"}}` body of DESIGN.md, and the one
table that maps GraphQL `extensions.code` values (and mutation `userErrors` codes) onto it."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.storage.engine import RETRY_AFTER_SECONDS
from gateway.web.jsonio import rest_error

# GraphQL error code -> (HTTP status, REST code). Anything not listed is a 500 `internal`.
GRAPHQL_CODES: dict[str, tuple[int, str]] = {
    "UNAUTHENTICATED": (401, "unauthenticated"),
    "FORBIDDEN": (403, "forbidden"),
    "NOT_FOUND": (404, "not_found"),
    "BAD_USER_INPUT": (400, "invalid_request"),
    "GRAPHQL_VALIDATION_FAILED": (400, "invalid_request"),
    # A state the request cannot apply to (an invalid status transition): the request is
    # well-formed, and valid by the OpenAPI document, but conflicts with the resource's current
    # state, which is what 409 says (RFC 9110 15.5.10); retrying after the state changes can work.
    "CONFLICT": (409, "conflict"),
    "RATE_LIMITED": (429, "rate_limited"),
    # The database stayed locked past its busy timeout; nothing was written (Retry-After).
    "UNAVAILABLE": (503, "unavailable"),
}
RETRY_AFTER_UNAVAILABLE = str(RETRY_AFTER_SECONDS)  # what Database.write tells callers
# An operation the executor refuses to run (OperationRefused) by status; any other is a 500.
REFUSED_CODES: dict[int, str] = {
    400: "invalid_request",
    413: "payload_too_large",
    429: "rate_limited",
}
# `userErrors` of a mutation: input the caller can fix (422), except an unknown target (404)
# and a state the change does not apply to (409).
USER_ERROR_CODES: dict[str, tuple[int, str]] = {
    "NOT_FOUND": (404, "not_found"),
    "FORBIDDEN": (403, "forbidden"),
    "CONFLICT": GRAPHQL_CODES["CONFLICT"],
}
USER_ERROR_DEFAULT = (422, "validation_failed")
INTERNAL_MESSAGE = "internal error; quote the request id"


class RestError(Exception):
    """Raised anywhere while answering a REST call; becomes the REST error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers

    def response(self, request: web.Request) -> web.Response:
        return error_response(
            request, self.status, self.code, self.message, field=self.field, headers=self.headers
        )


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return rest_error(request, status, code, message, headers, field=field)


def invalid_request(message: str, field: str | None = None) -> RestError:
    return RestError(400, "invalid_request", message, field=field)


def validation_failed(message: str, field: str | None = None) -> RestError:
    return RestError(422, "validation_failed", message, field=field)
