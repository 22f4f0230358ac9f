"""Who is posting to the webhook: the token (in the path, `/webhook/{slug}/{token}`, or in
`Authorization: Bearer <token>` on `/webhook/{slug}`; the same token either way), the optional
HMAC signature, and the Principal the webhook's GraphQL operation runs as.

- Tokens carry 256 random bits and are stored only as SHA-256 digests
  (`gateway.domain.tenancy.webhook_tokens`); the digest of the presented token is compared with
  `hmac.compare_digest`, and an unknown slug still costs one comparison, so neither the answer
  nor its timing tells a wrong token from an unknown workspace.
- Signing (optional, per workspace; once on, both forms need it):
  `X-Seliq-Signature: t=<unix seconds>,v1=<hex>` where hex is HMAC-SHA256, keyed with the
  workspace's signing secret, of `"<t>.<raw body>"`. Several `v1=` may be sent (to roll a
  secret). A timestamp more than 300 s away from the server's clock is refused, which bounds
  replays.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain.errors import NotFound
from gateway.domain.ingest.deliveries import DeliveryMeta
from gateway.domain.storage.models import WebhookToken, Workspace
from gateway.domain.tenancy.auth import (
    Principal,
    hash_secret,
    note_revocation,
    well_formed_token,
)
from gateway.domain.tenancy.webhook_tokens import create_token
from gateway.domain.tenancy.workspaces import SLUG_RE

SIGNATURE_HEADER = "X-Seliq-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
SIGNING_SECRET_PREFIX = "whsec_"
WEBHOOK_ACTOR = "webhook"
_DUMMY_DIGEST = hash_secret("no such webhook")


class SignatureError(Exception):
    """The signature is missing, malformed, stale or wrong; the message says which (HTTP 401)."""


@dataclass(frozen=True)
class WebhookPrincipal(Principal):
    """The Principal a webhook delivery runs as: write scope on its own workspace only, actor
    `webhook`, and what the door measured about the request (for the delivery log)."""

    delivery: DeliveryMeta | None = None

    @property
    def actor(self) -> str:
        return WEBHOOK_ACTOR


@dataclass(frozen=True)
class WebhookTarget:
    workspace: Workspace
    token: WebhookToken


async def find_webhook(session: AsyncSession, slug: str, token: str) -> WebhookTarget | None:
    """The workspace whose active webhook token is `token`, if its slug is `slug`."""
    if not SLUG_RE.match(slug) or not well_formed_token(token):
        return None  # cannot name a workspace or match a token: no lookup
    digest = hash_secret(token)
    stmt = (
        select(WebhookToken, Workspace)
        .join(Workspace, col(Workspace.id) == col(WebhookToken.workspace_id))
        .where(col(Workspace.slug) == slug)
        .where(col(WebhookToken.revoked_at).is_(None))
    )
    rows = (await session.execute(stmt)).all()
    found: WebhookTarget | None = None
    for row, workspace in rows:
        if hmac.compare_digest(row.token_hash, digest):
            found = WebhookTarget(workspace=workspace, token=row)
    if not rows:
        hmac.compare_digest(_DUMMY_DIGEST, digest)
    return found


def principal_for(
    target: WebhookTarget, delivery: DeliveryMeta | None, rate_limit: int
) -> WebhookPrincipal:
    workspace_id = target.workspace.id
    return WebhookPrincipal(
        key_id=target.token.id,
        key_name=WEBHOOK_ACTOR,
        scope="write",
        own_workspace_id=workspace_id,
        acting_workspace_id=workspace_id,
        permitted_workspace_ids=frozenset({workspace_id}),
        rate_limit=rate_limit,
        rate_bucket="webhook",
        delivery=delivery,
    )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Seliq-Signature` value a sender computes (used by tests and documentation)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, header: str | None, body: bytes, now: float) -> None:
    """Raise SignatureError unless `header` signs `body` with `secret` within the tolerance."""
    expected_form = (
        f"send {SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" "
        "keyed with the webhook's signing secret>"
    )
    if not header or not header.strip():
        raise SignatureError(f"this webhook requires a signature: {expected_form}")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.strip().isdigit():
            timestamp = int(value.strip())
        elif name == "v1" and value.strip():
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: {expected_form}")
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureError(
            f"the signature timestamp t={timestamp} is more than "
            f"{SIGNATURE_TOLERANCE_SECONDS} s away from the server's clock ({int(now)}); "
            "sign each request when sending it, and check the sender's clock"
        )
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError(
            "the signature does not match the body: compute HMAC-SHA256 over "
            "\"<t>.<raw body bytes>\" with the webhook's signing secret"
        )


def new_signing_secret() -> str:
    return SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)


def set_signing(workspace: Workspace, enabled: bool) -> str | None:
    """Turn HMAC signing on (a new secret, returned once to print) or off (None)."""
    workspace.webhook_signing_secret = new_signing_secret() if enabled else None
    note_revocation()
    return workspace.webhook_signing_secret


async def rotate_token(
    session: AsyncSession, workspace: Workspace
) -> tuple[WebhookToken, str]:
    """Replace the workspace's webhook token; the old one stops working in this transaction."""
    active = (
        await session.execute(
            select(col(WebhookToken.id))
            .where(col(WebhookToken.workspace_id) == workspace.id)
            .where(col(WebhookToken.revoked_at).is_(None))
            .limit(1)
        )
    ).first()
    if active is None:
        raise NotFound(
            f"workspace {workspace.slug!r} has no webhook to rotate; create one with "
            "`webhook create`"
        )
    return await create_token(session, workspace)
