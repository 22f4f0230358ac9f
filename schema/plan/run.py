"""`Plans`: the cache of compiled plans per document, and running one against the database for a
request (`Run`), falling back to the standard executor on anything it cannot answer."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLSchema,
    IntValueNode,
    NullValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.metrics import record_graphql_fallback
from gateway.domain.pagination import (
    PageArgs,
    page_args,
)
from schema.context import Context
from schema.limits import parse_document
from schema.plan.compiler import Compiler
from schema.plan.selections import ConnectionPlan, Fetched, Plan
from schema.plan.values import (
    INT_MAX,
    INT_MIN,
    MAX_PLANS,
    NOT_A_QUERY,
    Fallback,
    Unsupported,
)

log = logging.getLogger("seliq.plans")

# ---- running -----------------------------------------------------------------------------------


def _coerce(value: Any, type_name: str) -> Any:
    """Variables as graphql-core would coerce them, for the types plans take; anything else
    (or anything odd) falls back to the standard executor, which reports the error."""
    if value is None:
        return None
    if type_name == "Int" and type(value) is int and INT_MIN <= value <= INT_MAX:
        return value
    if type_name == "String" and type(value) is str:
        return value
    raise Fallback("variable", f"a variable of type {type_name}")


class Run:
    """One execution of a plan: the coerced variables, then one statement per list."""

    def __init__(self, plan: Plan, variables: dict[str, Any], context: Context) -> None:
        self.plan = plan
        self.context = context
        self.values: dict[str, Any] = {}
        for name, (type_name, non_null, default) in plan.variables.items():
            if name in variables:
                value = _coerce(variables[name], type_name)
            elif default is not None:
                value = self.literal(default)
            else:
                value = None
            if non_null and value is None:
                raise Fallback("error", f"${name} is required")
            self.values[name] = value

    def literal(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.values.get(node.name.value)
        if isinstance(node, NullValueNode):
            return None
        if isinstance(node, IntValueNode):
            value = int(node.value)
            if not INT_MIN <= value <= INT_MAX:
                raise Fallback("error", "Int out of range")
            return value
        if isinstance(node, StringValueNode):
            return node.value
        raise Fallback("argument", "argument literal")

    def page_args(self, plan: ConnectionPlan) -> PageArgs:
        args = {name: self.literal(node) for name, node in plan.arguments.items()}
        if args.get("filter") is not None:
            raise Fallback("filter", "filters run on the standard executor")
        if args.get("orderBy") is not None:
            raise Fallback("order", "orders run on the standard executor")
        return page_args(args.get("first"), args.get("after"), args.get("last"),
                         args.get("before"))

    async def execute(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        # A connection, not an ORM session: plans read rows, never objects.
        async with self.context.db.engine.connect() as connection:
            for key, kind, payload in self.plan.roots:
                if kind == "list":
                    data[key] = await self.root(connection, payload)
                else:
                    data[key] = payload
        return data

    async def root(self, connection: AsyncConnection, plan: ConnectionPlan) -> dict[str, Any]:
        """A root list (as `schema.lists` answers it when there is no filter)."""
        workspace_id = self.context.workspace_id
        assert plan.statements is not None and plan.root is not None
        page = await plan.statements.page(connection, workspace_id, self.page_args(plan))
        parent_ids = [row[page.id_at] for row in page.items]
        fetched: Fetched = {}
        for nested in plan.nested:
            assert nested.statements is not None
            fetched[id(nested)] = await nested.statements.pages(
                connection, workspace_id, parent_ids, self.page_args(nested)
            )
        total = None
        if any(kind == "totalCount" for _, kind, _ in plan.fields):
            async with self.context.db.read() as session:
                total = await plan.root.count(session, workspace_id)
        return plan.value(page, fetched, total)


@dataclass
class Entry:
    """What plans know of one document: its plan, or why there is none (`reason`, one of
    REASONS, or NOT_A_QUERY for a mutation), and whether its fall-back was logged."""

    plan: Plan | None
    reason: str | None = None
    detail: str = ""
    logged: bool = False


class Plans:
    """The plans of this schema, by (query text, operation name), with what they could not
    answer: every query the standard executor answers instead of a learned plan is counted in
    `seliq_graphql_fallbacks_total{reason}` and logged once per document (never its variables)."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int, *, enabled: bool = True) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.enabled = enabled
        # How many requests plans answered, and how many they handed to the standard executor.
        self.answered = 0
        self.fell_back = 0
        self._plans: OrderedDict[tuple[str, str | None], Entry] = OrderedDict()

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        entry = self._plans.get((query, operation_name))
        return entry.plan if entry is not None and self.enabled else None

    def reason(self, query: str, operation_name: str | None) -> str | None:
        """Why this document has no plan (None: it has one, or has not been learned)."""
        entry = self._plans.get((query, operation_name))
        return entry.reason if entry is not None else None

    def learn(self, query: str, operation_name: str | None) -> None:
        """Called after the standard executor ran the document without errors."""
        key = (query, operation_name)
        if not self.enabled or key in self._plans:
            return
        try:
            document = parse_document(query, self.max_tokens)
            entry = Entry(Compiler(self.schema, document, operation_name).compile())
        except Unsupported as exc:
            entry = Entry(None, exc.reason, exc.detail)
        self._plans[key] = entry
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)

    async def answer(
        self, query: str, operation_name: str | None, variables: dict[str, Any] | None,
        context: Context,
    ) -> dict[str, Any] | None:
        """The `data` of the answer from the document's plan, or None when the standard
        executor must answer (not learned yet, no plan, or this request needs it)."""
        if not self.enabled:
            return None
        key = (query, operation_name)
        entry = self._plans.get(key)
        if entry is None:
            return None  # first sight: the standard executor runs it, then `learn`
        self._plans.move_to_end(key)
        if entry.plan is None:
            if entry.reason != NOT_A_QUERY:
                self._fell_back(entry, operation_name, entry.reason or "operation", entry.detail)
            return None
        try:
            data = await Run(entry.plan, variables or {}, context).execute()
        except Fallback as exc:
            self._fell_back(entry, operation_name, exc.reason, exc.detail)
            return None
        except Exception as exc:  # any doubt: the standard executor gives the canonical answer
            self._fell_back(entry, operation_name, "error", type(exc).__name__)
            return None
        self.answered += 1
        return data

    def _fell_back(
        self, entry: Entry, operation_name: str | None, reason: str, detail: str
    ) -> None:
        self.fell_back += 1
        record_graphql_fallback(reason)
        if not entry.logged:
            entry.logged = True
            log.warning(
                "query %s runs on the standard executor: %s (%s)",
                operation_name or "<anonymous>", reason, detail,
                extra={"operation": operation_name, "reason": reason},
            )
