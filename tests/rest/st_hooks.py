"""Schemathesis hooks for tests/rest/test_schemathesis.py (loaded with SCHEMATHESIS_HOOKS).

schemathesis.toml lets a 422 answer schema-valid data on the two operations whose rules a JSON
Schema cannot state; this check keeps that allowance to exactly those rules, so a 422 for any other
reason on data the document calls valid (a pattern the server does not honour, say) still fails.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

# (method, path) -> (field, message prefixes) of the 422s the document describes in prose.
CROSS_FIELD_RULES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("POST", "/v1/reports"): (
        "period_start",
        ("period_start must be before period_end", "a report period may span at most 366 days"),
    ),
    ("POST", "/v1/alerts"): (
        "Idempotency-Key",
        ("this Idempotency-Key was already used with a different request body",),
    ),
}


class UndocumentedRefusal(AssertionError):
    pass


@schemathesis.check
def seliq_only_documented_422(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 422 to data the schema admits must be one of the rules stated in prose."""
    meta = case.meta
    if response.status_code != 422 or meta is None or not meta.generation.mode.is_positive:
        return None
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        raise UndocumentedRefusal("a 422 without the REST error body") from None
    rule = CROSS_FIELD_RULES.get((case.method.upper(), case.operation.path))
    if rule is not None:
        field, messages = rule
        if error.get("field") == field and str(error.get("message", "")).startswith(messages):
            return None
    raise UndocumentedRefusal(
        f"{case.method.upper()} {case.operation.path}: schema-valid data refused with 422 "
        f"`{error.get('field')}`: {error.get('message')}"
    )
