"""`ingestAlert`: the GraphQL door of the ingestion pipeline, which the webhook and
`POST /v1/alerts` also run. Plus the webhook delivery log type (`Workspace.webhookDeliveries`).

The input takes either the typed fields of the generic body, or `payload`: a whole body as
received (generic, batch, Alertmanager, Grafana or any object), which is how the REST doors pass
theirs through unchanged. Nothing is written when there are `userErrors`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from gateway.domain import jsontext
from gateway.domain.errors import DomainError, InvalidInput, Unavailable
from gateway.domain.ingest import deliveries, formats, idempotency, pipeline
from gateway.domain.ingest.errors import STATUS_FOR_CODE
from gateway.domain.ingest.results import IngestResult
from gateway.domain.ingest.webhook_auth import WebhookPrincipal
from gateway.domain.metrics import record_ingested
from gateway.domain.pagination import PageArgs
from gateway.domain.storage.models import WebhookDelivery as WebhookDeliveryRow
from schema.alerts import Alert
from schema.context import Context, Info
from schema.enums import AlertStatus, Severity
from schema.errors import UserError, user_error
from schema.incidents import Incident
from schema.node import Node
from schema.pagination import Connection, workspace_rows
from schema.rows import from_row
from schema.scalars import JSON

log = logging.getLogger("seliq.ingest")


@strawberry.enum(description="What ingestion did with an alert.")
class IngestOutcome(Enum):
    CREATED = "created"
    DEDUPLICATED = "deduplicated"
    GROUPED = "grouped"
    RESOLVED = "resolved"


@strawberry.enum(description="The payload shape ingestion recognised.")
class IngestFormat(Enum):
    GENERIC = "generic"
    BATCH = "batch"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    UNKNOWN = "unknown"


@strawberry.input(
    description="Either the typed fields of one alert (`title` required), or `payload`: a whole "
    "body as received (generic, `{alerts: [...]}` batch, Alertmanager v4, Grafana, any object)."
)
class IngestAlertInput:
    payload: JSON | None = strawberry.field(
        default=None, description="A body as received; its shape is recognised."
    )
    raw_body: str | None = strawberry.field(
        default=None,
        description="The same as `payload`, but as the JSON text received (what the HTTP doors "
        "pass): decoded here, so malformed JSON is a userError like any other bad input.",
    )
    title: str | None = None
    description: str | None = None
    severity: Severity | None = strawberry.field(default=None, description="Default MEDIUM.")
    source: str | None = strawberry.field(
        default=None,
        description="With typed fields: the alert's source (default `api`). With `payload`: the "
        "source of alerts that name none.",
    )
    fingerprint: str | None = strawberry.field(
        default=None,
        description="Deduplication key (max 255). Default: derived from source, title, labels.",
    )
    dedup_key: str | None = strawberry.field(default=None, description="Same as fingerprint.")
    status: AlertStatus | None = strawberry.field(default=None, description="Default FIRING.")
    labels: JSON | None = strawberry.field(default=None, description="An object of strings.")
    occurred_at: datetime | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Max 255 characters. A retry with the same key and input within 24 hours "
        "returns the first answer (`replayed: true`) instead of ingesting again; the same key "
        "with a different input is refused (IDEMPOTENCY_KEY_REUSED).",
    )

    def typed_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, value in (
            ("title", self.title),
            ("description", self.description),
            ("severity", self.severity.value if self.severity else None),
            ("fingerprint", self.fingerprint),
            ("dedup_key", self.dedup_key),
            ("status", self.status.value if self.status else None),
            ("labels", self.labels),
            ("occurred_at", self.occurred_at.isoformat() if self.occurred_at else None),
        ):
            if value is not None:
                body[name] = value
        return body


@strawberry.type(description="What became of one alert of the request.")
class IngestResultItem:
    alert: Alert
    incident: Incident | None
    outcome: IngestOutcome


@strawberry.type
class IngestAlertPayload:
    alert: Alert | None = strawberry.field(description="The (first) alert of the request.")
    incident: Incident | None = strawberry.field(description="The incident it is part of.")
    outcome: IngestOutcome | None = strawberry.field(description="What happened to it.")
    results: list[IngestResultItem] = strawberry.field(
        description="One entry per alert of the request, in order (batches, Alertmanager and "
        "Grafana groups carry several)."
    )
    format: IngestFormat | None
    deduplicated: bool = strawberry.field(
        description="Every alert was folded into an existing firing alert: nothing new was "
        "created (REST answers 200 with the existing alert instead of 201)."
    )
    replayed: bool = strawberry.field(
        description="This is the stored answer to an earlier request with the same "
        "idempotency key; nothing was written this time."
    )
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: IngestResult) -> IngestAlertPayload:
        items = [
            IngestResultItem(
                alert=Alert.from_row(item.alert),
                incident=Incident.from_row(item.incident) if item.incident else None,
                outcome=IngestOutcome(item.outcome),
            )
            for item in result.results
        ]
        first = items[0] if items else None
        return cls(
            alert=first.alert if first else None,
            incident=first.incident if first else None,
            outcome=first.outcome if first else None,
            results=items,
            format=IngestFormat(result.format),
            deduplicated=result.deduplicated,
            replayed=result.replayed,
            user_errors=[],
        )

    @classmethod
    def refused(cls, error: DomainError, fmt: str | None) -> IngestAlertPayload:
        return cls(
            alert=None, incident=None, outcome=None, results=[],
            format=IngestFormat(fmt) if fmt else None, deduplicated=False, replayed=False,
            user_errors=[user_error(error)],
        )


def _request_of(input: IngestAlertInput) -> tuple[Any, str | None]:
    """The body to parse and the route source; InvalidInput unless exactly one of typed fields,
    `payload` and `rawBody` is given."""
    typed = input.typed_body()
    given = [
        name
        for name, present in (
            ("payload", input.payload is not None),
            ("rawBody", input.raw_body is not None),
            ("typed fields (" + ", ".join(sorted(typed)) + ")", bool(typed)),
        )
        if present
    ]
    jsontext.require_storable(input.source, "source")
    jsontext.require_storable(input.idempotency_key, "idempotencyKey")
    if len(given) > 1:
        raise InvalidInput(
            f"send one of typed fields, `payload` or `rawBody`; got {' and '.join(given)}",
            field="payload",
        )
    if input.raw_body is not None:
        return formats.decode(input.raw_body), input.source
    if input.payload is not None:
        jsontext.require_storable(input.payload, "payload")
        return input.payload, input.source
    if not typed:
        raise InvalidInput(
            "send the alert's fields (at least `title`), or a whole body in `payload` or "
            "`rawBody`",
            field="title",
        )
    if input.source is not None:
        typed["source"] = input.source
    return typed, None


async def resolve_ingest_alert(info: Info, input: IngestAlertInput) -> IngestAlertPayload:
    """Ingest one alert or a batch: deduplicate, correlate, commit, then answer."""
    return await ingest_alert(info.context, input)


async def ingest_alert(ctx: Context, input: IngestAlertInput) -> IngestAlertPayload:
    """The resolver's work, of the context alone: what `schema.plan.mutations` calls for the
    documents it answers without the standard executor (the webhook's, one per alert)."""
    ctx.require_write()
    principal = ctx.principal
    via_webhook = isinstance(principal, WebhookPrincipal)
    delivery = principal.delivery if isinstance(principal, WebhookPrincipal) else None
    fmt: str | None = None
    try:
        body, route_source = _request_of(input)
        fmt = formats.detect(body)
        parsed = formats.parse(
            body, route_source=route_source, door_source="webhook" if via_webhook else "api"
        )
        request = idempotency.make_request(
            input.idempotency_key, {"body": body, "source": route_source}
        )
        result = await pipeline.commit(ctx.db, pipeline.IngestWork(
            ctx.workspace_id, parsed, actor=principal.actor, idempotency_request=request,
            delivery=delivery,
        ))
    except Unavailable:
        raise
    except DomainError as exc:
        if delivery is not None:
            await deliveries.record_refusal(
                ctx.db, ctx.workspace_id, delivery,
                status_code=STATUS_FOR_CODE.get(exc.code, 400), error=exc.message, format=fmt,
            )
        return IngestAlertPayload.refused(exc, fmt)
    if not result.replayed:
        for item in result.results:
            record_ingested(item.outcome, result.format, ctx.workspace_id)
    return IngestAlertPayload.of(result)


# --- the delivery log -----------------------------------------------------------------------


@strawberry.type(description="One request to the workspace's webhook URL.")
class WebhookDelivery(Node):
    id: strawberry.ID
    received_at: datetime
    request_id: str = strawberry.field(description="Matches the response's X-Request-ID.")
    size_bytes: int
    format: IngestFormat | None = strawberry.field(description="Null when refused before parsing.")
    status_code: int = strawberry.field(description="The HTTP status the sender got.")
    accepted: int = strawberry.field(description="How many alerts were ingested.")
    alert_ids: list[strawberry.ID]
    incident_ids: list[strawberry.ID]
    outcomes: list[IngestOutcome] = strawberry.field(description="Parallel to alertIds.")
    error: str | None = strawberry.field(description="Why the delivery was refused.")

    @classmethod
    def from_row(cls, row: WebhookDeliveryRow) -> WebhookDelivery:
        return from_row(cls, row)


async def delivery_connection(
    info: Info, workspace_id: str, args: PageArgs
) -> Connection[WebhookDelivery]:
    """Newest first. `workspace_id` is one the caller may see (resolved by `Workspace`)."""
    return await workspace_rows(
        info.context.db, workspace_id, args, deliveries.list_deliveries,
        deliveries.count_deliveries, WebhookDelivery.from_row,
    )
