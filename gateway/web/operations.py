"""What the HTTP doors need to know about running a GraphQL operation, without importing the
schema: the executor's interface, its result, and the ways a request can be refused outright."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gateway.domain.tenancy.auth import Principal


class OperationRefused(Exception):
    """The request cannot run at all (a mutation over GET, no query, an ambiguous document);
    `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass
class Outcome:
    """The JSON body of a GraphQL response, plus what the HTTP layer needs to know about it."""

    body: dict[str, Any]
    # True when the document failed parsing or validation, so nothing was executed.
    not_executed: bool


class Executor(Protocol):
    async def run(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        principal: Principal,
        request_id: str,
        *,
        allow_mutations: bool = True,
    ) -> Outcome: ...
