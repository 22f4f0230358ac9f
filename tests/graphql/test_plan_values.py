"""The plans' scalar converters give what the schema's scalars give (`isoformat_z` for
DateTime), from each driver's raw value: asyncpg's aware datetimes and SQLite's stored text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.domain.timeutil import isoformat_z
from schema.plan.values import datetime_value

TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # a year below 1000 keeps 4 digits
    datetime(2026, 12, 7, 14, 55, 26, 17000, tzinfo=UTC),
    datetime(2026, 1, 3, 1, 58, 30, 863999, tzinfo=UTC),  # milliseconds truncate, not round
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("value", TIMES, ids=str)
def test_datetime_value_is_the_schemas_datetime(value: datetime) -> None:
    assert datetime_value(value) == isoformat_z(value)
    stored = value.replace(tzinfo=None).isoformat(" ", "microseconds")  # SQLite's text
    assert datetime_value(stored) == isoformat_z(value)
