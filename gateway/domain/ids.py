"""Prefixed, opaque, URL-safe identifiers (`inc_01J...`), which are also the Relay global ids.

The body is a ULID-style string (48-bit millisecond time + 80 random bits, Crockford base32): it
sorts roughly by creation time, which keeps the id a stable, index-friendly tie-breaker for keyset
pagination, and its prefix tells `node(id:)` which table to look in without decoding anything.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

WORKSPACE = "ws"
INCIDENT = "inc"
ALERT = "alt"
EVENT = "evt"
NOTE = "note"
REPORT = "rpt"
API_KEY = "key"
WEBHOOK = "whk"
DELIVERY = "dlv"

PREFIXES = (WORKSPACE, INCIDENT, ALERT, EVENT, NOTE, REPORT, API_KEY, WEBHOOK, DELIVERY)


# Every pair of characters, by the 10 bits it encodes, and where each pair of an id sits.
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


def new_id(prefix: str) -> str:
    """A fresh id with `prefix`, e.g. `new_id("inc")` -> `inc_01jd0x...`: the 48-bit time in
    10 characters then the 80 random bits in 16, i.e. the 130-bit number `millis << 80 | rand`
    in 26, written two characters at a time (ids are made several per alert; one at a time was
    ~2% of ingestion's CPU)."""
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    value = millis << 80 | int.from_bytes(os.urandom(10), "big")
    return prefix + "_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def prefix_of(value: str) -> str | None:
    """The known prefix of an id, or None for anything that is not one of ours."""
    head, sep, body = value.partition("_")
    if not sep or head not in PREFIXES or len(value) > 64:
        return None
    # Letters and digits only: anything else (a NUL, a quote, a lone surrogate) is not an id of
    # ours, so it is answered "not found" without reaching the database.
    if not (body.isascii() and body.isalnum()):
        return None
    return head
