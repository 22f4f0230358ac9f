"""Regular expressions that are both the REST layer's check and the OpenAPI document's `pattern`,
so that what the document calls valid is what the server accepts, character for character.

Every pattern is written in the subset that ECMA-262 (JSON Schema), Python's `re` and
Schemathesis agree on: anchored with `^...$`, explicit classes (`[0-9]`, never `\\d`, which is
Unicode-wide in Python), `\\uXXXX` escapes. The server matches them with `fullmatch`, so the
trailing newline Python's `$` would let through is refused too.
"""

from __future__ import annotations

import re
from datetime import timedelta

from gateway.domain import ids
from gateway.domain.timeutil import EARLIEST, LATEST

# What Python's str.strip() and `\s` call whitespace (str.isspace), as one class body.
WHITESPACE = (
    "\\t-\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
    "\\u205f\\u3000"
)
NO_NUL = "^[^\\u0000]*$"
# Text with a character that is neither whitespace nor NUL: what "not blank" means after strip().
NON_BLANK = f"^[^\\u0000]*[^\\u0000{WHITESPACE}][^\\u0000]*$"
# An id body: what gateway/domain/ids.py `prefix_of` accepts (ASCII letters and digits, the whole
# id at most 64 characters).
MAX_ID_LENGTH = 64
SLUG = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # gateway/domain/tenancy/workspaces.py SLUG_RE


def id_body(prefix: str) -> str:
    return f"{prefix}_[A-Za-z0-9]{{1,{MAX_ID_LENGTH - len(prefix) - 1}}}"


def id_pattern(prefix: str) -> str:
    """`^inc_[A-Za-z0-9]{1,60}$`: an id with that prefix, as `ids.prefix_of` reads it."""
    if prefix not in ids.PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"^{id_body(prefix)}$"


WORKSPACE_REF = f"^(?:{id_body(ids.WORKSPACE)}|{SLUG})$"


def anycase(word: str) -> str:
    """`ok` -> `[oO][kK\\u212a]`: the word in any case, as `str.lower()` folds it (the Kelvin sign
    is the one non-ASCII character that lower-cases to an ASCII letter)."""
    out = []
    for char in word:
        if char.isalpha():
            extra = "\\u212a" if char == "k" else ""
            out.append(f"[{char}{char.upper()}{extra}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def choice(words: tuple[str, ...] | list[str], *, blanks: bool = False) -> str:
    """One of `words` in any case; with `blanks`, whitespace around it is allowed (strip())."""
    body = "(?:" + "|".join(anycase(w) for w in sorted(words, key=len, reverse=True)) + ")"
    if blanks:
        body = f"[{WHITESPACE}]*{body}[{WHITESPACE}]*"
    return body


def comma_list(words: tuple[str, ...]) -> str:
    """`a,b,...`: one or more of `words`, any case, blanks around each, no empty item."""
    item = choice(words, blanks=True)
    return f"^{item}(?:,{item})*$"


# ---- numbers -----------------------------------------------------------------------------------


def fixed_width_range(low: int, high: int, width: int) -> str:
    """Zero-padded decimal strings of exactly `width` digits whose value lies in low..high."""
    if not 0 <= low <= high < 10**width:
        raise ValueError("empty or out-of-width range")
    if width == 0:
        return ""
    lo, hi = f"{low:0{width}d}", f"{high:0{width}d}"
    rest = width - 1
    full = f"[0-9]{{{rest}}}" if rest > 1 else ("[0-9]" if rest == 1 else "")
    if lo[0] == hi[0]:
        return lo[0] + _group(fixed_width_range(int(lo[1:] or 0), int(hi[1:] or 0), rest))
    parts = []
    top = 10**rest - 1
    first, last = int(lo[0]), int(hi[0])
    if int(lo[1:] or 0) == 0:
        start = first
    else:
        parts.append(lo[0] + _group(fixed_width_range(int(lo[1:]), top, rest)))
        start = first + 1
    end = last if int(hi[1:] or 0) == top else last - 1
    if start <= end:
        digits = str(start) if start == end else f"[{start}-{end}]"
        parts.append(digits + full)
    if end != last:
        parts.append(hi[0] + _group(fixed_width_range(0, int(hi[1:]), rest)))
    return _group("|".join(parts)) if len(parts) > 1 else parts[0]


def _group(pattern: str) -> str:
    return f"(?:{pattern})" if "|" in pattern else pattern


def natural_up_to(high: int) -> str:
    """0..high in decimal without leading zeros."""
    width = len(str(high))
    parts = ["0"]
    if width > 1:
        parts.append("[1-9]" if width == 2 else f"[1-9][0-9]{{0,{width - 2}}}")
    parts.append(fixed_width_range(max(1, 10 ** (width - 1)), high, width))
    return "(?:" + "|".join(parts) + ")"


# ---- dates and times ---------------------------------------------------------------------------

_DAYS = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
# Four-digit leap years (0004, 0008, ..., 9996; 0000 is not one of them).
_LEAP = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"


def _month_days(first: tuple[int, int] = (1, 1), last: tuple[int, int] = (12, 31)) -> str:
    """`MM-DD` of a common year from `first` to `last` (Feb 29 is added for leap years apart)."""
    parts = []
    for month in range(first[0], last[0] + 1):
        low = first[1] if month == first[0] else 1
        high = min(_DAYS[month], last[1] if month == last[0] else 31)
        parts.append(f"{month:02d}-{_group(fixed_width_range(low, high, 2))}")
    return "(?:" + "|".join(parts) + ")"


def _dates(first_day: tuple[int, int], last_day: tuple[int, int]) -> str:
    """`YYYY-MM-DD`, valid calendar dates from year 2 `first_day` to year 9998 `last_day`."""
    low, high = EARLIEST.year, LATEST.year
    return (
        "(?:"
        f"{low:04d}-{_month_days(first=first_day)}"
        f"|{fixed_width_range(low + 1, high - 1, 4)}-{_month_days()}"
        f"|{_LEAP}-02-29"
        f"|{high:04d}-{_month_days(last=last_day)}"
        ")"
    )


_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{1,9})?)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# A date-time may carry an offset of up to a day, so its calendar date keeps a day clear of the
# range's ends (and a date is midnight UTC, so a date may use the whole range).
_DATE_TIME = f"{_dates((1, 2), (12, 29))}[Tt ]{_TIME}{_OFFSET}?"
TIMESTAMP = f"^(?:{_DATE_TIME}|{_dates((1, 1), (12, 31))})$"
TIMESTAMP_DESCRIPTION = (
    "ISO 8601: a date-time such as `2026-01-31T09:30:00Z` (`T` or a space; seconds and "
    "fractions optional; `Z`, an offset such as `+02:00`, or none for UTC) or a date such as "
    f"`2026-01-31` (midnight UTC), from year {EARLIEST.year} to {LATEST.year}."
)

# ---- cursors -----------------------------------------------------------------------------------

MICROSECOND = timedelta(microseconds=1)
MAX_CURSOR_MICROS = (LATEST - EARLIEST) // MICROSECOND


def cursor_pattern(prefix: str) -> str:
    """`<microseconds since year 2>.<id>`: every string it matches is a position in a list whose
    rows have `prefix` ids (see rest_compat/cursors.py)."""
    return f"^{natural_up_to(MAX_CURSOR_MICROS)}\\.{id_body(prefix)}$"


def cursor_max_length(prefix: str) -> int:
    return len(str(MAX_CURSOR_MICROS)) + 1 + MAX_ID_LENGTH


def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
