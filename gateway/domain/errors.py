"""Domain errors. Each carries the GraphQL `extensions.code` it becomes; the REST layer maps the
same codes onto HTTP statuses, so one table of meanings serves both doors.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class InvalidInput(DomainError):
    """Input the caller can fix (BAD_USER_INPUT); `field` names the offending input path."""

    code = "BAD_USER_INPUT"


class Conflict(DomainError):
    """The request is valid but the resource's state forbids it (an invalid transition)."""

    code = "CONFLICT"


class Unavailable(DomainError):
    """The database stayed locked past its busy/lock timeout (or chose this transaction as a
    deadlock victim): nothing was written; retry shortly. HTTP doors answer 503 + Retry-After.
    (Its subclass `storage.engine.CommitOutcomeUnknown` is the one 503 after which the write may
    be stored: the connection failed once the COMMIT was sent.)"""

    code = "UNAVAILABLE"
