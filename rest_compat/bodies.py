"""JSON request bodies: how a body becomes GraphQL variables, and its JSON Schema. As with the
parameters (rest_compat/params.py), each field kind's schema states its check: a value the schema
admits is one the field accepts.

Every body is read by gateway/domain/jsontext.py, which refuses text holding a NUL or a lone
surrogate and nesting deeper than 64 levels anywhere in the document (400 `invalid_request`), so
the schemas keep NUL out of every string and key (`JSON_VALUE` for values of any shape).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from gateway.domain import jsontext
from rest_compat import patterns
from rest_compat.errors import invalid_request, validation_failed
from rest_compat.params import parse_timestamp, put, shown, timestamp_schema
from rest_compat.shapes import EnumType, with_null

# Any JSON value the body reader accepts (one level per object or array; the 64-level limit is
# in the description, as a schema can only state it by unrolling 64 levels).
JSON_VALUE_REF: dict[str, Any] = {"$ref": "#/components/schemas/JsonValue"}
# A number the reader takes: orjson reads numbers as doubles first and refuses those that round
# to infinity, i.e. from 2**1024 - 2**970 (halfway past the largest double) in size; the bound
# is written as that exact integer.
DOUBLE_OVERFLOW = 2**1024 - 2**970
NUMBER: dict[str, Any] = {
    "type": "number", "exclusiveMinimum": -DOUBLE_OVERFLOW, "exclusiveMaximum": DOUBLE_OVERFLOW,
}
JSON_VALUE: dict[str, Any] = {
    "description": "Any JSON value with no NUL (U+0000) in its text and at most 64 levels of "
    "objects and arrays.",
    "anyOf": [
        {"type": ["null", "boolean"]},
        NUMBER,
        {"type": "string", "pattern": patterns.NO_NUL},
        {"type": "array", "items": JSON_VALUE_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": patterns.NO_NUL},
            "additionalProperties": JSON_VALUE_REF,
        },
    ],
}


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying what is wrong with it."""
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise invalid_request(
            "send the body as JSON with `Content-Type: application/json` "
            f"(got `{shown(request.headers.get('Content-Type', 'none'))}`)"
        )
    raw = await request.read()
    if not raw.strip():
        raise invalid_request("the request body is empty; send a JSON object")
    try:
        body = jsontext.loads(raw, what="the request body")
    except jsontext.BadJson as exc:
        raise invalid_request(exc.message, field=exc.path) from None
    if not isinstance(body, dict):
        kind = "an array" if isinstance(body, list) else f"a {type(body).__name__}"
        raise invalid_request(f"the request body must be a JSON object, not {kind}")
    return body


class FieldKind(Protocol):
    def parse(self, value: Any) -> Any:
        """The variable value; ValueError("<what it accepts>") when it is not one."""
        ...

    def schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TextField:
    """A string; with `non_blank`, one with something besides whitespace; with `max_length`, at
    most that many characters as sent (the operation trims it; this counts before trimming)."""

    non_blank: bool = False
    max_length: int | None = None

    def parse(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        size = f" (1-{self.max_length} characters)" if self.max_length is not None else ""
        if self.non_blank and not value.strip():
            raise ValueError(f"must not be empty or blank{size}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters")
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "string",
            "pattern": patterns.NON_BLANK if self.non_blank else patterns.NO_NUL,
        }
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


@dataclass(frozen=True)
class EnumField:
    """One of the enum's values, in any case (answers spell them in lower case)."""

    enum: EnumType

    def parse(self, value: Any) -> Any:
        name = self.enum.to_graphql.get(value.lower()) if isinstance(value, str) else None
        if name is None:
            raise ValueError(f"must be one of {', '.join(self.enum.values)}")
        return name

    def schema(self) -> dict[str, Any]:
        # A pattern rather than `enum`, which would call `SLA` invalid.
        return {
            "type": "string",
            "pattern": f"^{patterns.choice(self.enum.values)}$",
            "description": f"One of {', '.join(self.enum.values)} (any case).",
        }


@dataclass(frozen=True)
class TimestampField:
    def parse(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 date-time string such as 2026-01-31T00:00:00Z")
        return parse_timestamp(value).isoformat()

    def schema(self) -> dict[str, Any]:
        return timestamp_schema()


@dataclass(frozen=True)
class BodyField:
    """A key of a JSON body. Present (even as null) -> set at `target`; absent -> left out, so
    the mutation's default applies (`assignee: null` unassigns, an absent assignee stays)."""

    name: str
    kind: FieldKind
    target: str
    description: str = ""
    required: bool = False

    def json_schema(self) -> dict[str, Any]:
        schema = self.kind.schema() if self.required else with_null(self.kind.schema())
        if self.description:
            schema["description"] = self.description
        return schema


class BodySpec(Protocol):
    async def bind(self, request: web.Request, variables: dict[str, Any]) -> None: ...

    def json_schema(self) -> dict[str, Any]: ...

    def targets(self) -> list[tuple[str, str, bool]]:
        """(REST name, target, required) of every value the body provides."""
        ...

    @property
    def examples(self) -> tuple[tuple[str, Any], ...]:
        """(name, value): valid bodies, for the OpenAPI document."""
        ...


@dataclass(frozen=True)
class JsonBody:
    """A JSON object with known fields; other keys are ignored (any JSON value the reader
    accepts)."""

    fields: tuple[BodyField, ...]
    description: str = ""
    examples: tuple[tuple[str, Any], ...] = ()

    async def bind(self, request: web.Request, variables: dict[str, Any]) -> None:
        body = await read_json_object(request)
        for spec in self.fields:
            if spec.name not in body:
                if spec.required:
                    raise validation_failed(f"`{spec.name}` is required", field=spec.name)
                continue
            value = body[spec.name]
            if value is None:
                if spec.required:
                    raise validation_failed(f"`{spec.name}` is required", field=spec.name)
                put(variables, spec.target, None)
                continue
            try:
                put(variables, spec.target, spec.kind.parse(value))
            except ValueError as exc:
                null = "" if spec.required else ", or null"
                raise validation_failed(f"`{spec.name}` {exc}{null}", field=spec.name) from None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.json_schema() for f in self.fields},
            "propertyNames": {"pattern": patterns.NO_NUL},
            "additionalProperties": JSON_VALUE_REF,
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            schema["required"] = required
        if self.description:
            schema["description"] = self.description
        return schema

    def targets(self) -> list[tuple[str, str, bool]]:
        return [(f.name, f.target, f.required) for f in self.fields]


@dataclass(frozen=True)
class RawBody:
    """The body as received (UTF-8 text), passed whole as one String variable, for payloads the
    schema parses itself: `POST /v1/alerts` hands alerts in any recognised shape to
    `ingestAlert(input: {rawBody})`, which answers malformed JSON with a userError."""

    target: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    examples: tuple[tuple[str, Any], ...] = ()

    async def bind(self, request: web.Request, variables: dict[str, Any]) -> None:
        raw = await request.read()
        try:
            put(variables, self.target, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise invalid_request(
                f"the request body is not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None

    def json_schema(self) -> dict[str, Any]:
        schema = dict(self.schema)
        if self.description:
            schema["description"] = self.description
        return schema

    def targets(self) -> list[tuple[str, str, bool]]:
        return [("body", self.target, True)]
