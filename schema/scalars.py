"""Scalars: DateTime on the wire is ISO 8601 UTC ending in `Z`; JSON objects pass through."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from gateway.domain.timeutil import isoformat_z, parse_iso

# Mapped onto Python's `datetime` in build.py (StrawberryConfig.scalar_map), so types keep
# plain `datetime` annotations.
DATETIME = strawberry.scalar(
    name="DateTime",
    serialize=isoformat_z,
    parse_value=parse_iso,
    description="ISO 8601 date-time in UTC, e.g. 2026-11-27T21:52:32.123Z",
)

__all__ = ["DATETIME", "JSON"]
