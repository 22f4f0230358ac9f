"""Query limits and cost, checked before anything executes.

Depth, aliases and tokens use Strawberry's validation extensions (see build.py). This module adds
what needs the variables too: page sizes, `nodes(ids:)` and input list lengths, directives, root
fields, the estimated number of nodes a query may return, and its cost by GitHub's method: the
number of requests it would need if every connection were full, divided by 100, at least 1.
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
    """Refused before execution; `code` is GRAPHQL_VALIDATION_FAILED or COST_LIMIT."""

    def __init__(self, message: str, code: str = "GRAPHQL_VALIDATION_FAILED") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Estimate:
    requests: int = 0
    nodes: int = 0

    @property
    def cost(self) -> int:
        return max(1, round(self.requests / 100))


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    limits: Limits
    estimate: Estimate = field(default_factory=Estimate)


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
    """Check the limits that need variables and return the operation's estimate."""
    operation = _operation(document, operation_name)
    if operation is None:
        return Estimate(requests=1)
    _check_directives(document, limits)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    walk = _Walk(schema, fragments, variables or {}, limits)
    roots = _fields(walk, operation.selection_set, frozenset())
    if len(roots) > limits.max_root_fields:
        raise LimitExceeded(
            f"the operation selects {len(roots)} root fields; the limit is {limits.max_root_fields}"
        )
    if isinstance(root, GraphQLObjectType):
        _visit(walk, root, operation.selection_set, 1, frozenset(), 1)
    walk.estimate.requests = max(walk.estimate.requests, 1)
    if walk.estimate.nodes > limits.max_nodes:
        raise LimitExceeded(
            f"the query could return up to {walk.estimate.nodes} nodes; the limit is "
            f"{limits.max_nodes}: ask for smaller pages (`first`)",
            code="COST_LIMIT",
        )
    return walk.estimate


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
        document = parse_document(query, limits.max_tokens)
        if check is not None:
            check(document)
        return analyse(schema, document, operation_name, variables, limits)
    except LimitExceeded as exc:
        return [as_graphql_error(exc)]
    except GraphQLError as exc:
        return [exc]


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


def _fields(walk: _Walk, selection_set: SelectionSetNode, seen: frozenset[str]) -> list[FieldNode]:
    """The fields of a selection set with fragments expanded (cycles are cut, and reported by
    the standard validation)."""
    found: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found.extend(_fields(walk, selection.selection_set, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = walk.fragments.get(name)
            if fragment is not None and name not in seen:
                found.extend(_fields(walk, fragment.selection_set, seen | {name}))
    return found


def _value(walk: _Walk, node: ValueNode | None) -> Any:
    if node is None:
        return None
    if isinstance(node, VariableNode):
        return walk.variables.get(node.name.value)
    return value_from_ast_untyped(node, walk.variables)


def _visit(
    walk: _Walk,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    multiplier: int,
    seen: frozenset[str],
    depth: int,
) -> None:
    if depth > walk.limits.max_depth:
        raise LimitExceeded(
            f"the operation is nested deeper than {walk.limits.max_depth} levels"
        )
    for node in _fields(walk, selection_set, seen):
        definition = parent.fields.get(node.name.value)
        if definition is None:
            continue  # unknown fields are the standard validation's job
        arguments = {arg.name.value: _value(walk, arg.value) for arg in node.arguments or ()}
        _check_lists(walk, node, arguments)
        named = get_named_type(definition.type)
        size = 1
        if named.name.endswith("Connection"):
            size = _page_size(walk, arguments)
            walk.estimate.requests += multiplier
            walk.estimate.nodes += multiplier * size
        elif node.name.value == "nodes" and isinstance(arguments.get("ids"), list):
            size = len(arguments["ids"])
            if size > walk.limits.max_node_ids:
                raise LimitExceeded(
                    f"`nodes(ids:)` takes at most {walk.limits.max_node_ids} ids; got {size}"
                )
            walk.estimate.nodes += multiplier * size
        if node.selection_set is None:
            continue
        targets = _object_types(walk.schema, named)
        for target in targets:
            _visit(walk, target, node.selection_set, multiplier * size, seen, depth + 1)


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


def as_graphql_error(exc: LimitExceeded) -> GraphQLError:
    return GraphQLError(exc.message, extensions={"code": exc.code})
