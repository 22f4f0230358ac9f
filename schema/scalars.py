"""Scalars: DateTime on the wire is ISO 8601 UTC ending in `Z`; JSON objects pass through."""

from __future__ import annotations

from datetime import datetime
from typing import NewType

import strawberry
from strawberry.scalars import JSON

from gateway.timeutil import isoformat_z, parse_iso

DateTime = strawberry.scalar(
    NewType("DateTime", datetime),
    serialize=isoformat_z,
    parse_value=parse_iso,
    description="ISO 8601 date-time in UTC, e.g. 2026-11-27T21:52:32.123Z",
)

__all__ = ["JSON", "DateTime"]
