"""API keys and who may act on which workspace.

Keys carry 256 random bits and are stored only as SHA-256 digests: with that much entropy a fast
hash is the standard choice (as GitHub and Stripe do), and looking the digest up through a unique
index means no secret is ever compared byte by byte in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from gateway.domain.ratelimit.local import limit_for
from gateway.domain.storage.models import KEY_SCOPES, ApiKey, Workspace
from gateway.domain.tenancy.workspaces import descendant_ids, find_workspace
from gateway.domain.timeutil import utcnow

KEY_PREFIX = "seliq_"
# The one body for "not yours" and "not there": answering differently would reveal which
# workspaces exist.
FORBIDDEN_WORKSPACE = "this API key may not act on that workspace"


# Bumped by every revocation in this process: cached authentications (gateway.web.principal)
# made before it are dropped, so a revoked key stops working at once.
_revocations = 0


def revocation_epoch() -> int:
    return _revocations


def note_revocation() -> None:
    """A credential changed in this process (a key revoked, a webhook token replaced, webhook
    signing switched): cached authentications made before it are dropped at once."""
    global _revocations
    _revocations += 1


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str = KEY_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """The caller: its key, the key's own workspace, and the workspace this request acts on."""

    key_id: str
    key_name: str
    scope: str
    own_workspace_id: str
    acting_workspace_id: str
    # The own workspace and every workspace below it: what this key may ever act on.
    permitted_workspace_ids: frozenset[str]
    # Units per minute of the key's own workspace (its tier, or its custom enterprise number).
    rate_limit: int = 60
    # Which bucket requests are charged to: "api", or "webhook" (its own, so an alert storm
    # cannot starve API callers).
    rate_bucket: str = "api"

    @property
    def can_write(self) -> bool:
        return self.scope == "write"

    @property
    def actor(self) -> str:
        """How the caller appears in timelines: `key:<name>`."""
        return f"key:{self.key_name}"


# RFC 6750's b64token: what a bearer credential may consist of. Our keys and webhook tokens are
# url-safe base64 after their prefix; anything else (a NUL, bytes that are not UTF-8, a
# surrogate) cannot match a stored key and is refused before it reaches the hash or the database.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")
MAX_TOKEN_CHARACTERS = 512


def well_formed_token(token: str) -> bool:
    return len(token) <= MAX_TOKEN_CHARACTERS and _TOKEN_RE.match(token) is not None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(
    session: AsyncSession, authorization: str | None, workspace_ref: str | None
) -> Principal:
    """Resolve the `Authorization` and `X-Workspace-ID` headers into a Principal.

    Raises Unauthenticated for a missing, unknown or revoked key, and Forbidden, with the same
    message either way, for a workspace the key may not act on or that does not exist.
    """
    token = bearer_token(authorization)
    if token is None:
        raise Unauthenticated("missing API key: send `Authorization: Bearer <key>`")
    if not well_formed_token(token):
        raise Unauthenticated("invalid or revoked API key")
    digest = hash_secret(token)
    found = (
        await session.execute(
            select(ApiKey, col(Workspace.tier), col(Workspace.rate_limit_per_minute))
            .join(Workspace, col(Workspace.id) == col(ApiKey.workspace_id))
            .where(col(ApiKey.secret_hash) == digest)
        )
    ).one_or_none()
    if found is None:
        raise Unauthenticated("invalid or revoked API key")
    key, tier, custom_limit = found
    if key.revoked_at is not None or not hmac.compare_digest(key.secret_hash, digest):
        raise Unauthenticated("invalid or revoked API key")
    permitted = frozenset(await descendant_ids(session, key.workspace_id))
    acting = key.workspace_id
    if workspace_ref:
        target = await find_workspace(session, workspace_ref, permitted)
        if target is None:
            raise Forbidden(FORBIDDEN_WORKSPACE)
        acting = target.id
    return Principal(
        key_id=key.id,
        key_name=key.name,
        scope=key.scope,
        own_workspace_id=key.workspace_id,
        acting_workspace_id=acting,
        permitted_workspace_ids=permitted,
        rate_limit=limit_for(tier, custom_limit),
    )


async def create_key(
    session: AsyncSession, workspace: Workspace, name: str, scope: str = "write"
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never stored and never shown again."""
    if scope not in KEY_SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(KEY_SCOPES)}", field="scope")
    secret = new_secret()
    key = ApiKey(
        id=ids.new_id(ids.API_KEY),
        workspace_id=workspace.id,
        name=name,
        scope=scope,
        secret_hash=hash_secret(secret),
        secret_prefix=secret[: len(KEY_PREFIX) + 4],
    )
    session.add(key)
    await session.flush()
    return key, secret


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(col(ApiKey.created_at)))).scalars())


async def revoke_key(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
    note_revocation()
    return key
