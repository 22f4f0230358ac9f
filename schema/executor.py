"""`GraphQLExecutor`: the one entry point the HTTP doors use to run an operation.

The gateway's /graphql handler and the REST rows receive it from the app factory typed as
`gateway.web.operations.Executor`, so neither imports the schema (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from gateway.domain import jsontext
from gateway.domain.ratelimit.local import Decision, Limiter, LocalLimiter, RateLimited, remember
from gateway.domain.storage.engine import Database
from gateway.domain.summaries.summarizer import Summarizer
from gateway.domain.tenancy.auth import Principal
from gateway.web.operations import NodeShape, OperationRefused, Outcome
from schema.build import build_schema, format_error, result_to_json
from schema.context import make_context
from schema.limits import Estimate, Limits, charge, estimate
from schema.plan.mutations import DirectMutations
from schema.plan.run import Plans
from schema.subscriptions import WEBSOCKET_ONLY

QUERY_ONLY = frozenset({OperationType.QUERY})
MAX_ESTIMATES = 512
ALL_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class GraphQLExecutor:
    def __init__(
        self, db: Database, limiter: Limiter | None = None, limits: Limits | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.db = db
        self.summarizer = summarizer
        self.limits = limits or Limits()
        self.schema = build_schema(self.limits)
        self.limiter = limiter or LocalLimiter()
        # Repeated read operations run from cached plans (schema/plan/), not field by field.
        self.plans = Plans(self.schema._schema, self.limits.max_tokens)
        # ... and repeated mutations of the kind the webhook sends, without the executor too.
        self.mutations = DirectMutations(
            self.schema._schema, self.plans.fields, self.limits.max_tokens,
            self.plans.scalar_registry, self.plans.config,
        )
        # (query, operation, variables' shape) -> its estimate: the analysis walks the whole
        # document, and dashboards send the same operation with the same variables again and
        # again (see `_shape` for what of the variables counts).
        self._estimates: dict[tuple[str, str | None, bytes], Estimate] = {}

    def _estimate(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> Estimate | list[GraphQLError]:
        """Limits that can be checked without running anything: text size, syntax (with the
        token limit), nesting, page sizes, list sizes, estimated nodes."""
        try:
            shape = orjson.dumps(_shape(variables), option=orjson.OPT_SORT_KEYS)
            key = (query, operation_name, shape)
        except TypeError:
            key = None
        if key is not None and (known := self._estimates.get(key)) is not None:
            return known
        found = estimate(self.schema._schema, query, operation_name, variables, self.limits)
        if key is not None and not isinstance(found, list):
            if len(self._estimates) >= MAX_ESTIMATES:
                self._estimates.pop(next(iter(self._estimates)))
            self._estimates[key] = found
        return found

    async def _charge(self, principal: Principal, cost: int) -> Decision:
        decision = await charge(self.limiter, principal, cost)
        remember(decision)
        if not decision.allowed:
            raise OperationRefused(str(RateLimited(decision)), 429, "RATE_LIMITED")
        return decision

    async def run(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        principal: Principal,
        request_id: str,
        *,
        allow_mutations: bool = True,
        shape: NodeShape | None = None,
    ) -> Outcome:
        context = make_context(self.db, principal, request_id, self.summarizer)
        estimate = self._estimate(query, variables, operation_name)
        if isinstance(estimate, list):
            await self._charge(principal, 1)
            body = {"errors": [format_error(err, request_id) for err in estimate], "data": None}
            return Outcome(body=body, not_executed=True)
        context.rate_limit = await self._charge(principal, estimate.cost)
        answer = await self.plans.answer(query, operation_name, variables, context, shape)
        if answer is not None:
            data, shaped = answer
            answered = {"data": data, "extensions": _cost(estimate)}
            return Outcome(body=answered, not_executed=False, shaped=shaped)
        if allow_mutations:
            direct = await self.mutations.answer(query, operation_name, variables, context)
            if direct is not None:
                answered = result_to_json(direct, context)
                answered["extensions"] = _cost(estimate)
                return Outcome(body=answered, not_executed=False)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=ALL_OPERATIONS if allow_mutations else QUERY_ONLY,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type == OperationType.SUBSCRIPTION:
                raise OperationRefused(WEBSOCKET_ONLY, 400, "BAD_REQUEST") from None
            kind = exc.operation_type.value
            raise OperationRefused(
                f"{kind}s are not allowed over GET; use POST", 405, "METHOD_NOT_ALLOWED"
            ) from None
        except CannotGetOperationTypeError:
            raise OperationRefused(
                "the document has several operations (or none by that name): "
                "send `operationName`",
                400,
                "GRAPHQL_VALIDATION_FAILED",
            ) from None
        except MissingQueryError:
            raise OperationRefused(
                "no GraphQL query in the request", 400, "BAD_REQUEST"
            ) from None
        body = result_to_json(result, context)
        if not result.errors:
            self.plans.learn(query, operation_name)
            if allow_mutations:
                self.mutations.learn(query, operation_name)
        extensions: dict[str, Any] = body.setdefault("extensions", {})  # type: ignore[call-overload]
        extensions.update(_cost(estimate))
        not_executed = result.data is None and bool(result.errors) and all(
            isinstance(err, GraphQLError) and err.path is None and err.original_error is None
            for err in result.errors or []
        )
        return Outcome(body=body, not_executed=not_executed)


# Strings longer than this stand for any string in the estimate cache's key.
LONG_STRING = 64


def _shape(value: Any) -> Any:
    """`variables` as the analysis sees them: it reads numbers (page sizes), list lengths and
    booleans (directives), never the text of a long string, so every webhook body (one long
    `rawBody`) shares one cache entry instead of missing it each time."""
    if isinstance(value, str):
        if len(value) <= LONG_STRING:
            return value
        # Text the analysis refuses (a NUL) must not share the entry of text it accepted.
        return "\u2026" if jsontext.unstorable_text(value) is None else "\u2026\x00"
    if isinstance(value, dict):
        return {name: _shape(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return value


def _cost(estimate: Estimate) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": estimate.cost, "estimatedNodes": estimate.nodes}}
