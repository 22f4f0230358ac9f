"""`seliq-gateway sla ...`: show and change a workspace's SLA policy from the command line.

    seliq-gateway sla show --workspace acme-corp
    seliq-gateway sla set --workspace acme-corp --severity critical --ack 10m --resolve 2h
    seliq-gateway sla set --workspace acme-corp --severity info --ack none
    seliq-gateway sla set --workspace acme-corp --reset

Durations read as `90` (seconds), `15m`, `4h`, `1h30m`, `2d`; `none` removes a target.
"""

from __future__ import annotations

import argparse
from typing import Any

from gateway.domain.errors import InvalidInput
from gateway.domain.settings import Settings
from gateway.domain.sla import maths
from gateway.domain.sla import policy as sla
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import SEVERITIES
from gateway.domain.tenancy.workspaces import require_workspace


def add_parsers(commands: Any) -> None:
    group = commands.add_parser("sla", help="SLA policies").add_subparsers(
        dest="action", required=True
    )
    show = group.add_parser("show", help="print a workspace's SLA policy")
    show.add_argument("--workspace", required=True, help="workspace slug or id")
    change = group.add_parser("set", help="change a workspace's SLA targets")
    change.add_argument("--workspace", required=True, help="workspace slug or id")
    change.add_argument("--severity", choices=SEVERITIES)
    change.add_argument("--ack", help="acknowledge target, e.g. 15m (none: no target)")
    change.add_argument("--resolve", help="resolve target, e.g. 4h (none: no target)")
    change.add_argument("--reset", action="store_true", help="back to the defaults first")


def _result(workspace_id: str, slug: str, policy: sla.Policy) -> dict[str, Any]:
    return {
        "workspace": {"id": workspace_id, "slug": slug},
        "sla_policy": maths.policy_rows(policy),
        "is_default": dict(policy) == sla.DEFAULT_POLICY,
    }


async def show(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    async with db.read() as session:
        workspace = await require_workspace(session, args.workspace)
    return _result(workspace.id, workspace.slug, sla.policy_from_json(workspace.sla_policy))


async def set_policy(
    db: Database, settings: Settings, args: argparse.Namespace
) -> dict[str, Any]:
    changes = []
    if args.ack is not None or args.resolve is not None:
        if args.severity is None:
            raise InvalidInput("--severity is required with --ack or --resolve", field="severity")
        changes.append(
            sla.TargetChange(
                severity=args.severity,
                ack_seconds=sla.parse_duration(args.ack) if args.ack is not None else sla.UNSET,
                resolve_seconds=(
                    sla.parse_duration(args.resolve) if args.resolve is not None else sla.UNSET
                ),
            )
        )
    elif not args.reset:
        raise InvalidInput("nothing to change: give --ack and/or --resolve, or --reset")
    async with db.write() as session:
        workspace = await require_workspace(session, args.workspace)
        row, policy = await sla.update_policy(session, workspace.id, changes, reset=args.reset)
    return _result(row.id, row.slug, policy)
