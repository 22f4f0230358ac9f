"""`Plans`: the cache of compiled plans per document, and running one against the database for a
request (`Run`), falling back to the standard executor on anything it cannot answer."""

from __future__ import annotations

from collections import OrderedDict
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

from gateway.domain.pagination import (
    PageArgs,
    page_args,
)
from schema.context import Context
from schema.limits import parse_document
from schema.plan.compiler import Compiler
from schema.plan.selections import ConnectionPlan, Fetched, Plan
from schema.plan.values import INT_MAX, INT_MIN, MAX_PLANS, Fallback, Unsupported

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
    raise Fallback(f"variable of type {type_name}")


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
                raise Fallback(f"${name} is required")
            self.values[name] = value

    def literal(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.values.get(node.name.value)
        if isinstance(node, NullValueNode):
            return None
        if isinstance(node, IntValueNode):
            value = int(node.value)
            if not INT_MIN <= value <= INT_MAX:
                raise Fallback("Int out of range")
            return value
        if isinstance(node, StringValueNode):
            return node.value
        raise Fallback("argument literal")

    def page_args(self, plan: ConnectionPlan) -> PageArgs:
        args = {name: self.literal(node) for name, node in plan.arguments.items()}
        if args.get("filter") is not None or args.get("orderBy") is not None:
            raise Fallback("filters and orders run on the standard executor")
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


class Plans:
    """The plans of this schema, by (query text, operation name); `None` marks a document
    plans do not support, so it is not compiled again."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int, *, enabled: bool = True) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.enabled = enabled
        # How many requests plans answered, and how many they handed to the standard executor.
        self.answered = 0
        self.fell_back = 0
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        if not self.enabled:
            return None
        key = (query, operation_name)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def learn(self, query: str, operation_name: str | None) -> None:
        """Called after the standard executor ran the document without errors."""
        key = (query, operation_name)
        if not self.enabled or key in self._plans:
            return
        try:
            document = parse_document(query, self.max_tokens)
            plan: Plan | None = Compiler(self.schema, document, operation_name).compile()
        except Unsupported:
            plan = None
        self._plans[key] = plan
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)

    async def run(
        self, plan: Plan, variables: dict[str, Any] | None, context: Context
    ) -> dict[str, Any] | None:
        """The `data` of the answer, or None when the standard executor must answer."""
        try:
            data = await Run(plan, variables or {}, context).execute()
        except Exception:  # any doubt: the standard executor gives the canonical answer
            self.fell_back += 1
            return None
        self.answered += 1
        return data
