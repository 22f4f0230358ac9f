"""The webhook delivery log: one row per request to a workspace's webhook URL (once the URL's
token was recognised): when, how big, which format, the HTTP status answered, the alerts it
produced and, for a refusal, why. Readable through GraphQL (`Workspace.webhookDeliveries`) so a
sender can see why something was refused.

Requests with an unknown slug or a wrong token are not recorded: they cannot be attributed to a
workspace without trusting the caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gateway.domain import ids
from gateway.domain.ingest.results import IngestResult
from gateway.domain.listing import Listing
from gateway.domain.pagination import Page, PageArgs, SortKey, apply_keyset, make_page
from gateway.domain.storage import bulk
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import WebhookDelivery

log = logging.getLogger("seliq.webhook")

DELIVERY_SORT = SortKey(
    WebhookDelivery.received_at, WebhookDelivery.id, descending=True, attribute="received_at"
)
# A workspace's deliveries, newest first (the cached plans in schema/plan read it too).
DELIVERIES = Listing(
    WebhookDelivery, WebhookDelivery.workspace_id, {"received_at:desc": DELIVERY_SORT},
    "received_at:desc",
)
MAX_ERROR = 1000


@dataclass(frozen=True)
class DeliveryMeta:
    """What the webhook door knows about a request before the pipeline sees it."""

    received_at: datetime
    size_bytes: int
    request_id: str


def record(
    session: AsyncSession,
    workspace_id: str,
    meta: DeliveryMeta,
    *,
    status_code: int,
    format: str | None = None,
    result: IngestResult | None = None,
    error: str | None = None,
) -> WebhookDelivery:
    """Add a delivery row to the caller's transaction (in bulk with the group's others: it is
    never changed afterwards). Every column is given: a default factory costs a signature
    inspection per row."""
    items = result.results if result is not None else []
    row = bulk.insert_later(
        session,
        WebhookDelivery,
        id=ids.new_id(ids.DELIVERY),
        workspace_id=workspace_id,
        received_at=meta.received_at,
        request_id=meta.request_id[:128],
        size_bytes=meta.size_bytes,
        format=result.format if result is not None else format,
        status_code=status_code,
        accepted=len(items),
        alert_ids=[item.alert.id for item in items],
        incident_ids=result.incident_ids() if result is not None else [],
        outcomes=[item.outcome for item in items],
        error=error[:MAX_ERROR] if error else None,
    )
    return row


async def record_refusal(
    db: Database,
    workspace_id: str,
    meta: DeliveryMeta,
    *,
    status_code: int,
    error: str,
    format: str | None = None,
) -> None:
    """Log a refused delivery in a small transaction of its own (the ingesting one, if any,
    rolled back). Best effort: a busy database must not turn a clear 4xx into something else."""
    try:
        async with db.write() as session:
            record(session, workspace_id, meta, status_code=status_code, format=format,
                   error=error)
    except Exception:  # the refusal is answered either way
        log.warning("could not record a refused webhook delivery", exc_info=True)


async def list_deliveries(
    session: AsyncSession, workspace_id: str, args: PageArgs
) -> Page[WebhookDelivery]:
    """Newest first."""
    stmt = apply_keyset(DELIVERIES.select(workspace_id), DELIVERY_SORT, args)
    rows = (await session.execute(stmt)).scalars().all()
    return make_page(rows, DELIVERY_SORT, args)


async def deliveries_by_ids(
    session: AsyncSession, workspace_id: str, wanted: list[str]
) -> dict[str, WebhookDelivery]:
    """The deliveries of `workspace_id` among `wanted`, by id (`node(id:)` with a `dlv_` id)."""
    if not wanted:
        return {}
    stmt = select(WebhookDelivery).where(
        col(WebhookDelivery.workspace_id) == workspace_id, col(WebhookDelivery.id).in_(wanted)
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def count_deliveries(session: AsyncSession, workspace_id: str) -> int:
    stmt = (
        select(func.count())
        .select_from(WebhookDelivery)
        .where(col(WebhookDelivery.workspace_id) == workspace_id)
    )
    return int((await session.execute(stmt)).scalar_one())
