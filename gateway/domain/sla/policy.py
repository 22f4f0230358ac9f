"""SLA policies: acknowledge and resolve targets per workspace and severity, and their updates.

Policy. Acknowledge and resolve targets per severity, stored in `Workspace.sla_policy` (JSON) as
`{"critical": {"ack_seconds": 900, "resolve_seconds": 14400}, ...}`. Severities missing from the
stored object take the defaults below; `null` means "no target".

The maths per incident and over a period is in `gateway.domain.sla.maths`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.errors import InvalidInput, NotFound
from gateway.domain.storage.models import SEVERITIES, Workspace
from gateway.domain.storage.rows import ROW_LOCK

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MAX_TARGET_SECONDS = 365 * DAY
DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=366)
BREACH_KINDS = ("ack", "resolve")


def breach_word(kind: str) -> str:
    """How a breach kind reads in text: `acknowledge` (ack) or `resolve`."""
    return "acknowledge" if kind == "ack" else "resolve"


@dataclass(frozen=True)
class Target:
    """The targets for one severity, in seconds; None means no target."""

    ack_seconds: int | None
    resolve_seconds: int | None

    @property
    def has_any(self) -> bool:
        return self.ack_seconds is not None or self.resolve_seconds is not None


Policy = Mapping[str, Target]

DEFAULT_POLICY: dict[str, Target] = {
    "critical": Target(15 * MINUTE, 4 * HOUR),
    "high": Target(30 * MINUTE, 8 * HOUR),
    "medium": Target(4 * HOUR, 24 * HOUR),
    "low": Target(24 * HOUR, 72 * HOUR),
    "info": Target(None, None),
}


def _seconds_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def policy_from_json(raw: Mapping[str, Any] | None) -> dict[str, Target]:
    """The effective policy: stored entries over the defaults (malformed entries are ignored)."""
    policy = dict(DEFAULT_POLICY)
    if not isinstance(raw, Mapping):
        return policy
    for severity, entry in raw.items():
        if severity in policy and isinstance(entry, Mapping):
            default = policy[severity]
            policy[severity] = Target(
                _seconds_or_none(entry["ack_seconds"])
                if "ack_seconds" in entry else default.ack_seconds,
                _seconds_or_none(entry["resolve_seconds"])
                if "resolve_seconds" in entry else default.resolve_seconds,
            )
    return policy


def policy_to_json(policy: Policy) -> dict[str, Any]:
    return {
        severity: {
            "ack_seconds": policy[severity].ack_seconds,
            "resolve_seconds": policy[severity].resolve_seconds,
        }
        for severity in SEVERITIES
    }


_UNSET: Any = object()


@dataclass(frozen=True)
class TargetChange:
    """A change to one severity's targets; a field left as UNSET keeps its current value."""

    severity: str
    ack_seconds: int | None = _UNSET
    resolve_seconds: int | None = _UNSET


UNSET = _UNSET


def apply_changes(
    current: Policy, changes: Sequence[TargetChange], *, field_prefix: str = "targets"
) -> dict[str, Target]:
    """The policy after `changes`, validated; raises InvalidInput naming the offending field."""
    policy = dict(current)
    seen: set[str] = set()
    for index, change in enumerate(changes):
        where = f"{field_prefix}[{index}]"
        if change.severity not in SEVERITIES:
            raise InvalidInput(
                f"severity must be one of {', '.join(SEVERITIES)}", field=f"{where}.severity"
            )
        if change.severity in seen:
            raise InvalidInput(
                f"severity {change.severity} appears more than once", field=f"{where}.severity"
            )
        seen.add(change.severity)
        before = policy[change.severity]
        ack = before.ack_seconds if change.ack_seconds is UNSET else change.ack_seconds
        resolve = (
            before.resolve_seconds if change.resolve_seconds is UNSET else change.resolve_seconds
        )
        for name, value in (("ackSeconds", ack), ("resolveSeconds", resolve)):
            if value is not None and not 1 <= value <= MAX_TARGET_SECONDS:
                raise InvalidInput(
                    f"{name} must be between 1 and {MAX_TARGET_SECONDS} seconds (365 days), "
                    "or null for no target",
                    field=f"{where}.{name}",
                )
        if ack is not None and resolve is not None and ack > resolve:
            raise InvalidInput(
                f"the acknowledge target ({format_duration(ack)}) of {change.severity} is "
                f"longer than its resolve target ({format_duration(resolve)})",
                field=f"{where}.ackSeconds",
            )
        policy[change.severity] = Target(ack, resolve)
    return policy


async def update_policy(
    session: AsyncSession,
    workspace_id: str,
    changes: Sequence[TargetChange],
    *,
    reset: bool = False,
) -> tuple[Workspace, dict[str, Target]]:
    """Apply `changes` (after resetting to the defaults when `reset`) inside the caller's write
    transaction. The stored JSON always lists every severity, so it reads on its own."""
    workspace = await session.get(
        Workspace, workspace_id, with_for_update=ROW_LOCK, populate_existing=True
    )
    if workspace is None:
        raise NotFound(f"no workspace {workspace_id}", field="workspace")
    base = DEFAULT_POLICY if reset else policy_from_json(workspace.sla_policy)
    policy = apply_changes(base, changes)
    workspace.sla_policy = policy_to_json(policy)
    session.add(workspace)
    await session.flush()
    return workspace, policy


_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": MINUTE, "h": HOUR, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str) -> int | None:
    """`15m`, `4h`, `1h30m`, `2d`, `90` (seconds); `none`/`off`/`-` mean no target (None)."""
    value = text.strip().lower()
    if value in {"none", "off", "-", "null"}:
        return None
    if value.isdigit():
        return int(value)
    compact = value.replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise InvalidInput(
            f"cannot read duration {text!r}: use e.g. 15m, 4h, 1h30m, 2d, or none"
        )
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def format_duration(seconds: int | float | None) -> str:
    """`900` -> `15m`, `5400` -> `1h30m`, None -> `none`."""
    if seconds is None:
        return "none"
    remaining = int(round(seconds))
    if remaining == 0:
        return "0s"
    out = []
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
