"""Ids (`gateway.domain.ids`): the fast encoding writes exactly the documented form, 10 characters
of the millisecond time then 16 of the random part, in the Crockford-style alphabet."""

from __future__ import annotations

import pytest

from gateway.domain import ids


def encode(value: int, length: int) -> str:
    """The documented form, one character at a time: the low `5 * length` bits of `value`,
    most significant first, in the ids' alphabet."""
    chars = []
    for _ in range(length):
        chars.append(ids._ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@pytest.mark.parametrize(
    ("millis", "rand"),
    [(0, 0), ((1 << 48) - 1, (1 << 80) - 1), (1_765_000_000_000, 1), (1, 1 << 79),
     (123_456_789_012, 0x0123456789ABCDEF0123)],
)
def test_new_ids_are_the_time_then_the_random_part(
    monkeypatch: pytest.MonkeyPatch, millis: int, rand: int
) -> None:
    monkeypatch.setattr(ids.time, "time", lambda: millis / 1000 + 0.0000001)
    monkeypatch.setattr(ids.os, "urandom", lambda n: rand.to_bytes(n, "big"))
    made = ids.new_id(ids.ALERT)
    assert made == f"alt_{encode(millis, 10)}{encode(rand, 16)}"
    assert ids.prefix_of(made) == ids.ALERT and len(made) == 4 + 26


def test_new_ids_sort_by_time() -> None:
    made = [ids.new_id(ids.INCIDENT) for _ in range(200)]
    assert [m[4:14] for m in made] == sorted(m[4:14] for m in made)
    assert len(set(made)) == 200
