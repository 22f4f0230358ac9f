"""How request parts become GraphQL variables: path, query-string and header parameters, and JSON
bodies. Each declaration also describes itself for the OpenAPI document.

A parameter's `target` is a dotted path into the variables (`filter.status` sets
`variables["filter"]["status"]`); a parameter without one is only read by the result (`format`).
Query parameters that are absent or empty are left out; unknown ones are ignored. A bad query,
path or header value is a 400 `invalid_request` naming the parameter and what it accepts; a body
that is not a JSON object is a 400, and a bad field of a JSON object is a 422 `validation_failed`
naming the field (as a `userError` of the mutation would).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from aiohttp import web

from gateway.domain import jsontext
from gateway.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from gateway.domain.timeutil import OutOfRange, parse_iso
from rest_compat.errors import invalid_request, validation_failed
from rest_compat.shapes import TIMESTAMP, EnumType, with_null

Location = Literal["path", "query", "header"]
_DIGITS = re.compile(r"[0-9]{1,4}")


def put(variables: dict[str, Any], target: str, value: Any) -> None:
    """Set `value` at the dotted `target` path, creating the input objects on the way."""
    *parents, last = target.split(".")
    node = variables
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value


def _shown(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:40] + "…"


def _parse_timestamp(raw: str) -> datetime:
    try:
        return parse_iso(raw)
    except OutOfRange:
        raise
    except (ValueError, OverflowError):
        raise ValueError(
            "must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z, "
            "or a date such as 2026-01-31"
        ) from None


# ---- parameter kinds (a raw string in, a variable value out) ---------------------------------


class ParamKind(Protocol):
    def parse(self, raw: str) -> Any:
        """The parsed value; ValueError("<what it accepts>") when it is not one."""
        ...

    def variable(self, value: Any) -> Any: ...

    def schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Text:
    def parse(self, raw: str) -> str:
        return raw

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class PageSize:
    maximum: int = MAX_PAGE_SIZE

    def parse(self, raw: str) -> int:
        text = raw.strip()
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= self.maximum:
            raise ValueError(f"must be an integer from 1 to {self.maximum}")
        return int(text)

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "integer", "minimum": 1, "maximum": self.maximum, "default": DEFAULT_PAGE_SIZE
        }


@dataclass(frozen=True)
class EnumList:
    """Comma-separated enum values (`status=triggered,acknowledged`), any case."""

    enum: EnumType

    def parse(self, raw: str) -> list[str]:
        values: list[str] = []
        for item in raw.split(","):
            value = item.strip().lower()
            if not value:
                continue
            if value not in self.enum.to_graphql:
                raise ValueError(
                    f"takes a comma-separated list of {', '.join(self.enum.values)}"
                )
            if value not in values:
                values.append(value)
        return values

    def variable(self, value: Any) -> Any:
        return [self.enum.to_graphql[v] for v in value]

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": list(self.enum.values)}}


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words (`format=markdown`), any case."""

    values: tuple[str, ...]
    default: str

    def parse(self, raw: str) -> str:
        value = raw.strip().lower()
        if value not in self.values:
            raise ValueError(f"must be one of {', '.join(self.values)}")
        return value

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values), "default": self.default}


@dataclass(frozen=True)
class Timestamp:
    def parse(self, raw: str) -> datetime:
        return _parse_timestamp(raw)

    def variable(self, value: Any) -> Any:
        return value.isoformat()

    def schema(self) -> dict[str, Any]:
        return dict(TIMESTAMP)


@dataclass(frozen=True)
class Param:
    name: str
    location: Location
    kind: ParamKind
    target: str | None
    description: str = ""
    # Applied when the parameter is absent (in parsed form), e.g. limit 50.
    default: Any = None
    # (value, variable): the Boolean `variable` is true when the parameter has `value`; for
    # `@include(if: $variable)` on fields only some answers need (format=markdown).
    flags: tuple[tuple[str, str], ...] = ()

    @property
    def required(self) -> bool:
        return self.location == "path"

    def raw_value(self, request: web.Request) -> str | None:
        if self.location == "path":
            return request.match_info.get(self.name)
        if self.location == "header":
            return request.headers.get(self.name)
        if isinstance(self.kind, EnumList):
            values = request.query.getall(self.name, [])
            return ",".join(values) if values else None
        return request.query.get(self.name)

    def bind(self, request: web.Request, values: dict[str, Any], variables: dict[str, Any]) -> None:
        raw = self.raw_value(request)
        if raw is not None and (reason := jsontext.unstorable_text(raw)) is not None:
            where = "header" if self.location == "header" else "parameter"
            raise invalid_request(f"{where} `{self.name}` {reason}", field=self.name)
        if raw is None or raw == "":
            if self.default is None:
                return
            value = self.default
        else:
            try:
                value = self.kind.parse(raw)
            except ValueError as exc:
                where = "header" if self.location == "header" else "parameter"
                raise invalid_request(
                    f"{where} `{self.name}` {exc} (got `{_shown(raw)}`)", field=self.name
                ) from None
            if value == [] and self.default is None:
                return
        values[self.name] = value
        if self.target is not None:
            put(variables, self.target, self.kind.variable(value))
        for flag_value, variable in self.flags:
            if value == flag_value:
                put(variables, variable, True)


def path_param(name: str, target: str, description: str) -> Param:
    return Param(name, "path", Text(), target, description)


def query_param(
    name: str,
    kind: ParamKind,
    target: str | None,
    description: str,
    default: Any = None,
    flags: tuple[tuple[str, str], ...] = (),
) -> Param:
    return Param(name, "query", kind, target, description, default, flags)


def header_param(name: str, target: str | None, description: str) -> Param:
    return Param(name, "header", Text(), target, description)


LIMIT = query_param(
    "limit", PageSize(), "first",
    f"Page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).", default=DEFAULT_PAGE_SIZE,
)
CURSOR = query_param(
    "cursor", Text(), "after", "`pagination.next_cursor` of the previous page."
)
PAGING = (LIMIT, CURSOR)


# ---- JSON bodies -------------------------------------------------------------------------------


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying what is wrong with it."""
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise invalid_request(
            "send the body as JSON with `Content-Type: application/json` "
            f"(got `{_shown(request.headers.get('Content-Type', 'none'))}`)"
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
    def parse(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class EnumField:
    enum: EnumType

    def parse(self, value: Any) -> Any:
        name = self.enum.to_graphql.get(value.lower()) if isinstance(value, str) else None
        if name is None:
            raise ValueError(f"must be one of {', '.join(self.enum.values)}")
        return name

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.enum.values)}


@dataclass(frozen=True)
class TimestampField:
    def parse(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 date-time string such as 2026-01-31T00:00:00Z")
        return _parse_timestamp(value).isoformat()

    def schema(self) -> dict[str, Any]:
        return dict(TIMESTAMP)


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


@dataclass(frozen=True)
class JsonBody:
    """A JSON object with known fields; unknown keys are ignored."""

    fields: tuple[BodyField, ...]
    description: str = ""

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
