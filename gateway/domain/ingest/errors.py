"""Errors specific to ingestion. Like every DomainError they carry the GraphQL `extensions.code`
the doors map onto HTTP statuses (see `STATUS_FOR_CODE`)."""

from __future__ import annotations

from gateway.domain.errors import DomainError


class IdempotencyKeyReused(DomainError):
    """The `Idempotency-Key` was first used with a different request body (HTTP 422)."""

    code = "IDEMPOTENCY_KEY_REUSED"


# What the HTTP doors answer for an ingestion error code (the webhook, and POST /v1/alerts).
STATUS_FOR_CODE = {
    "BAD_USER_INPUT": 400,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "UNAVAILABLE": 503,
}
