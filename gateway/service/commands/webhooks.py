"""CLI commands of ingestion (wired into `gateway.service.cli`):

    seliq-gateway webhook create --workspace acme-corp [--signing | --no-signing]
    seliq-gateway webhook rotate --workspace acme-corp [--signing | --no-signing]
    seliq-gateway workspace correlation acme-corp [--window 900] [--labels host,service]

`webhook create` makes (or replaces) the workspace's webhook URL; `rotate` replaces an existing
one (the old URL stops working at once). Both print the URL once. `--signing` turns on HMAC
signing with a new secret, printed once; `--no-signing` turns it off; without either the setting
is left as it was. `workspace correlation` prints, and with options changes, the correlation
window (seconds, 0 = no grouping) and the labels of the group key (`--labels ""` = default).
"""

from __future__ import annotations

import argparse
from typing import Any

from gateway.domain.ingest import correlation, webhook_auth
from gateway.domain.settings import Settings
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import WebhookToken, Workspace
from gateway.domain.tenancy.webhook_tokens import create_token, webhook_url
from gateway.domain.tenancy.workspaces import require_workspace


def add_parsers(webhook: Any, webhook_create: argparse.ArgumentParser, workspace: Any) -> None:
    """Add the ingestion options and commands to the CLI's `webhook` and `workspace` groups."""
    signing_help = (
        "--signing: require X-Seliq-Signature with a new secret (printed once); "
        "--no-signing: stop requiring it; default: leave as is"
    )
    webhook_create.add_argument(
        "--signing", action=argparse.BooleanOptionalAction, default=None, help=signing_help
    )
    rotate = webhook.add_parser(
        "rotate", help="replace a workspace's webhook token (the old URL stops working)"
    )
    rotate.add_argument("--workspace", required=True, help="workspace slug or id")
    rotate.add_argument(
        "--signing", action=argparse.BooleanOptionalAction, default=None, help=signing_help
    )
    corr = workspace.add_parser(
        "correlation", help="show or change how alerts are grouped into incidents"
    )
    corr.add_argument("workspace", help="workspace slug or id")
    corr.add_argument("--window", type=int, help="seconds (default 1800; 0 = never group)")
    corr.add_argument(
        "--labels",
        help='comma-separated label names for the group key (default "host,instance,service")',
    )


def _webhook_json(
    settings: Settings, workspace: Workspace, row: WebhookToken, secret: str, signing: str | None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": row.id,
        "workspace_id": workspace.id,
        "url": webhook_url(settings.base_url, workspace, secret),
        # The header form (`Authorization: Bearer <token>`, the recommended one) needs the token
        # on its own; it is the URL's last segment too. Printed this once, never stored.
        "token": secret,
        "signing": workspace.webhook_signing_secret is not None,
    }
    if signing is not None:
        result["signing_secret"] = signing
    return {"webhook": result}


async def webhook_create(
    db: Database, settings: Settings, args: argparse.Namespace
) -> dict[str, Any]:
    return await _issue(db, settings, args, rotate=False)


async def webhook_rotate(
    db: Database, settings: Settings, args: argparse.Namespace
) -> dict[str, Any]:
    return await _issue(db, settings, args, rotate=True)


async def _issue(
    db: Database, settings: Settings, args: argparse.Namespace, *, rotate: bool
) -> dict[str, Any]:
    async with db.write() as session:
        workspace = await require_workspace(session, args.workspace)
        if rotate:
            row, secret = await webhook_auth.rotate_token(session, workspace)
        else:
            row, secret = await create_token(session, workspace)
        signing = None
        if args.signing is not None:
            signing = webhook_auth.set_signing(workspace, args.signing)
            session.add(workspace)
    return _webhook_json(settings, workspace, row, secret, signing)


async def workspace_correlation(
    db: Database, settings: Settings, args: argparse.Namespace
) -> dict[str, Any]:
    async with db.write() as session:
        workspace = await require_workspace(session, args.workspace)
        labels = None if args.labels is None else args.labels.split(",")
        correlation.set_correlation(workspace, window_seconds=args.window, labels=labels)
        session.add(workspace)
    return {
        "workspace": {"id": workspace.id, "slug": workspace.slug},
        "correlation": {
            "window_seconds": workspace.correlation_window_seconds,
            "labels": list(correlation.labels_of(workspace)),
            "is_default_labels": workspace.correlation_labels is None,
        },
    }
