"""JSON as the gateway reads and writes it: one decoder for every body, payload and variables
document, and one encoder for every answer.

Decoding (`loads`) refuses, as `BadJson` naming the place:
- nesting deeper than `MAX_DEPTH` (64) levels of objects and arrays: a deeper document cannot
  be a real alert or query, and encoding one back (Python's encoders recurse) would fail later,
  turning one hostile payload into a 500 on every list that shows it;
- text holding U+0000 (NUL), in a key or a value: PostgreSQL cannot store it in `text` or
  `jsonb`, so it is refused on SQLite too, for one behaviour on both backends; likewise lone
  surrogates (`"\\ud800"`), which are not Unicode text and cannot be encoded.

Numbers are kept exactly: orjson (fast) reads the document, and when it holds an integer longer
than 18 digits (beyond 64 bits, where orjson falls back to a float) the standard library's
decoder reads it again, keeping arbitrary-precision integers. `dumps` falls back the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from gateway.domain.errors import InvalidInput

MAX_DEPTH = 64
NUL = "\x00"

# A number token of 19 or more digits: at the start, or after `:`, `,` or `[` and any blanks.
# Inside a string the same shape is a false positive that only costs a second, exact decode;
# digit runs in ids (`alt_01ke0s9f8100000000000009re`) do not match.
_LONG_INT = re.compile(rb"(?:^|[:,\[])\s*-?\d{19}")
_LONG_INT_TEXT = re.compile(_LONG_INT.pattern.decode())  # the same, for text


class BadJson(ValueError):
    """The text is not JSON we accept; `path` is where (`alerts[3].labels.host`), or None."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def loads(data: bytes | str, *, what: str = "the body", text: bool = True) -> Any:
    """Decode `data`; BadJson with a message that names `what` and the place at fault. With
    `text=False` only the nesting is checked (GraphQL checks text per argument, to name it)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        value = exact(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc):
            raise BadJson(_too_deep(what)) from None
        raise BadJson(f"{what} is not valid JSON ({exc})") from None
    check(value, what=what, text=text)
    return value


def exact(raw: bytes | str) -> Any:
    """Decode JSON we wrote or stored ourselves, keeping integers beyond 64 bits exact (no
    checks: `loads` is for what comes from outside)."""
    value = orjson.loads(raw)
    long_int = _LONG_INT_TEXT.search(raw) if isinstance(raw, str) else _LONG_INT.search(raw)
    if long_int:
        value = json.loads(raw)
    return value


def check(value: Any, *, what: str = "the body", text: bool = True) -> None:
    """Refuse `value` (already decoded, e.g. by a library) if it nests deeper than MAX_DEPTH or,
    with `text`, holds a NUL or a lone surrogate; one pass over its containers, no recursion.
    Each entry keeps its parent and key, and the path is spelled out only for a refusal: every
    body goes through here, and most are accepted."""
    stack: list[tuple[Any, Trail, int]] = [(value, None, 1)]
    while stack:
        item, trail, depth = stack.pop()
        if type(item) is str:
            if text and (reason := _unstorable_char(item)) is not None:
                path = _path(trail)
                raise BadJson(f"{_at(what, path)} {reason}", path)
            continue
        if type(item) is dict:
            items: Any = item.items()
        elif type(item) is list:
            items = enumerate(item)
        else:
            continue
        if depth > MAX_DEPTH:
            raise BadJson(_too_deep(what), _path(trail) or None)
        for key, child in items:
            if text and type(key) is str and (reason := _unstorable_char(key)) is not None:
                path = _path(trail)
                raise BadJson(f"{_at(what, path)} has a key that {reason}", path)
            if type(child) in (str, dict, list):
                stack.append((child, (trail, key), depth + 1))


# Where a value sits: (the parent's trail, its key or index), None at the top.
Trail = tuple[Any, Any] | None


def _path(trail: Trail) -> str:
    keys: list[Any] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = _join(path, key)
    return path


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Encode `value` (orjson; the standard library for integers beyond 64 bits)."""
    # Canonical (sorted) output is for hashing, where keys may be any scalar; answers need no
    # option (orjson's fastest path).
    option = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) if sort_keys else 0
    try:
        return orjson.dumps(value, option=option)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
        return json.dumps(
            value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False,
            default=_isoformat,
        ).encode()


def _isoformat(value: Any) -> str:
    """What orjson writes for the non-JSON types our bodies may hold (datetimes, dates)."""
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def require_storable(value: Any, field: str) -> None:
    """InvalidInput naming `field` (and the place inside it) when `value`, text or decoded
    JSON, nests too deep or holds a NUL: for inputs that did not come through `loads`."""
    try:
        check(value, what=f"`{field}`")
    except BadJson as exc:
        place = f"{field}.{exc.path}" if exc.path else field
        raise InvalidInput(exc.message, field=place) from None


# Lone surrogates are not Unicode text and cannot be encoded for the database. In a GraphQL
# document, the escapes the parser turns into a NUL (it refuses lone surrogate escapes itself).
_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")
_NUL_ESCAPE = re.compile(r"\\u0000|\\u\{0+\}")


def _unstorable_char(text: str) -> str | None:
    found = _UNSTORABLE_CHAR.search(text)
    if found is None:
        return None
    if found.group() == NUL:
        return "contains a NUL character (U+0000)"
    return "is not valid Unicode text (a lone surrogate)"


def unstorable_text(text: str) -> str | None:
    """Why `text` (a parameter, a header, a GraphQL document) cannot be accepted, or None: a NUL
    character, a lone surrogate, or a GraphQL escape that becomes a NUL."""
    if (reason := _unstorable_char(text)) is not None:
        return reason
    if _NUL_ESCAPE.search(text):
        return "contains an escape for a NUL character (\\u0000)"
    return None


def _too_deep(what: str) -> str:
    return f"{what} nests objects and arrays deeper than {MAX_DEPTH} levels"


def _at(what: str, path: str) -> str:
    return f"`{path}` in {what}" if path else what


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
