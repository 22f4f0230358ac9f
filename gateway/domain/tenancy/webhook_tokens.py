"""Webhook tokens: the secret in `/webhook/{slug}/{token}`, or in `Authorization: Bearer` for
`POST /webhook/{slug}`. Like API keys, 256 random bits stored only as a SHA-256 digest; creating
a new one revokes the old (rotation)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.storage.models import WebhookToken, Workspace
from gateway.domain.storage.rows import row_locked
from gateway.domain.tenancy.auth import hash_secret, new_secret, note_revocation
from gateway.domain.timeutil import utcnow

TOKEN_PREFIX = "whk_"


async def create_token(session: AsyncSession, workspace: Workspace) -> tuple[WebhookToken, str]:
    """A new token for `workspace`; any earlier one stops working in the same transaction."""
    # Two rotations at once queue on the workspace row (PostgreSQL; SQLite serialises writes),
    # so the second one revokes the first one's token and exactly one stays live.
    await session.execute(
        row_locked(select(col(Workspace.id)).where(col(Workspace.id) == workspace.id))
    )
    await session.execute(
        update(WebhookToken)
        .where(WebhookToken.workspace_id == workspace.id)  # type: ignore[arg-type]
        .where(WebhookToken.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=utcnow())
    )
    secret = new_secret(TOKEN_PREFIX)
    row = WebhookToken(
        id=ids.new_id(ids.WEBHOOK), workspace_id=workspace.id, token_hash=hash_secret(secret)
    )
    session.add(row)
    await session.flush()
    note_revocation()
    return row, secret


def webhook_url(base_url: str, workspace: Workspace, secret: str) -> str:
    return f"{base_url}/webhook/{workspace.slug}/{secret}"
