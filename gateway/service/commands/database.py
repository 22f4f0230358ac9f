"""`seliq-gateway db copy --from URL --to URL`: the CLI side of `gateway.domain.storage.copy`."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.domain.settings import Settings
from gateway.domain.storage.copy import copy_database
from gateway.domain.storage.engine import Database


def add_parser(db_commands: Any) -> None:
    """`db copy` under the CLI's `db` group."""
    copy = db_commands.add_parser(
        "copy", help="copy every row from one migrated database into another, empty one"
    )
    copy.add_argument("--from", dest="source", required=True, help="source database URL")
    copy.add_argument(
        "--to", dest="target", required=True,
        help="target database URL (migrated to head with `db upgrade`, and empty)",
    )


async def run_command(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """The CLI handler (`--database` plays no part: both URLs are given)."""
    return await copy_database(args.source, args.target)
