"""`Idempotency-Key`: a retried request gets the first answer instead of a second alert.

Keys are scoped by workspace, at most 255 characters, and remembered for 24 hours. The first
answer is stored with a hash of the request; the same key with a different request is refused
(`IdempotencyKeyReused`, HTTP 422). Lookup and storage run inside the ingesting write
transaction, after the workspace row is locked, so two concurrent retries cannot both ingest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import jsontext
from gateway.domain.errors import InvalidInput
from gateway.domain.ingest.errors import IdempotencyKeyReused
from gateway.domain.storage.models import IdempotencyRecord

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    request_hash: str


def request_hash(value: Any) -> str:
    """A stable hash of a JSON-able request (object keys sorted, so key order does not count)."""
    canonical = jsontext.dumps(value, sort_keys=True)
    return hashlib.sha256(canonical).hexdigest()


def make_request(key: str | None, request: Any) -> IdempotencyRequest | None:
    """Validate the key (None or blank means "not idempotent") and hash the request."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"the idempotency key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="idempotencyKey",
        )
    return IdempotencyRequest(key=key, request_hash=request_hash(request))


async def recall(
    session: AsyncSession, workspace_id: str, request: IdempotencyRequest, now: datetime
) -> IdempotencyRecord | None:
    """The stored first answer for this key, if it is younger than 24 hours."""
    record = await session.get(IdempotencyRecord, (workspace_id, request.key))
    if record is None or record.created_at < now - TTL:
        return None
    if record.request_hash != request.request_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request",
            field="idempotencyKey",
        )
    return record


async def remember(
    session: AsyncSession,
    workspace_id: str,
    request: IdempotencyRequest,
    status: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Store the first answer (replacing an expired record of the same key)."""
    await session.execute(
        delete(IdempotencyRecord)
        .where(col(IdempotencyRecord.workspace_id) == workspace_id)
        .where(col(IdempotencyRecord.created_at) < now - TTL)
    )
    session.add(
        IdempotencyRecord(
            workspace_id=workspace_id,
            key=request.key,
            request_hash=request.request_hash,
            response_status=status,
            response_body=body,
            created_at=now,
        )
    )
