"""How request parts become GraphQL variables: path, query-string and header parameters, and JSON
bodies. Each declaration also describes itself for the OpenAPI document, and its description is
its check: a kind with a pattern refuses exactly what the pattern does not match
(rest_compat/patterns.py), so what the document calls valid is what the route accepts.

A parameter's `target` is a dotted path into the variables (`filter.status` sets
`variables["filter"]["status"]`); a parameter without one is only read by the result (`format`).
Query parameters that are absent are left out, and so are empty ones of a kind whose schema admits
the empty string (free text: `q=` is no filter); an empty value of any other kind is refused like
any value outside its schema. Unknown parameters are ignored. A bad query, path or header value is
a 400 `invalid_request` naming the parameter and what it accepts; a body that is not a JSON object
is a 400, and a bad field of a JSON object is a 422 `validation_failed` naming the field (as a
`userError` of the mutation would).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from aiohttp import web

from gateway.domain import jsontext
from gateway.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from gateway.domain.timeutil import parse_iso
from rest_compat import patterns
from rest_compat.cursors import CursorCodec
from rest_compat.errors import invalid_request
from rest_compat.shapes import EnumType

Location = Literal["path", "query", "header"]
_DIGITS = re.compile(r"[0-9]{1,4}")
MAX_TEXT_PARAM = 200  # free-text filters; keeps every URL well under aiohttp's 8 KiB line
MAX_LIST_PARAM = 200  # comma-separated lists
MAX_CHOICE_PARAM = 40  # one word, and blanks around it


def put(variables: dict[str, Any], target: str, value: Any) -> None:
    """Set `value` at the dotted `target` path, creating the input objects on the way."""
    *parents, last = target.split(".")
    node = variables
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value


def shown(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:40] + "…"


TIMESTAMP_HINT = (
    "must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z, or a date such as 2026-01-31, "
    "between years 2 and 9998"
)
_TIMESTAMP = re.compile(patterns.TIMESTAMP)


def parse_timestamp(raw: str) -> datetime:
    """A time the pattern admits (which parse_iso always reads, in range); ValueError otherwise."""
    if not _TIMESTAMP.fullmatch(raw):
        raise ValueError(TIMESTAMP_HINT)
    return parse_iso(raw)


def timestamp_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": patterns.TIMESTAMP,
        "maxLength": 40,
        "description": patterns.TIMESTAMP_DESCRIPTION,
    }


# ---- parameter kinds (a raw string in, a variable value out) ---------------------------------


class ParamKind(Protocol):
    @property
    def empty_is_absent(self) -> bool:
        """An empty value counts as absent (only kinds whose schema admits the empty string)."""
        ...

    def parse(self, raw: str) -> Any:
        """The parsed value; ValueError("<what it accepts>") when it is not one."""
        ...

    def variable(self, value: Any) -> Any: ...

    def schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Text:
    """Free text (exact matches and searches), at most `max_length` characters, no NUL."""

    max_length: int = MAX_TEXT_PARAM
    empty_is_absent: bool = True

    def parse(self, raw: str) -> str:
        if len(raw) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters")
        return raw

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.max_length, "pattern": patterns.NO_NUL}


@dataclass(frozen=True)
class Matching:
    """A value matching `pattern` whole (ids, keys); `hint` says what that is."""

    pattern: str
    hint: str
    max_length: int | None = None
    empty_is_absent: bool = False

    def parse(self, raw: str) -> str:
        if not re.fullmatch(self.pattern, raw):
            raise ValueError(f"must be {self.hint}")
        return raw

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "pattern": self.pattern}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


def resource_id(prefix: str, noun: str) -> Matching:
    return Matching(
        patterns.id_pattern(prefix), f"{noun} id (`{prefix}_...`)", patterns.MAX_ID_LENGTH
    )


@dataclass(frozen=True)
class PathId:
    """A resource id in the path. The pattern is documentation: any other value names nothing,
    and is answered 404 like an id that does not exist (or is another workspace's)."""

    pattern: str
    max_length: int = patterns.MAX_ID_LENGTH
    empty_is_absent: bool = False

    def parse(self, raw: str) -> str:
        return raw

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": self.pattern, "maxLength": self.max_length}


@dataclass(frozen=True)
class PageSize:
    maximum: int = MAX_PAGE_SIZE
    empty_is_absent: bool = False

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
    """Comma-separated enum values (`status=triggered,acknowledged`), any case, blanks around
    items allowed; no empty item (`status=` and `status=a,` are refused)."""

    enum: EnumType
    empty_is_absent: bool = False

    @property
    def pattern(self) -> str:
        return patterns.comma_list(self.enum.values)

    def parse(self, raw: str) -> list[str]:
        if len(raw) > MAX_LIST_PARAM or not re.fullmatch(self.pattern, raw):
            raise ValueError(f"takes a comma-separated list of {', '.join(self.enum.values)}")
        values: list[str] = []
        for item in raw.split(","):
            value = item.strip().lower()
            if value not in values:
                values.append(value)
        return values

    def variable(self, value: Any) -> Any:
        return [self.enum.to_graphql[v] for v in value]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": self.pattern,
            "maxLength": MAX_LIST_PARAM,
            "description": f"One or more of {', '.join(self.enum.values)}, comma-separated "
            "(any case).",
        }


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words (`format=markdown`), any case, blanks around it allowed."""

    values: tuple[str, ...]
    default: str
    empty_is_absent: bool = False

    def parse(self, raw: str) -> str:
        pattern = patterns.choice(self.values, blanks=True)
        if len(raw) > MAX_CHOICE_PARAM or not re.fullmatch(pattern, raw):
            raise ValueError(f"must be one of {', '.join(self.values)}")
        return raw.strip().lower()

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": f"^{patterns.choice(self.values, blanks=True)}$",
            "maxLength": MAX_CHOICE_PARAM,
            "default": self.default,
            "description": f"One of {', '.join(self.values)} (any case).",
        }


@dataclass(frozen=True)
class Timestamp:
    empty_is_absent: bool = False

    def parse(self, raw: str) -> datetime:
        return parse_timestamp(raw)

    def variable(self, value: Any) -> Any:
        return value.isoformat()

    def schema(self) -> dict[str, Any]:
        return timestamp_schema()


@dataclass(frozen=True)
class Cursor:
    """`pagination.next_cursor` of the previous page, for a list whose rows have `prefix` ids."""

    prefix: str
    empty_is_absent: bool = False
    codec: CursorCodec = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codec", CursorCodec(self.prefix))

    def parse(self, raw: str) -> str:
        return self.codec.to_graphql(raw)

    def variable(self, value: Any) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": self.codec.pattern,
            "maxLength": patterns.cursor_max_length(self.prefix),
        }


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
    # A valid value for the OpenAPI document (clients' docs; Schemathesis's examples phase).
    example: str | None = None

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
        where = "header" if self.location == "header" else "parameter"
        if raw is not None and (reason := jsontext.unstorable_text(raw)) is not None:
            raise invalid_request(f"{where} `{self.name}` {reason}", field=self.name)
        if raw is None or (raw == "" and self.kind.empty_is_absent):
            if self.default is None:
                return
            value = self.default
        else:
            try:
                value = self.kind.parse(raw)
            except ValueError as exc:
                got = f"`{shown(raw)}`" if raw else "an empty value"
                raise invalid_request(
                    f"{where} `{self.name}` {exc} (got {got})", field=self.name
                ) from None
        values[self.name] = value
        if self.target is not None:
            put(variables, self.target, self.kind.variable(value))
        for flag_value, variable in self.flags:
            if value == flag_value:
                put(variables, variable, True)


def path_param(name: str, target: str, description: str, prefix: str | None = None) -> Param:
    if prefix is None:
        return Param(name, "path", PathId("^[^/]+$"), target, description)
    example = f"{prefix}_01jd0x5k3m8q2r7t9v4w6y1z3a"  # shaped like ours; found in no workspace
    return Param(name, "path", PathId(patterns.id_pattern(prefix)), target, description,
                 example=example)


def query_param(
    name: str,
    kind: ParamKind,
    target: str | None,
    description: str,
    default: Any = None,
    flags: tuple[tuple[str, str], ...] = (),
    example: str | None = None,
) -> Param:
    return Param(name, "query", kind, target, description, default, flags, example)


def header_param(
    name: str, kind: ParamKind, target: str | None, description: str, example: str | None = None
) -> Param:
    return Param(name, "header", kind, target, description, example=example)


LIMIT = query_param(
    "limit", PageSize(), "first",
    f"Page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).", default=DEFAULT_PAGE_SIZE,
    example="20",
)


def paging(prefix: str) -> tuple[Param, Param]:
    """`limit` and `cursor` of a list whose rows have `prefix` ids."""
    cursor = query_param(
        "cursor", Cursor(prefix), "after",
        "`pagination.next_cursor` of the previous page, as it came.",
        example=f"63871286400000000.{prefix}_01jd0x5k3m8q2r7t9v4w6y1z3a",
    )
    return (LIMIT, cursor)
