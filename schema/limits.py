"""Query limits and cost, checked before anything executes.

Tokens are limited while parsing (graphql-core's `max_tokens`). Everything else is one walk over
the document with the variables at hand: depth, aliases, root fields, page sizes, `nodes(ids:)`
and input list lengths, directives, the estimated number of nodes a query may return, and its
cost by GitHub's method: the number of requests it would need if every connection were full,
divided by 100, at least 1.

The walk costs each selection set once per parent type and reuses the figures wherever the same
fragment is spread, so its work is linear in the size of the document whatever its shape (the
depth and alias limiters Strawberry ships expand every spread, which is exponential for fragments
that spread the next one twice). Figures are those of the fully expanded document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    parse,
    value_from_ast_untyped,
)
from graphql.language import Visitor, visit

from gateway.domain import jsontext
from gateway.domain.metrics import record_rate_limited
from gateway.domain.pagination import DEFAULT_PAGE_SIZE
from gateway.domain.ratelimit.local import Decision, Limiter
from gateway.domain.tenancy.auth import Principal


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_characters: int = 15_000
    max_directives: int = 50
    max_root_fields: int = 20
    max_nodes: int = 10_000
    max_page_size: int = 100
    max_node_ids: int = 100
    max_input_list: int = 250


class LimitExceeded(Exception):
    """Refused before execution; `code` is GRAPHQL_VALIDATION_FAILED, COST_LIMIT or (text the
    database cannot store, an argument nested too deep) BAD_USER_INPUT with `field`."""

    def __init__(
        self, message: str, code: str = "GRAPHQL_VALIDATION_FAILED", field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


@dataclass
class Estimate:
    requests: int = 0
    nodes: int = 0
    visits: int = 0  # selections the checks looked at (linear in the document; tests count it)

    @property
    def cost(self) -> int:
        return max(1, round(self.requests / 100))


@dataclass
class _Cost:
    """What one selection set costs under one parent type, for ONE parent object: the figures a
    parent multiplies by its own count. Computed once per (selection set, type) and reused for
    every spread of the same fragment, so the walk is linear in the document's size however its
    fragments nest (a fragment spread twice in each of 20 fragments is not walked 2**20 times)."""

    requests: int = 0
    nodes: int = 0
    depth: int = 0  # levels of selection sets, this one included
    aliases: int = 0
    fields: int = 0  # fields with fragments expanded (the root fields, at the root)


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    limits: Limits
    costs: dict[tuple[int, str], _Cost] = field(default_factory=dict)
    active: set[tuple[int, str]] = field(default_factory=set)
    visits: int = 0  # selections looked at: the work of the checks, linear in the document


@lru_cache(maxsize=512)
def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """Parsed documents are cached by text: dashboards and the REST layer repeat the same ones."""
    return parse(query, max_tokens=max_tokens)


def check_text(query: str, limits: Limits) -> None:
    if len(query) > limits.max_characters:
        raise LimitExceeded(
            f"the query has {len(query)} characters; the limit is {limits.max_characters}"
        )


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits,
) -> Estimate:
    """Check the limits that need variables and return the operation's estimate. One walk, in
    time linear in the document's size: depth, aliases, root fields, page and list sizes, and
    the estimated nodes and requests (fragments costed once per type they are spread into)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return Estimate(requests=1)
    _check_directives(document, limits)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    walk = _Walk(schema, fragments, variables or {}, limits)
    cost = _cost(walk, root, operation.selection_set) if root is not None else _Cost()
    if cost.fields > limits.max_root_fields:
        raise LimitExceeded(
            f"the operation selects {cost.fields} root fields; the limit is "
            f"{limits.max_root_fields}"
        )
    if cost.depth > limits.max_depth:
        raise LimitExceeded(f"the operation is nested deeper than {limits.max_depth} levels")
    if cost.aliases > limits.max_aliases:
        raise LimitExceeded(
            f"the operation uses {cost.aliases} aliases (fragments counted where they are "
            f"spread); the limit is {limits.max_aliases}"
        )
    if cost.nodes > limits.max_nodes:
        raise LimitExceeded(
            f"the query could return up to {cost.nodes} nodes; the limit is "
            f"{limits.max_nodes}: ask for smaller pages (`first`)",
            code="COST_LIMIT",
        )
    return Estimate(requests=max(cost.requests, 1), nodes=cost.nodes, visits=walk.visits)


def estimate(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits,
    check: Callable[[DocumentNode], None] | None = None,
) -> Estimate | list[GraphQLError]:
    """Every limit that can be checked without running anything (text size, syntax with the
    token limit, then `analyse`): the estimate, or the errors refusing the operation. `check`
    sees the parsed document before the analysis and may refuse it by raising GraphQLError."""
    try:
        check_text(query, limits)
        if (reason := jsontext.unstorable_text(query)) is not None:
            return [GraphQLError(f"the document {reason}", extensions={"code": "BAD_USER_INPUT"})]
        document = parse_document(query, limits.max_tokens)
        if check is not None:
            check(document)
        return analyse(schema, document, operation_name, variables, limits)
    except LimitExceeded as exc:
        return [as_graphql_error(exc)]
    except GraphQLError as exc:
        return [exc]
    except RecursionError:  # a literal nested past Python's stack, in graphql-core's helpers
        return [as_graphql_error(LimitExceeded("the document nests values too deeply"))]


async def charge(limiter: Limiter, principal: Principal, cost: int) -> Decision:
    """Charge `cost` to the rate limit of the key's own workspace; a refusal is recorded (the
    caller refuses the operation its own way)."""
    decision = await limiter.charge(
        f"{principal.rate_bucket}:{principal.own_workspace_id}", principal.rate_limit, cost
    )
    if not decision.allowed:
        record_rate_limited(bucket=principal.rate_bucket)
    return decision


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None and len(operations) > 1:
        raise LimitExceeded(
            "the document has several operations: say which to run with `operationName`"
        )
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation
    return None


class _DirectiveCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_directive(self, *args: Any) -> None:
        self.count += 1


# Document (kept alive by the entry, so its id is not reused) -> its number of directives:
# counting walks the whole document, and the same documents come back request after request.
_DIRECTIVE_COUNTS: dict[int, tuple[DocumentNode, int]] = {}


def _directive_count(document: DocumentNode) -> int:
    cached = _DIRECTIVE_COUNTS.get(id(document))
    if cached is not None and cached[0] is document:
        return cached[1]
    counter = _DirectiveCounter()
    visit(document, counter)
    if len(_DIRECTIVE_COUNTS) >= 512:
        _DIRECTIVE_COUNTS.pop(next(iter(_DIRECTIVE_COUNTS)))
    _DIRECTIVE_COUNTS[id(document)] = (document, counter.count)
    return counter.count


def _check_directives(document: DocumentNode, limits: Limits) -> None:
    count = _directive_count(document)
    if count > limits.max_directives:
        raise LimitExceeded(f"{count} directives; the limit is {limits.max_directives}")


def _value(walk: _Walk, node: ValueNode | None) -> Any:
    if node is None:
        return None
    if isinstance(node, VariableNode):
        return walk.variables.get(node.name.value)
    return value_from_ast_untyped(node, walk.variables)


def _cost(walk: _Walk, parent: Any, selection_set: SelectionSetNode) -> _Cost:
    """The cost of `selection_set` under `parent`, memoised. A fragment that spreads itself is
    cut (the standard validation reports the cycle)."""
    key = (id(selection_set), getattr(parent, "name", ""))
    known = walk.costs.get(key)
    if known is not None:
        return known
    if key in walk.active:
        return _Cost()
    walk.active.add(key)
    total = _Cost(depth=1)
    for selection in selection_set.selections:
        walk.visits += 1
        if isinstance(selection, FieldNode):
            _add_field(walk, parent, selection, total)
            continue
        if isinstance(selection, InlineFragmentNode):
            inner = _cost(walk, parent, selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = walk.fragments.get(selection.name.value)
            if fragment is None:
                continue
            inner = _cost(walk, parent, fragment.selection_set)
        else:
            continue
        total.requests += inner.requests
        total.nodes += inner.nodes
        total.aliases += inner.aliases
        total.fields += inner.fields
        total.depth = max(total.depth, inner.depth)
    walk.active.discard(key)
    walk.costs[key] = total
    return total


def _add_field(walk: _Walk, parent: Any, node: FieldNode, total: _Cost) -> None:
    total.fields += 1
    total.aliases += 1 if node.alias else 0
    definition = getattr(parent, "fields", {}).get(node.name.value)
    if definition is None:
        return  # unknown fields are the standard validation's job; meta fields cost nothing
    arguments = {arg.name.value: _value(walk, arg.value) for arg in node.arguments or ()}
    _check_lists(walk, node, arguments)
    _check_text(arguments)
    named = get_named_type(definition.type)
    size = 1
    if named.name.endswith("Connection"):
        size = _page_size(walk, arguments)
        total.requests += 1
        total.nodes += size
    elif node.name.value == "nodes" and isinstance(arguments.get("ids"), list):
        size = len(arguments["ids"])
        if size > walk.limits.max_node_ids:
            raise LimitExceeded(
                f"`nodes(ids:)` takes at most {walk.limits.max_node_ids} ids; got {size}"
            )
        total.nodes += size
    if node.selection_set is None:
        return
    for target in _object_types(walk.schema, named):
        child = _cost(walk, target, node.selection_set)
        total.requests += size * child.requests
        total.nodes += size * child.nodes
        total.aliases += child.aliases
        total.depth = max(total.depth, 1 + child.depth)


def _object_types(schema: GraphQLSchema, named: Any) -> list[GraphQLObjectType]:
    if isinstance(named, GraphQLObjectType):
        return [named]
    if hasattr(named, "fields") or hasattr(named, "types"):
        return list(schema.get_possible_types(named))
    return []


def _page_size(walk: _Walk, arguments: dict[str, Any]) -> int:
    size = DEFAULT_PAGE_SIZE
    for name in ("first", "last"):
        value = arguments.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or not 1 <= value <= walk.limits.max_page_size:
            raise LimitExceeded(
                f"`{name}` must be between 1 and {walk.limits.max_page_size}; got {value!r}"
            )
        size = value
    return size


def _check_lists(walk: _Walk, node: FieldNode, arguments: dict[str, Any]) -> None:
    def longest(value: Any) -> int:
        if isinstance(value, list):
            return max([len(value), *(longest(v) for v in value)])
        if isinstance(value, dict):
            return max([0, *(longest(v) for v in value.values())])
        return 0

    for name, value in arguments.items():
        if name == "ids" and node.name.value == "nodes":
            continue
        if longest(value) > walk.limits.max_input_list:
            raise LimitExceeded(
                f"input lists take at most {walk.limits.max_input_list} items (`{name}`)"
            )


def _check_text(arguments: dict[str, Any]) -> None:
    """Arguments (variables resolved) that nest too deep or hold text the database cannot store
    (NUL, lone surrogates) are refused naming the argument, e.g. `filter.query`, `input.body`."""
    for name, value in arguments.items():
        if value is None or type(value) in (int, float, bool):
            continue
        try:
            jsontext.check(value, what=f"`{name}`")
        except jsontext.BadJson as exc:
            field = f"{name}.{exc.path}" if exc.path else name
            raise LimitExceeded(exc.message, code="BAD_USER_INPUT", field=field) from None


def as_graphql_error(exc: LimitExceeded) -> GraphQLError:
    extensions: dict[str, Any] = {"code": exc.code}
    if exc.field is not None:
        extensions["field"] = exc.field
    return GraphQLError(exc.message, extensions=extensions)
