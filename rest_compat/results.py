"""How a GraphQL result becomes a REST answer: error mapping, then one of a few result kinds (one
object, a page of objects, a mutation payload). Each kind also documents its responses for the
OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Protocol

from aiohttp import web

from gateway.web.jsonio import json_response
from gateway.web.operations import NodeShape, walk
from rest_compat.cursors import CursorCodec
from rest_compat.errors import (
    GRAPHQL_CODES,
    INTERNAL_MESSAGE,
    RETRY_AFTER_UNAVAILABLE,
    USER_ERROR_CODES,
    USER_ERROR_DEFAULT,
    RestError,
)
from rest_compat.shapes import Shape


@dataclass
class Call:
    """One REST request, bound: parameter values by REST name, and the operation's variables."""

    values: dict[str, Any]
    variables: dict[str, Any]
    # GraphQL argument/input names -> REST names (`after` -> `cursor`), for error messages.
    renames: Mapping[str, str] = field(default_factory=dict)
    # The executor built the list's nodes as REST resources already (`Result.node_shape`).
    shaped: bool = False


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str = "application/json"
    headers: dict[str, str] | None = None

    def response(self) -> web.Response:
        if isinstance(self.body, str):
            return web.Response(
                text=self.body, status=self.status, content_type=self.content_type,
                headers=self.headers,
            )
        return json_response(self.body, self.status, self.headers, self.content_type)


def rest_message(message: str, renames: Mapping[str, str]) -> str:
    """Speak REST in messages written for GraphQL: `after` -> `cursor`, periodStart ->
    period_start."""
    for graphql_name, rest_name in renames.items():
        message = message.replace(f"`{graphql_name}`", f"`{rest_name}`")
        if graphql_name != graphql_name.lower():  # camelCase names are unambiguous as words
            message = re.sub(rf"\b{graphql_name}\b", rest_name, message)
    return message


def raise_for_errors(body: dict[str, Any], renames: Mapping[str, str]) -> None:
    """Top-level GraphQL errors -> the REST error of the first one (a 500 if any is unexpected)."""
    errors = body.get("errors")
    if not errors:
        return
    codes = [str((err.get("extensions") or {}).get("code")) for err in errors]
    if any(code not in GRAPHQL_CODES for code in codes):
        raise RestError(500, "internal", INTERNAL_MESSAGE)
    first = errors[0]
    status, code = GRAPHQL_CODES[codes[0]]
    graphql_field = (first.get("extensions") or {}).get("field")
    rest_field = renames.get(graphql_field, graphql_field) if graphql_field else None
    headers = {"Retry-After": RETRY_AFTER_UNAVAILABLE} if status == 503 else None
    raise RestError(
        status, code, rest_message(first["message"], renames), field=rest_field, headers=headers
    )


def raise_for_user_errors(
    payload: dict[str, Any],
    renames: Mapping[str, str],
    overrides: Mapping[str, tuple[int, str]] | None = None,
) -> None:
    user_errors = payload.get("userErrors")
    if not user_errors:
        return
    first = user_errors[0]
    codes = {**USER_ERROR_CODES, **(overrides or {})}
    status, code = codes.get(first.get("code", ""), USER_ERROR_DEFAULT)
    graphql_field = first.get("field")
    rest_field = renames.get(graphql_field, graphql_field) if graphql_field else None
    raise RestError(status, code, rest_message(first["message"], renames), field=rest_field)


def not_found(noun: str, call: Call) -> RestError:
    ident = call.values.get("id")
    shown = f" `{ident}`" if isinstance(ident, str) and len(ident) <= 100 else ""
    return RestError(404, "not_found", f"no {noun}{shown}", field="id")


def ref(shape: Shape) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{shape.name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


class Result(Protocol):
    """Turns `data` (errors already handled) into a Reply, and documents what it answers."""

    @property
    def shapes(self) -> tuple[Shape, ...]: ...

    @property
    def node_shape(self) -> NodeShape | None:
        """What to ask the executor for, so that it builds the REST resources itself."""
        ...

    def render(self, data: dict[str, Any], call: Call) -> Reply: ...

    def responses(self) -> dict[str, dict[str, Any]]:
        """OpenAPI responses of success (and of result-specific errors such as 409)."""
        ...

    def error_statuses(self) -> tuple[int, ...]:
        """The documented error statuses (beyond the ones every route has) this result gives."""
        ...


@dataclass(frozen=True)
class One:
    """One object at `path` (e.g. `incident`); null is a 404 (not there, or another tenant's)."""

    path: tuple[str, ...]
    shape: Shape
    noun: str
    node_shape: ClassVar[NodeShape | None] = None  # one object: reshaped here

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return (self.shape,)

    def node(self, data: dict[str, Any], call: Call) -> Any:
        """The object at `path`; a 404 when it is null."""
        node = walk(data, self.path)
        if node is None:
            raise not_found(self.noun, call)
        return node

    def render(self, data: dict[str, Any], call: Call) -> Reply:
        return Reply(200, self.shape.reshape(self.node(data, call)))

    def responses(self) -> dict[str, dict[str, Any]]:
        content = json_content(ref(self.shape))
        return {"200": {"description": f"The {self.noun}.", "content": content}}

    def error_statuses(self) -> tuple[int, ...]:
        return (404,)


PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "limit": {"type": "integer", "minimum": 1},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "Pass as `cursor` for the next page, as it is; null on the last page.",
        },
        "has_more": {"type": "boolean"},
    },
    "required": ["limit", "next_cursor", "has_more"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Many:
    """A page of a connection at `path` (`{nodes, pageInfo {hasNextPage endCursor}}`). With a
    `noun`, the path goes through an object named by the URL (an incident's timeline), and a null
    there is a 404."""

    path: tuple[str, ...]
    shape: Shape
    noun: str | None = None

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return (self.shape,)

    @cached_property
    def node_shape(self) -> NodeShape | None:
        """A root list's nodes can be built as REST resources by the cached plan itself (no
        reshaping pass); a list below an object (an incident's timeline) is reshaped here."""
        if len(self.path) != 1:
            return None
        return NodeShape(self.path[0], self.shape.fields_from_graphql)

    def render(self, data: dict[str, Any], call: Call) -> Reply:
        connection = walk(data, self.path)
        if connection is None:
            raise not_found(self.noun or "object", call)
        reshape = self.shape.reshape
        more = connection["pageInfo"]["hasNextPage"]
        nodes = connection["nodes"]
        body = {
            "data": nodes if call.shaped else [reshape(node) for node in nodes],
            "pagination": {
                "limit": call.values["limit"],
                "next_cursor": (
                    CursorCodec.from_graphql(connection["pageInfo"]["endCursor"]) if more else None
                ),
                "has_more": more,
            },
        }
        return Reply(200, body)

    def responses(self) -> dict[str, dict[str, Any]]:
        schema = {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": ref(self.shape)},
                "pagination": {"$ref": "#/components/schemas/Pagination"},
            },
            "required": ["data", "pagination"],
            "additionalProperties": False,
        }
        return {"200": {"description": "A page of results.", "content": json_content(schema)}}

    def error_statuses(self) -> tuple[int, ...]:
        return (404,) if self.noun else ()


@dataclass(frozen=True)
class Payload:
    """A mutation payload `{<key>, userErrors}` at `data[<mutation>]`. A user error is a 422
    `validation_failed` (a NOT_FOUND one a 404, a CONFLICT one a 409). `status_from` picks the
    status from the payload when it depends on the outcome (POST /v1/alerts: 200 when
    deduplicated, else 201); list every status it can give in `statuses`."""

    mutation: str
    # The payload key holding the resource; None: the payload itself is reshaped.
    key: str | None
    shape: Shape
    status: int
    description: str
    status_from: Callable[[dict[str, Any]], int] | None = None
    statuses: tuple[int, ...] = ()
    # Extra response headers from the payload (e.g. `Idempotent-Replayed: true`).
    headers_from: Callable[[dict[str, Any]], dict[str, str]] | None = None
    # A `Location` header, formatted with the REST body (e.g. "/v1/reports/{id}").
    location: str | None = None
    # userError code -> (status, REST code), for mutations whose input errors are not 422s
    # (ingestion: a body that cannot be read is a 400 `invalid_request`).
    user_error_codes: Mapping[str, tuple[int, str]] | None = None
    # The error statuses its userErrors map to (409: a change the resource's state refuses).
    errors: tuple[int, ...] = (404, 422)
    node_shape: ClassVar[NodeShape | None] = None  # a mutation's payload is reshaped here

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return (self.shape,)

    def render(self, data: dict[str, Any], call: Call) -> Reply:
        payload = data[self.mutation]
        raise_for_user_errors(payload, call.renames, self.user_error_codes)
        body = self.shape.reshape(payload if self.key is None else payload[self.key])
        status = self.status_from(payload) if self.status_from else self.status
        headers = {"Location": self.location.format(**body)} if self.location else {}
        if self.headers_from is not None:
            headers.update(self.headers_from(payload))
        return Reply(status, body, headers=headers or None)

    def responses(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for status in self.statuses or (self.status,):
            response: dict[str, Any] = {
                "description": self.description,
                "content": json_content(ref(self.shape)),
            }
            if self.location:
                response["headers"] = {
                    "Location": {
                        "description": "Where to fetch the resource.",
                        "schema": {"type": "string"},
                    }
                }
            out[str(status)] = response
        return out

    def error_statuses(self) -> tuple[int, ...]:
        return self.errors


RENDERINGS = {"markdown": "text/markdown", "html": "text/html"}


@dataclass(frozen=True)
class Rendered:
    """One object that can also be asked for as a rendering (`?format=markdown|html`): the
    rendering is the `markdown`/`html` field of the node once the document selects it. Until the
    object's `status` is READY there is none: a 409 `conflict` (retry later), as distinct from a
    404 for an object that does not exist. A READY object whose rendering the schema does not
    provide yet answers its JSON form."""

    one: One
    format_param: str = "format"
    node_shape: ClassVar[NodeShape | None] = None

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return self.one.shapes

    def render(self, data: dict[str, Any], call: Call) -> Reply:
        node = self.one.node(data, call)
        wanted = call.values.get(self.format_param, "json")
        if wanted in RENDERINGS:
            status = node["status"]
            if status != "READY":
                raise RestError(
                    409, "conflict",
                    f"the {self.one.noun} is not ready (status `{status.lower()}`); its {wanted} "
                    f"rendering exists once `status` is `ready`",
                )
            rendering = node.get(wanted)
            if isinstance(rendering, str):
                return Reply(200, rendering, content_type=RENDERINGS[wanted])
        return Reply(200, self.one.shape.reshape(node))

    def responses(self) -> dict[str, dict[str, Any]]:
        content = json_content(ref(self.one.shape))
        for media in RENDERINGS.values():
            content[media] = {"schema": {"type": "string"}}
        return {
            "200": {
                "description": f"The {self.one.noun}, or its rendering with `format`.",
                "content": content,
            }
        }

    def error_statuses(self) -> tuple[int, ...]:
        return (404, 409)
