"""`jsontext.exact`: JSON we wrote or stored, decoded with integers beyond 64 bits kept exact,
whatever the blanks around them (PostgreSQL's JSON text puts spaces after `:` and `,`)."""

from __future__ import annotations

import pytest

from gateway.domain import jsontext

BIG = 123456789012345678901234567890


@pytest.mark.parametrize("text", [
    f'{{"a":{BIG}}}', f'{{"a" : {BIG}}}', f'{{"a" : [1, -{BIG}]}}', f"{BIG}", f"[{BIG}]",
])
def test_long_integers_stay_exact(text: str) -> None:
    assert jsontext.exact(text) == jsontext.exact(text.encode())
    assert str(BIG) in str(jsontext.exact(text))


def test_digit_runs_inside_strings_are_strings() -> None:
    value = {"id": "alt_01ke0s9f81000000000000000000009re", "at": "12:34:56"}
    assert jsontext.exact('{"id" : "alt_01ke0s9f81000000000000000000009re", "at" : "12:34:56"}') \
        == value
