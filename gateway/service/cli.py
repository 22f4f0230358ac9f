"""`seliq-gateway`: run the server and manage workspaces, keys and webhooks.

Management commands print exactly one JSON object on stdout (the created key's secret appears
there once and nowhere else); failures print `{"error": ...}` and exit non-zero. Every command
honours SELIQ_DATABASE_URL (or --database). `schema print` / `schema check` are the exception:
they print the SDL or lines for `make lint`, and need no settings or database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.domain.errors import DomainError
from gateway.domain.settings import Settings, SettingsError, load_settings
from gateway.domain.storage import migrate
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import ApiKey, Workspace
from gateway.domain.tenancy.auth import create_key, list_keys, revoke_key
from gateway.domain.tenancy.workspaces import all_workspaces, create_workspace, find_workspace
from gateway.domain.timeutil import isoformat_z
from gateway.service.commands import database as dbcopy
from gateway.service.commands import schema as schema_commands
from gateway.service.commands import sla as sla_commands
from gateway.service.commands import webhooks as ingest_commands
from gateway.service.logs import configure_logging
from gateway.service.prepare import CommandError, ensure_schema, seed_demo
from gateway.service.server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seliq-gateway", description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="database URL (default: SELIQ_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--database", dest="serve_database", help="database URL")
    serve.add_argument("--demo", action="store_true", help="seed demo data and print a key")
    serve.add_argument(
        "--workers", type=int, help="processes sharing the port (default 1; N > 1 needs PostgreSQL)"
    )

    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", help="apply migrations up to the newest")
    dbcopy.add_parser(db)  # db copy --from URL --to URL

    ws = commands.add_parser("workspace", help="workspaces").add_subparsers(
        dest="action", required=True
    )
    ws_create = ws.add_parser("create")
    ws_create.add_argument("slug")
    ws_create.add_argument("--name", required=True)
    ws_create.add_argument("--tier", default="starter", choices=["starter", "growth", "enterprise"])
    ws_create.add_argument("--parent", help="slug of the managing (MSSP) workspace")
    ws_create.add_argument("--rate-limit", type=int, help="requests/minute (enterprise)")
    ws.add_parser("list")

    key = commands.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create")
    key_create.add_argument("--workspace", required=True, help="workspace slug or id")
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--scope", default="write", choices=["read", "write"])
    key.add_parser("list")
    key_revoke = key.add_parser("revoke")
    key_revoke.add_argument("id")

    hook = commands.add_parser("webhook", help="alert webhooks").add_subparsers(
        dest="action", required=True
    )
    hook_create = hook.add_parser("create", help="create (or replace) a workspace's webhook URL")
    hook_create.add_argument("--workspace", required=True)
    ingest_commands.add_parsers(hook, hook_create, ws)  # --signing, rotate, correlation

    commands.add_parser("demo", help="seed demo data and print a key")
    sla_commands.add_parsers(commands)  # sla show / sla set
    schema_commands.add_parsers(commands)  # schema print / schema check
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":  # SDL out, no settings or database (commands/schema.py)
        return schema_commands.run(args)
    try:
        database = getattr(args, "serve_database", None) or args.database
        settings = load_settings(
            database_url=database,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
        )
    except SettingsError as exc:
        print(f"seliq-gateway: {exc}", file=sys.stderr)
        return 2
    # JSON lines on stderr for the server; bare messages for one-shot management commands.
    configure_logging(settings.log_level, json=args.command == "serve")
    if args.command == "serve":
        return _serve(settings, demo_data=args.demo)
    handler = COMMANDS[(args.command, getattr(args, "action", None))]
    try:
        result = asyncio.run(_managed(
            settings, lambda db: handler(db, settings, args),
            check_schema=args.command != "db",  # `db ...` commands bring the schema themselves
        ))
    except (CommandError, DomainError, SettingsError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        print(json.dumps({"error": message}))
        return 1
    print(json.dumps(result))
    return 0


async def _managed(
    settings: Settings, run: Callable[[Database], Awaitable[dict[str, Any]]],
    *, check_schema: bool = True,
) -> dict[str, Any]:
    if check_schema:
        await ensure_schema(settings)
    db = Database(settings.database_url)
    try:
        return await run(db)
    finally:
        await db.dispose()


def _workspace_json(row: Workspace) -> dict[str, Any]:
    return {
        "id": row.id, "slug": row.slug, "name": row.name, "tier": row.tier,
        "parent_id": row.parent_id, "rate_limit_per_minute": row.rate_limit_per_minute,
        "created_at": isoformat_z(row.created_at),
    }


def _key_json(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id, "workspace_id": row.workspace_id, "name": row.name, "scope": row.scope,
        "prefix": row.secret_prefix, "created_at": isoformat_z(row.created_at),
        "revoked_at": isoformat_z(row.revoked_at) if row.revoked_at else None,
    }


async def _workspace_by_ref(db: Database, ref: str) -> Workspace:
    async with db.read() as session:
        workspace = await find_workspace(session, ref, None)
    if workspace is None:
        raise CommandError(f"no workspace {ref!r}")
    return workspace


async def _db_upgrade(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    await migrate.upgrade(settings.database_url)
    return {"revision": await migrate.current_revision(settings.database_url)}


async def _ws_create(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    async with db.write() as session:
        row = await create_workspace(
            session, slug=args.slug, name=args.name, tier=args.tier, parent_slug=args.parent,
            rate_limit=args.rate_limit,
        )
    return {"workspace": _workspace_json(row)}


async def _ws_list(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    async with db.read() as session:
        rows = await all_workspaces(session)
    return {"workspaces": [_workspace_json(row) for row in rows]}


async def _key_create(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    workspace = await _workspace_by_ref(db, args.workspace)
    async with db.write() as session:
        row, secret = await create_key(session, workspace, args.name, args.scope)
    return {"key": {**_key_json(row), "secret": secret}}


async def _key_list(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    async with db.read() as session:
        rows = await list_keys(session)
    return {"keys": [_key_json(row) for row in rows]}


async def _key_revoke(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    async with db.write() as session:
        row = await revoke_key(session, args.id)
    return {"key": _key_json(row)}


async def _demo(db: Database, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    return await seed_demo(db, settings)


COMMANDS: dict[tuple[str, str | None], Callable[..., Awaitable[dict[str, Any]]]] = {
    ("db", "upgrade"): _db_upgrade,
    ("db", "copy"): dbcopy.run_command,
    ("workspace", "create"): _ws_create,
    ("workspace", "list"): _ws_list,
    ("key", "create"): _key_create,
    ("key", "list"): _key_list,
    ("key", "revoke"): _key_revoke,
    ("webhook", "create"): ingest_commands.webhook_create,
    ("webhook", "rotate"): ingest_commands.webhook_rotate,
    ("workspace", "correlation"): ingest_commands.workspace_correlation,
    ("demo", None): _demo,
    ("sla", "show"): sla_commands.show,
    ("sla", "set"): sla_commands.set_policy,
}


def _serve(settings: Settings, *, demo_data: bool) -> int:
    try:
        return serve(settings, demo_data=demo_data)
    except CommandError as exc:
        print(f"seliq-gateway: {exc}", file=sys.stderr)
        return 1
