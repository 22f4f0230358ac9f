"""One row of the routing table: method, path, operation document, how the request becomes
variables, and how the result becomes the answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from rest_compat.bodies import BodySpec
from rest_compat.documents import Document, RestSetupError, load_document
from rest_compat.params import Param
from rest_compat.results import Call, Result


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from this route's success answers to the route running `operation`: each
    of its parameters (REST name) is taken from the answer by a runtime expression
    (`$response.body#/id`). Clients and Schemathesis's stateful phase follow them."""

    operation: str
    parameters: tuple[tuple[str, str], ...]
    description: str = ""

    @property
    def operation_id(self) -> str:
        return self.operation[0].lower() + self.operation[1:]


def links(operations: tuple[str, ...], parameter: str, expression: str) -> tuple[Link, ...]:
    """One link per operation, each setting `parameter` from `expression`."""
    return tuple(Link(operation, ((parameter, expression),)) for operation in operations)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # The document `operations/<operation>.graphql`.
    operation: str
    result: Result
    params: tuple[Param, ...] = ()
    body: BodySpec | None = None
    summary: str = ""
    description: str = ""
    tag: str = ""
    links: tuple[Link, ...] = ()
    # GraphQL argument/input names -> REST names, for error messages (derived).
    renames: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        renames: dict[str, str] = {}
        for rest_name, target in self._named_targets():
            graphql_name = target.rsplit(".", 1)[-1]
            if graphql_name != rest_name:
                renames[graphql_name] = rest_name
        object.__setattr__(self, "renames", renames)

    def _named_targets(self) -> list[tuple[str, str]]:
        named = [(p.name, p.target) for p in self.params if p.target is not None]
        if self.body is not None:
            named += [(name, target) for name, target, _ in self.body.targets()]
        return named

    @property
    def operation_id(self) -> str:
        return self.operation[0].lower() + self.operation[1:]

    async def bind(self, request: web.Request) -> Call:
        values: dict[str, Any] = {}
        variables: dict[str, Any] = {}
        for param in self.params:
            param.bind(request, values, variables)
        if self.body is not None:
            await self.body.bind(request, variables)
        return Call(values, variables, self.renames)

    def document(self) -> Document:
        """The row's document, checked against the row (not yet against the schema)."""
        document = load_document(self.operation)
        where = f"rest_compat: {self.method} {self.path} (operations/{document.file})"
        expected = "query" if self.method == "GET" else "mutation"
        if document.kind != expected:
            raise RestSetupError(f"{where}: a {self.method} route runs a {expected}")
        always: set[str] = set()
        for param in self.params:
            for _, variable in param.flags:
                if variable.split(".")[0] not in document.variables:
                    raise RestSetupError(f"{where}: `{param.name}` sets ${variable}, not declared")
            if param.target is None:
                continue
            root = param.target.split(".")[0]
            if root not in document.variables:
                raise RestSetupError(f"{where}: `{param.name}` sets ${root}, which is not declared")
            if param.required or param.default is not None:
                always.add(root)
        if self.body is not None:
            for name, target, required in self.body.targets():
                root = target.split(".")[0]
                if root not in document.variables:
                    raise RestSetupError(f"{where}: `{name}` sets ${root}, which is not declared")
                if required:
                    always.add(root)
        for name, required in document.variables.items():
            if required and name not in always:
                raise RestSetupError(f"{where}: nothing always provides the required ${name}")
        for shape in self.result.shapes:
            if shape.fragment not in document.fragments:
                raise RestSetupError(f"{where}: the result reads {shape.fragment}, never spread")
        return document
