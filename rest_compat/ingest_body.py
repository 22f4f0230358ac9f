"""The JSON Schema of `POST /v1/alerts`: every body ingestion accepts, as ingestion decides it
(gateway/domain/ingest/formats.py and shapes.py), stated side by side with the rules it mirrors.

A body is one of three (they partition JSON objects):
- `GenericAlert`: only keys of the documented generic body, validated strictly;
- `AlertObject`: any other object without `alerts` (Grafana's legacy webhook, Wazuh, anything),
  accepted leniently;
- `AlertGroup`: an object with `alerts`: an Alertmanager or Grafana group (any alert objects), or
  a batch whose items are each one of the first two.

What a schema cannot state is said in descriptions: the 64-level nesting bound, that
`fingerprint` and `dedup_key` may come together only when equal (the schema admits one of them),
and the ISO 8601 forms beyond the common ones that `occurred_at` also reads.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from gateway.domain.ingest.normalize import (
    FIRING_WORDS,
    GENERIC_KEYS,
    GRAFANA_ALERT_KEYS,
    MAX_BATCH,
    MAX_FINGERPRINT,
    MAX_SOURCE,
    RESOLVED_WORDS,
)
from gateway.domain.ingest.severity import SYNONYMS
from rest_compat import patterns
from rest_compat.bodies import JSON_VALUE_REF, NUMBER

NULL: dict[str, Any] = {"type": "null"}
TEXT: dict[str, Any] = {"type": "string", "pattern": patterns.NO_NUL}
NON_BLANK: dict[str, Any] = {"type": "string", "pattern": patterns.NON_BLANK}
ANY_OBJECT: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"pattern": patterns.NO_NUL},
    "additionalProperties": JSON_VALUE_REF,
}
GENERIC_NAMES = sorted(GENERIC_KEYS)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# ---- severity: ingest/severity.py `map_severity` --------------------------------------------

# Case-insensitive; blanks, `_` and `-` are dropped anywhere (`SEV-1`, `c r i t`).
_SEP = f"[{patterns.WHITESPACE}_-]*"


def _spaced(parts: list[str]) -> str:
    return _SEP + _SEP.join(parts) + _SEP


def _letters(word: str) -> list[str]:
    return [patterns.anycase(char) for char in word]


def _decimal_digits() -> dict[int, str]:
    """Every character `\\d` matches (Unicode decimal digits, which int() reads), by value."""
    digits: dict[int, list[str]] = {value: [] for value in range(10)}
    # `isdecimal` is exactly category Nd, at half the cost of asking for the category: this
    # scan of every code point runs at each process start (0.10 -> 0.05 s).
    for char in filter(str.isdecimal, map(chr, range(0x110000))):
        digits[unicodedata.decimal(char)].append(char)
    return {
        value: "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else c for c in chars)
        for value, chars in digits.items()
    }


def _digit_class(values: range) -> str:
    return "[" + "".join(_DIGITS[value] for value in values) + "]"


_DIGITS = _decimal_digits()


def _severity_text() -> str:
    words = sorted(SYNONYMS, key=len, reverse=True)
    alternatives = [_spaced(_letters(word)) for word in words]
    # Priorities p1..p5, sev1..sev5, s1..s5 (ASCII digits).
    for head in ("sev", "p", "s"):
        alternatives.append(_spaced([*_letters(head), "[1-5]"]))
    # Levels 0..15 written as one or two digits (`7`, `07`, `12`).
    any_digit, zero, one = _digit_class(range(10)), _digit_class(range(1)), _digit_class(
        range(1, 2)
    )
    alternatives += [
        _spaced([any_digit]),
        _spaced([zero, any_digit]),
        _spaced([one, _digit_class(range(6))]),
    ]
    return "^(?:" + "|".join(alternatives) + ")$"


SEVERITY: dict[str, Any] = {
    "description": "critical, high, medium, low or info, any case; also their synonyms (crit, "
    "error, warning, minor, debug, ...), P1-P5, SEV1-SEV5 and levels 0-15 (numbers or digits); "
    "blanks, `_` and `-` are ignored.",
    "anyOf": [
        NULL,
        {"type": "number", "minimum": 0, "maximum": 15, "multipleOf": 1},
        {"type": "string", "pattern": _severity_text()},
    ],
}
STATUS: dict[str, Any] = {
    "description": "firing or resolved, any case; also " + ", ".join(
        sorted((FIRING_WORDS | RESOLVED_WORDS) - {"firing", "resolved"})
    ) + ".",
    "anyOf": [
        NULL,
        {"type": "string", "pattern": "^" + patterns.choice(
            sorted(FIRING_WORDS | RESOLVED_WORDS), blanks=True
        ) + "$"},
    ],
}
FINGERPRINT: dict[str, Any] = {
    "description": f"At most {MAX_FINGERPRINT} characters as text (a number counts as its "
    "digits).",
    "anyOf": [
        NULL,
        {**NON_BLANK, "maxLength": MAX_FINGERPRINT},
        # Taken as its text: an integer of at most 255 characters, sign included.
        {"type": "number", "exclusiveMinimum": -(10**254), "exclusiveMaximum": 10**255},
    ],
}
LABEL_VALUE: dict[str, Any] = {"anyOf": [TEXT, NUMBER, {"type": "boolean"}]}

GENERIC_ALERT: dict[str, Any] = {
    "type": "object",
    "description": "The generic alert body: only these keys, validated strictly. It needs a "
    "title: `title`, else `labels.alertname`, else the first line of `description`. Send "
    "`fingerprint` or `dedup_key` (both only if equal); without either, one is derived from "
    "source, title and labels.",
    "properties": {
        "title": {"anyOf": [NULL, TEXT], "description": "A short line saying what fired."},
        "description": {"anyOf": [NULL, TEXT]},
        "severity": SEVERITY,
        "status": STATUS,
        "source": {"anyOf": [NULL, {**NON_BLANK, "maxLength": MAX_SOURCE}]},
        "fingerprint": FINGERPRINT,
        "dedup_key": FINGERPRINT,
        "labels": {
            "anyOf": [
                NULL,
                {
                    "type": "object",
                    "propertyNames": {"pattern": patterns.NO_NUL},
                    "additionalProperties": LABEL_VALUE,
                },
            ],
            "description": "Strings (numbers and booleans are taken as text).",
        },
        "occurred_at": {
            "anyOf": [NULL, {"type": "string", "pattern": patterns.TIMESTAMP}],
            "description": patterns.TIMESTAMP_DESCRIPTION + " Python's other ISO 8601 forms "
            "(basic, week dates) are read too.",
        },
    },
    "additionalProperties": False,
    "anyOf": [
        {"required": ["title"], "properties": {"title": NON_BLANK}},
        {
            "required": ["labels"],
            "properties": {
                "labels": {
                    "type": "object",
                    "required": ["alertname"],
                    "properties": {
                        "alertname": {
                            "anyOf": [{"type": "string", "minLength": 1},
                                      {"type": ["number", "boolean"]}],
                        }
                    },
                }
            },
        },
        {"required": ["description"], "properties": {"description": NON_BLANK}},
    ],
    "not": {
        "required": ["fingerprint", "dedup_key"],
        "properties": {"fingerprint": {"not": NULL}, "dedup_key": {"not": NULL}},
    },
}
# An object ingestion reads leniently: at least one key outside the generic body.
_NOT_GENERIC: dict[str, Any] = {"not": {"propertyNames": {"enum": GENERIC_NAMES}}}
ALERT_OBJECT: dict[str, Any] = {
    **ANY_OBJECT,
    "description": "Any other object (not only generic keys, no `alerts`): accepted as it is, "
    "the title taken from common keys (`title`, `summary`, `message`, `name`, `alertname`, "
    "`rule.description`, ...), the payload kept whole.",
    "allOf": [_NOT_GENERIC, {"not": {"required": ["alerts"]}}],
}
_ANY_ALERT_OBJECT = {**ANY_OBJECT, **_NOT_GENERIC}
_GRAFANA_ITEM = {"type": "object", "anyOf": [{"required": [k]} for k in sorted(GRAFANA_ALERT_KEYS)]}
# Grafana or Alertmanager envelopes take any alert objects.
_LENIENT_GROUP: list[dict[str, Any]] = [
    {"required": ["orgId"]},
    {"required": ["groupKey"]},
    {"required": ["receiver"]},
    {"required": ["version"], "properties": {"version": {"enum": [4, "4"]}}},
    *(
        {"properties": {"alerts": {"minItems": i + 1, "prefixItems": [{}] * i + [_GRAFANA_ITEM]}}}
        for i in range(10)
    ),
]
ALERT_GROUP: dict[str, Any] = {
    **ANY_OBJECT,
    "description": f"An Alertmanager (v4) or Grafana webhook group, or a batch of 1-{MAX_BATCH} "
    "alerts, each a generic body or any other object. A batch is refused whole if one item is "
    "bad.",
    "required": ["alerts"],
    "properties": {
        "alerts": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH,
            "items": ANY_OBJECT,
        }
    },
    "anyOf": [
        *_LENIENT_GROUP,
        {
            "properties": {
                "alerts": {"items": {"anyOf": [_ref("GenericAlert"), _ANY_ALERT_OBJECT]}}
            }
        },
    ],
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "GenericAlert": GENERIC_ALERT,
    "AlertObject": ALERT_OBJECT,
    "AlertGroup": ALERT_GROUP,
}
INGEST_BODY: dict[str, Any] = {
    "anyOf": [_ref("GenericAlert"), _ref("AlertObject"), _ref("AlertGroup")],
}
