"""Subscriptions over WebSocket: Strawberry's aiohttp view, configured and guarded for Seliq.

The /graphql handler (`gateway.service.http.graphql`) serves HTTP itself and hands WebSocket
upgrades to
`SubscriptionView`, which the app factory builds. What it adds to Strawberry's
graphql-transport-ws server:

- subprotocol `graphql-transport-ws` only: a client asking for the legacy `graphql-ws` (or none)
  is closed with 4406;
- the handshake's `Origin` must be the gateway's own or one of SELIQ_CORS_ORIGINS (no `Origin`,
  as from a non-browser client, is fine): otherwise the upgrade is a 403 before any hook runs
  (cross-site WebSocket hijacking);
- authentication in `connection_init`: `{"Authorization": "Bearer <key>"}` and optionally
  `"X-Workspace-ID"`, checked like the HTTP headers; a bad key or workspace closes with 4403,
  no `connection_init` within 10 s closes with 4408;
- only subscriptions: a query or mutation sent over the socket gets an `error` message (they are
  served over HTTP, where the executor charges and logs them per request);
- each `subscribe` re-checks the key (a revoked key is closed with 4403; so is a connection
  whose key is revoked later: checked every minute), runs the query limits (depth, aliases,
  tokens, node estimate), and costs one rate-limit unit of the key's workspace; the events
  delivered afterwards cost nothing;
- at most 100 operations at once per connection;
- errors are coded and masked as over HTTP (`extensions.code`, "Unexpected error (request id ...)");
- on shutdown every connection is closed with 1001 (going away), and new upgrades get a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from datetime import timedelta
from typing import Any, cast

from aiohttp import WSCloseCode, web
from graphql import DocumentNode, GraphQLError, OperationType, get_operation_ast
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult

from gateway.domain import jsontext
from gateway.domain.errors import DomainError, Unauthenticated
from gateway.domain.events.hub import EventHub
from gateway.domain.ratelimit.local import Limiter, RateLimited
from gateway.domain.storage.engine import Database
from gateway.domain.summaries.summarizer import Summarizer, default_summarizer
from gateway.domain.tenancy.auth import Principal, authenticate
from gateway.web.jsonio import json_response, request_id_of
from schema.build import format_error
from schema.errors import CodedError
from schema.limits import Limits, charge, estimate
from schema.loaders import Loaders
from schema.subscriptions import SubscriptionContext

log = logging.getLogger("seliq.subscriptions")

INIT_TIMEOUT_SECONDS = 10.0
MAX_OPERATIONS = 100
KEY_RECHECK_SECONDS = 60.0
HEARTBEAT_SECONDS = 30.0
MAX_MESSAGE_BYTES = 64 * 1024
SUBSCRIPTION_COST = 1
CLOSE_FORBIDDEN = 4403
HTTP_ONLY = (
    "only subscriptions are served over this WebSocket; send queries and mutations to "
    "POST /graphql"
)
# Not a key and no workspace: what a connection is until `connection_init` authenticates it.
ANONYMOUS = Principal(
    key_id="", key_name="", scope="read", own_workspace_id="", acting_workspace_id="",
    permitted_workspace_ids=frozenset(),
)


def _allowed_origins(origins: frozenset[str] | set[str] | list[str]) -> list[str]:
    """The configured origins Strawberry accepts; a malformed one is logged and ignored."""
    valid = []
    for origin in sorted(origins):
        try:
            normalize_allowed_origins([origin])
        except ValueError:
            log.warning("SELIQ_CORS_ORIGINS: ignoring %r, which is not an origin", origin)
        else:
            valid.append(origin)
    return valid


class SeliqOperation(Operation[SubscriptionContext, None]):
    """An operation whose errors are formatted like HTTP ones: coded, unexpected ones masked."""

    __slots__ = ()

    @property
    def _request_id(self) -> str:
        return cast(SubscriptionContext, self.handler.context).request_id

    async def send_initial_errors(self, errors: list[GraphQLError]) -> None:
        message: Any = {
            "id": self.id,
            "type": "error",
            "payload": [format_error(err, self._request_id) for err in errors],
        }
        await self.send_operation_message(message)

    async def send_next(self, execution_result: ExecutionResult) -> None:
        payload: dict[str, Any] = {"data": execution_result.data}
        if execution_result.errors:
            payload["errors"] = [
                format_error(err, self._request_id) for err in execution_result.errors
            ]
        message: Any = {"id": self.id, "type": "next", "payload": payload}
        await self.send_operation_message(message)


class SeliqTransportWSHandler(BaseGraphQLTransportWSHandler[SubscriptionContext, None]):
    """graphql-transport-ws with Seliq's admission rules at `subscribe`."""

    _recheck: asyncio.Task[None] | None = None

    @property
    def seliq_view(self) -> SubscriptionView:
        return cast(SubscriptionView, self.view)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._recheck is None:
            self._recheck = asyncio.create_task(self._recheck_key())

    async def _recheck_key(self) -> None:
        """Close the connection when its key is revoked (or its workspace access lost)."""
        while True:
            await asyncio.sleep(self.seliq_view.key_recheck_seconds)
            try:
                await self.seliq_view.reauthenticate(self.context)
            except DomainError:
                await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Forbidden")
                return
            except Exception:  # the database is unreachable: keep serving, check again later
                log.exception("re-checking a subscription's key failed")

    async def shutdown(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck
        await super().shutdown()

    async def _refuse(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        message: Any = {"id": operation_id, "type": "error", "payload": errors}
        await self.send_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        operation_id = message["id"]
        if operation_id in self.operations:
            await self.websocket.close(
                code=4409, reason=f"Subscriber for {operation_id} already exists"
            )
            return
        request_id = self.context.request_id
        if (
            self.max_subscriptions_per_connection is not None
            and len(self.operations) >= self.max_subscriptions_per_connection
        ):
            message_text = (
                f"at most {self.max_subscriptions_per_connection} operations at once per "
                "connection: complete one first"
            )
            await self._refuse(operation_id, [_error(message_text, "TOO_MANY_OPERATIONS",
                                                     request_id)])
            return
        payload = message.get("payload") or {}
        query = payload.get("query")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if (
            not isinstance(query, str)
            or not (variables is None or isinstance(variables, dict))
            or not (operation_name is None or isinstance(operation_name, str))
        ):
            await self._refuse(operation_id, [_error(
                "`query` must be a string, `variables` an object, `operationName` a string",
                "BAD_REQUEST", request_id,
            )])
            return
        try:
            await self.seliq_view.reauthenticate(self.context)
        except DomainError:
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Forbidden")
            return
        refusal = await self.seliq_view.admit(self.context, query, variables, operation_name)
        if refusal:
            await self._refuse(operation_id, refusal)
            return
        operation = SeliqOperation(self, operation_id, query, variables, operation_name)
        operation.task = asyncio.create_task(self.run_operation(operation))
        operation.task.add_done_callback(self._task_done)
        self.operations[operation_id] = operation


def _error(message: str, code: str, request_id: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, "request_id": request_id, **extra}}


class SubscriptionView(GraphQLView[SubscriptionContext, None]):
    graphql_transport_ws_handler_class = SeliqTransportWSHandler

    def __init__(
        self,
        schema: Any,
        *,
        db: Database,
        hub: EventHub,
        limiter: Limiter,
        limits: Limits,
        summarizer: Summarizer | None = None,
        allowed_origins: frozenset[str] | set[str] | list[str] = frozenset(),
        max_operations: int = MAX_OPERATIONS,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=INIT_TIMEOUT_SECONDS),
            max_subscriptions_per_connection=max_operations,
            allowed_origins=_allowed_origins(allowed_origins),
        )
        self.db = db
        self.hub = hub
        self.limiter = limiter
        self.limits = limits
        self.summarizer = summarizer or default_summarizer()
        self.key_recheck_seconds = KEY_RECHECK_SECONDS
        self.connections: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.shutting_down = False

    # --- the aiohttp side ---------------------------------------------------------------

    def decode_json(self, data: str | bytes) -> object:
        """A message nested deeper than 64 levels closes the connection with 4400, as one that
        is not JSON does. Text is checked where it is used: a key that cannot be one (a NUL, a
        lone surrogate) is refused with 4403 like any bad key, and a `subscribe` whose variables
        hold such text gets an error for that operation (`schema.limits.estimate`)."""
        try:
            value = json.loads(data)
            jsontext.check(value, what="the message", text=False)
        except (RecursionError, jsontext.BadJson) as exc:
            raise json.JSONDecodeError(str(exc) or "too deeply nested", "", 0) from None
        return value

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if self.shutting_down:
            return json_response(
                {"errors": [_error("the server is shutting down; reconnect", "UNAVAILABLE",
                                   request_id_of(request))]},
                status=503, headers={"Retry-After": "1", "Connection": "close"},
            )
        return await super().__call__(request)

    async def create_websocket_response(
        self, request: web.Request, subprotocol: str | None
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=[subprotocol] if subprotocol else [],
            heartbeat=HEARTBEAT_SECONDS,
            max_msg_size=MAX_MESSAGE_BYTES,
            timeout=5.0,
        )
        await ws.prepare(request)
        self.connections.add(ws)
        return ws

    async def reject_websocket(self, request: web.Request) -> web.Response:
        return json_response(
            {"errors": [_error(
                "this origin may not open a WebSocket here (SELIQ_CORS_ORIGINS)", "FORBIDDEN",
                request_id_of(request),
            )]},
            status=403,
        )

    async def close_all(self) -> None:
        """Shutdown: refuse new upgrades and close every connection with 1001 (going away)."""
        self.shutting_down = True
        sockets = [ws for ws in list(self.connections) if not ws.closed]
        if sockets:
            log.info("closing %d subscription connection(s)", len(sockets))
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
              for ws in sockets),
            return_exceptions=True,
        )

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> SubscriptionContext:
        return SubscriptionContext(
            db=self.db, principal=ANONYMOUS, request_id=request_id_of(request),
            loaders=Loaders(self.db, ANONYMOUS), summarizer=self.summarizer, hub=self.hub,
        )

    # --- graphql-transport-ws hooks ---------------------------------------------------------

    async def on_ws_connect(self, context: SubscriptionContext) -> dict[str, object]:
        params = context.connection_params or {}
        headers = {str(k).lower(): v for k, v in params.items() if isinstance(v, str)}
        context.authorization = headers.get("authorization")
        context.workspace_ref = headers.get("x-workspace-id") or None
        try:
            await self.reauthenticate(context)
        except DomainError as exc:
            raise ConnectionRejectionError({"message": exc.message, "code": exc.code}) from None
        return {"workspaceId": context.principal.acting_workspace_id}

    async def reauthenticate(self, context: SubscriptionContext) -> Principal:
        """Check the connection's key (and workspace) again; raises DomainError if refused."""
        if context.authorization is None:
            raise Unauthenticated("missing API key: send `Authorization: Bearer <key>`")
        async with self.db.read() as session:
            principal = await authenticate(session, context.authorization, context.workspace_ref)
        if principal != context.principal:
            context.principal = principal
            context.loaders = Loaders(self.db, principal)
        return principal

    async def admit(
        self,
        context: SubscriptionContext,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> list[dict[str, Any]] | None:
        """Errors refusing a `subscribe` before it runs, or None to run it (charged)."""
        request_id = context.request_id

        def subscription_only(document: DocumentNode) -> None:
            operation = get_operation_ast(document, operation_name)
            if operation is None:
                raise CodedError("the document has several operations (or none by that name): "
                                 "send `operationName`", "GRAPHQL_VALIDATION_FAILED")
            if operation.operation != OperationType.SUBSCRIPTION:
                raise CodedError(HTTP_ONLY, "BAD_REQUEST")

        refused = estimate(
            self.schema._schema, query, operation_name, variables, self.limits,  # type: ignore[attr-defined]
            check=subscription_only,
        )
        if isinstance(refused, list):
            return [format_error(err, request_id) for err in refused]
        decision = await charge(self.limiter, context.principal, SUBSCRIPTION_COST)
        if not decision.allowed:
            return [_error(str(RateLimited(decision)), "RATE_LIMITED", request_id,
                           retryAfter=decision.retry_after)]
        context.rate_limit = decision
        return None
