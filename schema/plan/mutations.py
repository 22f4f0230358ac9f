"""Mutations answered without the standard executor: the `ingestAlert` document the webhook
sends for every alert, and any other document of that kind (issue 16). (`POST /v1/alerts`
selects `workspace { id }`, which has a resolver: it keeps the executor.)

graphql-core and Strawberry spent about a quarter of a webhook request's CPU around one
function call (py-spy, T6): building the execution context, resolving the root field through
its extensions, completing a handful of plain fields. A mutation document is learned as a
query's plan is (after the standard executor answered it once without errors), and compiled
when its operation's only root field is in `DIRECT` (the function its resolver calls, taking
the context and the arguments) and every field selected below it is plain (no resolver: its
value is the attribute of the object above; fragments and literal `@include` / `@skip` are
fine). A request then
- coerces its variables, then the field's arguments, exactly as the executor does
  (graphql-core's coercion, then Strawberry's conversion, decided once per document by
  `schema.plan.inputs`); anything refused there goes to the standard executor, which reports
  it, before the function ran;
- calls the function, and writes what it returned by the selection as the plans write a
  computed value (`schema.plan.complete`: the schema's own leaf serializers, graphql-core's
  field collection);
- when the function raises, answers as the executor does: the error located at the root
  field, formatted by `format_error` (the caller's), and `data` null (`DIRECT` fields are
  non-null). A null where the schema promises a value is a bug of ours: it is answered as an
  unexpected error, also with `data` null.

`tests/graphql/test_direct_mutations.py` holds the answers to the standard executor's, byte
for byte, over selections and inputs beyond the webhook's.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    located_error,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.types import ExecutionResult
from strawberry.types.arguments import convert_arguments

from schema.context import Context
from schema.ingest import ingest_alert
from schema.limits import parse_document
from schema.plan.compiler import Compiler, directive_variables, operation_of
from schema.plan.complete import Complete, completer
from schema.plan.fields import Fields
from schema.plan.inputs import NotCompiled, arguments_converter
from schema.plan.values import Unsupported

# Root mutation fields whose resolver is one call of a function of the context and the
# converted arguments (the resolver reads nothing else of `info`).
DIRECT: dict[str, Callable[..., Awaitable[Any]]] = {"ingestAlert": ingest_alert}
MAX_DOCUMENTS = 256


class NotDirect(Exception):
    """The document, or this request, is for the standard executor."""


@dataclass(frozen=True)
class DirectMutation:
    operation: OperationDefinitionNode
    field_node: FieldNode
    definition: GraphQLField
    call: Callable[..., Awaitable[Any]]
    write: Complete  # the function's result -> the field's JSON value
    convert: Callable[[dict[str, Any]], dict[str, Any]]  # Strawberry's argument conversion


class DirectMutations:
    """Learned mutation documents, compiled once (or known not to compile)."""

    def __init__(self, schema: GraphQLSchema, fields: Fields, max_tokens: int,
                 scalar_registry: Any, config: Any) -> None:
        self.schema = schema
        self.fields = fields
        self.max_tokens = max_tokens
        self.scalar_registry = scalar_registry
        self.config = config
        self.enabled = True
        self.answered = 0  # requests answered here (tests read it)
        # Compiled documents, and apart from them those known not to compile (every query the
        # executor runs is one): many distinct queries must not push the webhook's out.
        self._known: OrderedDict[tuple[str, str | None], DirectMutation] = OrderedDict()
        self._not_direct: OrderedDict[tuple[str, str | None], None] = OrderedDict()

    def learn(self, query: str, operation_name: str | None) -> None:
        """Called after the standard executor ran the document without errors."""
        key = (query, operation_name)
        if not self.enabled or key in self._known or key in self._not_direct:
            return
        try:
            compiled = self._compile(parse_document(query, self.max_tokens), operation_name)
        except NotDirect:
            _remember(self._not_direct, key, None)
            return
        _remember(self._known, key, compiled)

    async def answer(
        self, query: str, operation_name: str | None, variables: dict[str, Any] | None,
        context: Context,
    ) -> ExecutionResult | None:
        """The answer, as the standard executor's result would be (`result_to_json` writes
        both); None when the standard executor must answer."""
        compiled = self._known.get((query, operation_name))
        if compiled is None:
            return None
        try:
            arguments = self._arguments(compiled, variables or {})
        except NotDirect:
            return None
        response_key = (compiled.field_node.alias or compiled.field_node.name).value
        try:
            value = compiled.write(await compiled.call(context, **arguments))
        except Exception as exc:  # the executor's answer to a resolver that raised
            error = located_error(exc, [compiled.field_node], [response_key])
            self.answered += 1
            return ExecutionResult(data=None, errors=[error])
        self.answered += 1
        return ExecutionResult(data={response_key: value}, errors=None)

    def _arguments(self, compiled: DirectMutation, variables: dict[str, Any]) -> dict[str, Any]:
        coerced = get_variable_values(
            self.schema, compiled.operation.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            raise NotDirect("variables the standard executor refuses")
        try:
            raw = get_argument_values(compiled.definition, compiled.field_node, coerced)
        except GraphQLError:
            raise NotDirect("arguments the standard executor refuses") from None
        return compiled.convert(raw)

    def _compile(self, document: DocumentNode, operation_name: str | None) -> DirectMutation:
        try:
            operation = operation_of(document, operation_name, OperationType.MUTATION)
        except Unsupported as exc:
            raise NotDirect(str(exc)) from None
        if operation.directives:
            raise NotDirect("directives")
        selections = operation.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            raise NotDirect("not one root field")
        field_node = selections[0]
        name = field_node.name.value
        mutation_type = self.schema.mutation_type
        call = DIRECT.get(name)
        if call is None or mutation_type is None or field_node.directives:
            raise NotDirect("not a direct field")
        definition = mutation_type.fields[name]
        if directive_variables(document):
            raise NotDirect("@include / @skip read a variable")
        compiler = Compiler(self.schema, self.fields, document, operation, {})
        try:  # the same serialization as the plans' computed values
            write = completer(compiler, definition.type, [field_node])
        except Unsupported as exc:
            raise NotDirect(str(exc)) from None
        arguments = definition.extensions["strawberry-definition"].arguments
        return DirectMutation(
            operation, field_node, definition, call, write, self._converter(arguments)
        )

    def _converter(self, arguments: list[Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        try:
            return arguments_converter(arguments, self.scalar_registry, self.config)
        except NotCompiled:  # Strawberry's own conversion, decided again for every request
            return functools.partial(
                convert_arguments, arguments=arguments, scalar_registry=self.scalar_registry,
                config=self.config,
            )


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > MAX_DOCUMENTS:
        cache.popitem(last=False)
