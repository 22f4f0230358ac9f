"""UTC time in one convention: aware UTC datetimes in Python (SQLModel stores them as UTC on both
SQLite and PostgreSQL), `...Z` strings on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime

# What the gateway accepts as a time: the range Python's datetime holds, less a year at each end,
# so that an offset, an SLA target or a window added to it can never overflow (PostgreSQL and
# SQLite hold more). Outside it, a value is refused like any malformed one (ValueError).
EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


class OutOfRange(ValueError):
    """A well-formed time the gateway cannot hold; its message says so (callers that replace a
    parse error by their own "must be ISO 8601" hint keep this one)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Accept aware or naive (taken as UTC) datetimes from callers; always return aware UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat_z(value: datetime) -> str:
    """`2026-11-27T21:52:32.123Z`: ISO 8601, UTC, millisecond precision, as DESIGN.md asks."""
    # isoformat, not strftime: strftime("%Y") does not pad years before 1000 to four digits.
    return to_utc(value).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_iso(value: str) -> datetime:
    """Parse ISO 8601 (with `Z`, an offset, or naive meaning UTC); ValueError if it is not one,
    or if it lies outside EARLIEST..LATEST (e.g. year 1 with a +01:00 offset, which is before
    year 1 in UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = to_utc(datetime.fromisoformat(text))
    except OverflowError:
        raise OutOfRange(
            f"{text} is out of range: times must lie between years {EARLIEST.year} and "
            f"{LATEST.year}"
        ) from None
    return in_range(parsed)


def in_range(value: datetime) -> datetime:
    """`value` (aware UTC) if between EARLIEST and LATEST; ValueError otherwise."""
    if not EARLIEST <= value <= LATEST:
        raise OutOfRange(
            f"{isoformat_z(value)} is too {'early' if value < EARLIEST else 'late'}: times must "
            f"lie between years {EARLIEST.year} and {LATEST.year}"
        )
    return value
