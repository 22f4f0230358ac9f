"""Builds the schema and runs operations against it, turning errors into coded GraphQL errors.

Both doors use `execute`: the HTTP view for /graphql and the REST layer, which runs its operation
documents in-process. So an error is masked, coded and logged the same way whichever door it
came through.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult

from gateway.domain.errors import DomainError
from schema.alerts import Alert
from schema.context import Context
from schema.incidents import Incident
from schema.limits import Limits
from schema.mutations import Mutation
from schema.notes import Note
from schema.query import Query
from schema.reports import Report
from schema.scalars import DATETIME
from schema.subscriptions import Subscription
from schema.timeline import TimelineEvent
from schema.workspaces import Workspace

log = logging.getLogger("seliq.graphql")

UNEXPECTED = "Unexpected error"
#: Documents whose validation Strawberry remembers (its cache is per size, process-wide).
VALIDATION_CACHE_SIZE = 256


class SeliqSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry logs every error here; `format_error` logs only the unexpected ones."""


def build_schema(
    limits: Limits | None = None, *, with_extensions: bool = True
) -> strawberry.Schema:
    limits = limits or Limits()
    # Depth and aliases are checked by schema.limits before execution, in one linear walk:
    # Strawberry's QueryDepthLimiter and MaxAliasesLimiter expand every fragment spread.
    return SeliqSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,  # served over WebSocket (gateway.service.http.websocket)
        types=[Incident, Alert, TimelineEvent, Note, Report, Workspace],
        config=StrawberryConfig(auto_camel_case=True, scalar_map={datetime: DATETIME}),
        extensions=[] if not with_extensions else [  # none: the T5 benchmark baseline
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=VALIDATION_CACHE_SIZE),
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        ],
    )


# graphql-core stops validating a document that would cost it too much (comparing hundreds of
# same-named fields pair by pair, or walking shared fragments) and says only this.
ABORTED_REASONS = {
    "Validation aborted.": (
        "validation aborted: the document is too costly to validate (too many fields with the "
        "same name to compare, or too much work in shared fragments); send a smaller document"
    ),
}


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """The JSON form of one error: known errors keep their message and code; anything
    unexpected becomes "Unexpected error" with the request id, and is logged, never shown."""
    original = error.original_error
    payload: dict[str, Any] = {"message": ABORTED_REASONS.get(error.message, error.message)}
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(original, DomainError):
        payload["message"] = original.message
        extensions["code"] = original.code
        if original.field:
            extensions["field"] = original.field
    elif original is not None and error.path is None and isinstance(original, ValueError):
        # A literal a scalar refused while the document was validated (a bad DateTime, say):
        # the caller's input, reported as such.
        extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
    elif original is not None and not isinstance(original, GraphQLError):
        log.error(
            "unexpected error in resolver",
            exc_info=original,
            extra={"request_id": request_id, "path": error.path},
        )
        payload["message"] = f"{UNEXPECTED} (request id {request_id})"
        extensions = {"code": "INTERNAL"}
    elif "code" not in extensions:
        extensions["code"] = "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT"
    if error.locations:
        payload["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path is not None:
        payload["path"] = error.path
    extensions["request_id"] = request_id
    payload["extensions"] = extensions
    return payload


def result_to_json(result: ExecutionResult, context: Context) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(err, context.request_id) for err in result.errors]
    body["data"] = result.data
    if result.extensions:
        body["extensions"] = result.extensions
    return body

