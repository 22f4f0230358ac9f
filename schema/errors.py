"""GraphQL errors with `extensions.code`, and the `userErrors` mutations return."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from gateway.domain.errors import DomainError


class CodedError(GraphQLError):
    """An error the caller is meant to read: its message is shown as is, with a code."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message, extensions={"code": code, **extra})


def from_domain(error: DomainError) -> CodedError:
    extra = {"field": error.field} if error.field else {}
    return CodedError(error.message, error.code, **extra)


def forbidden(message: str) -> CodedError:
    return CodedError(message, "FORBIDDEN")


@strawberry.type
class UserError:
    """Input the caller can fix: which input field, what is wrong, and a stable code."""

    field: str | None
    message: str
    code: str


def user_error(error: DomainError) -> UserError:
    return UserError(field=error.field, message=error.message, code=error.code)
