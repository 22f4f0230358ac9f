"""What the HTTP doors need to know about running a GraphQL operation, without importing the
schema: the executor's interface, its result, and the ways a request can be refused outright."""

from __future__ import annotations

from collections.abc import Callable
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
    # True when the nodes of the `NodeShape` asked for are already in that shape.
    shaped: bool = False


# One key of a resource: (key, the path of GraphQL response keys it is read from, or None for a
# constant null; how a non-null value is converted, or None).
ShapeField = tuple[str, tuple[str, ...] | None, Callable[[Any], Any] | None]


def walk(data: Any, path: tuple[str, ...]) -> Any:
    """`data[path[0]][path[1]]...` of a GraphQL answer, None as soon as a step is None."""
    for part in path:
        if data is None:
            return None
        data = data[part]
    return data


@dataclass(frozen=True)
class NodeShape:
    """Ask for the nodes of the root list `root` (its response key) as resources of `fields`
    instead of GraphQL objects: the REST layer's list routes, which would otherwise reshape
    every node of the answer. An executor that cannot (the standard one) answers as GraphQL
    does and leaves `Outcome.shaped` False: the caller reshapes then."""

    root: str
    fields: tuple[ShapeField, ...]


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
        shape: NodeShape | None = None,
    ) -> Outcome: ...
