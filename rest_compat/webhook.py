"""`POST /webhook/{workspace-slug}` with `Authorization: Bearer <token>`, and
`POST /webhook/{workspace-slug}/{token}`: the inbound alert webhook, two spellings of one door.

The header form keeps the token out of URLs (and so out of proxy and access logs) for senders
that can set a header (Alertmanager's `http_config.authorization`, Grafana contact points); the
path form serves senders that can only be given a URL. The token is the same either way.

The door does only transport work: find the workspace by its token (an unknown slug, a wrong
token, another workspace's token and, in the header form, a missing or malformed
`Authorization` header all get the same 404), enforce the 1 MiB body limit
(413), check the HMAC signature when the workspace turned signing on (401), then run the
`ingestAlert` mutation through the executor, with the body as received (`rawBody`), as that
workspace's webhook Principal, and turn its answer into `202 {accepted, alerts, incidents}` (or
the 400/422 its userErrors mean, or 503 + Retry-After when the database stayed locked). The
mutation records the delivery in the same transaction as the alerts; refusals made here are
recorded here. Once the token has named the workspace, the request carries the webhook's
Principal (`PRINCIPAL_KEY`), so its access-log line has `workspace_id` (and the token's id as
`key_id`), refusals included.

Optional: `?source=name` sets the source of alerts that name none; `Idempotency-Key` replays the
first answer to a retry, as on `POST /v1/alerts`.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from gateway.domain.errors import Unavailable
from gateway.domain.ingest import deliveries, webhook_auth
from gateway.domain.ingest.deliveries import DeliveryMeta
from gateway.domain.ingest.errors import STATUS_FOR_CODE
from gateway.domain.ingest.webhook_auth import SIGNATURE_HEADER, SignatureError, WebhookTarget
from gateway.domain.metrics import record_webhook_refused
from gateway.domain.storage.engine import Database
from gateway.domain.tenancy.auth import bearer_token, well_formed_token
from gateway.domain.timeutil import utcnow
from gateway.web.jsonio import error_code, json_response, request_id_of
from gateway.web.operations import Executor, OperationRefused
from gateway.web.principal import PRINCIPAL_KEY, AuthCache
from rest_compat.errors import INTERNAL_MESSAGE, RETRY_AFTER_UNAVAILABLE, RestError

log = logging.getLogger("seliq.webhook")

MAX_BODY_BYTES = 1024 * 1024
NOT_FOUND_MESSAGE = "no webhook at this URL: check the workspace slug and the token"
OPERATION_NAME = "WebhookIngest"
OPERATION = """
mutation WebhookIngest($input: IngestAlertInput!) {
  ingestAlert(input: $input) {
    format
    replayed
    results { outcome alert { id } incident { id } }
    userErrors { field message code }
  }
}
"""
# Metric reason (a fixed set) for each refusal status.
REFUSAL_REASONS = {
    400: "invalid_payload",
    401: "bad_signature",
    404: "not_found",
    413: "too_large",
    422: "idempotency_conflict",
    429: "rate_limited",
    503: "unavailable",
}


def setup_webhook(
    app: web.Application, *, db: Database, executor: Executor, rate_limit: int = 600,
    auth_cache_seconds: float = 0,
) -> None:
    """Serve `POST /webhook/{slug}` (token in `Authorization: Bearer`) and
    `POST /webhook/{slug}/{token}` on `app`; each workspace's webhook has its own bucket of
    `rate_limit` deliveries per minute. Recognised (slug, token) pairs are remembered for
    `auth_cache_seconds`, with the bounds of the API-key cache (`AuthCache`), whichever form
    presented them."""
    handler = WebhookHandler(db, executor, rate_limit, AuthCache(auth_cache_seconds))
    app.router.add_post("/webhook/{slug}", handler.handle)
    app.router.add_post("/webhook/{slug}/{token}", handler.handle)


def refusal(
    status: int, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
) -> RestError:
    """A refused delivery: the REST error of DESIGN.md for `status`."""
    return RestError(status, error_code(status), message, field=field, headers=headers)


def _error(
    request: web.Request,
    status: int,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return refusal(status, message, field=field, headers=headers).response(request)


class WebhookHandler:
    def __init__(
        self, db: Database, executor: Executor, rate_limit: int, targets: AuthCache[WebhookTarget]
    ) -> None:
        self.db = db
        self.executor = executor
        self.rate_limit = rate_limit
        self.targets = targets

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received_at = utcnow()
        target = await self._target(request.match_info["slug"], _token_of(request))
        if target is None:
            record_webhook_refused(REFUSAL_REASONS[404])
            return _error(request, 404, NOT_FOUND_MESSAGE)
        # The token proved the workspace: the access-log line names it from here on.
        request[PRINCIPAL_KEY] = webhook_auth.principal_for(target, None, self.rate_limit)
        meta = DeliveryMeta(
            received_at=received_at,
            size_bytes=request.content_length or 0,
            request_id=request_id_of(request),
        )
        try:
            body = await _read_body(request)
            meta = DeliveryMeta(received_at, len(body), meta.request_id)
            _check_signature(target, request, body)
            text = _text(body)
        except RestError as refused:
            await deliveries.record_refusal(
                self.db, target.workspace.id, meta,
                status_code=refused.status, error=refused.message,
            )
            _count_refusal(target, refused.status)
            return refused.response(request)
        return await self._ingest(request, target, meta, text)

    async def _target(self, slug: str, token: str | None) -> WebhookTarget | None:
        if token is None or not well_formed_token(token):
            # No bearer token in the header form, or one that cannot be a token (a NUL, bytes
            # that are not UTF-8): the same 404, before the cache or the database.
            return None
        # Keyed by (token, slug), so both forms share an entry; rotation, revocation and
        # turning signing on bump the epoch, which empties it.
        async def lookup() -> WebhookTarget | None:
            async with self.db.read() as session:
                return await webhook_auth.find_webhook(session, slug, token)

        return await self.targets.get_or_load(token, slug, lookup)

    async def _ingest(
        self, request: web.Request, target: WebhookTarget, meta: DeliveryMeta, text: str
    ) -> web.Response:
        principal = webhook_auth.principal_for(target, meta, self.rate_limit)
        request[PRINCIPAL_KEY] = principal
        variables = {
            "input": {
                "rawBody": text,
                "source": request.query.get("source") or None,
                "idempotencyKey": request.headers.get("Idempotency-Key"),
            }
        }
        try:
            outcome = await self.executor.run(
                OPERATION,
                variables,
                OPERATION_NAME,
                principal,
                request_id_of(request),
            )
        except OperationRefused as exc:  # e.g. 429 from the rate limiter
            await deliveries.record_refusal(
                self.db, target.workspace.id, meta, status_code=exc.status, error=exc.message
            )
            _count_refusal(target, exc.status)
            # A 429's Retry-After and X-RateLimit-* headers come from the middleware.
            return _error(request, exc.status, exc.message)
        errors = outcome.body.get("errors") or []
        data = (outcome.body.get("data") or {}).get("ingestAlert")
        if errors or data is None:
            code = (errors[0].get("extensions") or {}).get("code") if errors else None
            if code == Unavailable.code:
                _count_refusal(target, 503)
                return _error(
                    request, 503, errors[0]["message"],
                    headers={"Retry-After": RETRY_AFTER_UNAVAILABLE},
                )
            if code == "BAD_USER_INPUT":  # e.g. `?source=` holding text that cannot be stored
                message = errors[0]["message"]
                await deliveries.record_refusal(
                    self.db, target.workspace.id, meta, status_code=400, error=message
                )
                _count_refusal(target, 400)
                field = (errors[0].get("extensions") or {}).get("field") or ""
                return _error(request, 400, message, field=field.removeprefix("input.") or None)
            log.error("webhook ingestion failed: %s", errors, extra={"request_id": meta.request_id})
            await deliveries.record_refusal(
                self.db, target.workspace.id, meta, status_code=500, error="internal error"
            )
            _count_refusal(target, 500)
            return _error(request, 500, INTERNAL_MESSAGE)
        if data["userErrors"]:
            first = data["userErrors"][0]
            status = STATUS_FOR_CODE.get(first["code"], 400)
            message = "; ".join(err["message"] for err in data["userErrors"])
            _count_refusal(target, status)
            return _error(request, status, message, field=first.get("field"))
        results = data["results"]
        incidents: dict[str, None] = {}
        for item in results:
            if item["incident"]:
                incidents.setdefault(item["incident"]["id"], None)
        body = {
            "accepted": len(results),
            "alerts": [item["alert"]["id"] for item in results],
            "incidents": list(incidents),
            "format": data["format"].lower() if data["format"] else None,
            "results": [
                {
                    "alert": item["alert"]["id"],
                    "incident": item["incident"]["id"] if item["incident"] else None,
                    "outcome": item["outcome"].lower(),
                }
                for item in results
            ],
        }
        headers = {"Idempotent-Replayed": "true"} if data["replayed"] else None
        return json_response(body, status=202, headers=headers)


def _token_of(request: web.Request) -> str | None:
    """The token in the path, or else the bearer token of `Authorization` (None if missing or
    not a bearer credential). The path form ignores the header."""
    in_path = request.match_info.get("token")
    if in_path is not None:
        return in_path
    return bearer_token(request.headers.get("Authorization"))


def _count_refusal(target: WebhookTarget, status: int) -> None:
    record_webhook_refused(REFUSAL_REASONS.get(status, "internal"), target.workspace.id)


async def _read_body(request: web.Request) -> bytes:
    """The body, refusing more than 1 MiB (413) before reading it when its length is declared,
    and while streaming it when it is not."""
    too_large = refusal(
        413,
        f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB): send fewer alerts per request",
    )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    if request.content_length is not None and not _encoded(request):
        # aiohttp's parser ends the payload at the declared length: one read, not a loop of
        # 64 KiB chunk iterators (3.6% of a T6 profile for bodies of a few hundred bytes).
        # Not for a compressed body: aiohttp inflates it, and the length declared is the
        # compressed one (a 20 KiB gzip can hold 20 MiB); those are counted as they stream.
        return await request.content.read()
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _encoded(request: web.Request) -> bool:
    """The body has a content coding (gzip, deflate, ...) that aiohttp undoes as it reads."""
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    return coding not in ("", "identity")


def _check_signature(target: WebhookTarget, request: web.Request, body: bytes) -> None:
    secret = target.workspace.webhook_signing_secret
    if not secret:
        return
    try:
        webhook_auth.verify_signature(
            secret, request.headers.get(SIGNATURE_HEADER), body, time.time()
        )
    except SignatureError as exc:
        raise refusal(401, str(exc)) from None


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refusal(
            400, f"the body is not UTF-8 text ({exc.reason} at byte {exc.start}): send JSON",
            field="payload",
        ) from None
