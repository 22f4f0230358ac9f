"""UTC time in one convention: aware UTC datetimes in Python (SQLModel stores them as UTC on both
SQLite and PostgreSQL), `...Z` strings on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime


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
    """Parse ISO 8601 (with `Z`, an offset, or naive meaning UTC); ValueError if it is not one."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(text))
