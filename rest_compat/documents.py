"""Operation documents: `operations/<Name>.graphql`, plus the shared fragments it spreads from
`operations/fragments.graphql`, loaded once and checked against the schema at start-up.

Every problem is a `RestSetupError` whose message is one line naming the file, so the gateway
refuses to start with a clear reason rather than answering 500 on the first request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    validate,
)
from graphql.language import Visitor, visit

from rest_compat.shapes import ENUMS, Shape

FRAGMENTS_FILE = "fragments.graphql"


class RestSetupError(RuntimeError):
    """The REST layer cannot start: a document, fragment or enum does not fit the schema."""


@dataclass(frozen=True)
class Document:
    file: str
    # The operation name, passed to the executor with the source.
    name: str
    # "query" or "mutation".
    kind: str
    # What is executed: the operation followed by the fragments it uses.
    source: str
    # Variable name -> whether the operation cannot run without it (non-null, no default).
    variables: dict[str, bool]
    fragments: frozenset[str]

    @property
    def is_mutation(self) -> bool:
        return self.kind == "mutation"


def _read(file: str) -> str:
    try:
        return (resources.files("rest_compat") / "operations" / file).read_text(encoding="utf-8")
    except OSError as exc:
        raise RestSetupError(f"rest_compat: cannot read operations/{file}: {exc}") from None


def _parse(file: str, text: str) -> object:
    try:
        return parse(text)
    except GraphQLSyntaxError as exc:
        raise RestSetupError(f"rest_compat: operations/{file}: {_one_line(exc)}") from None


def _one_line(error: GraphQLError) -> str:
    message = error.message.replace("\n", " ")
    if error.locations:
        loc = error.locations[0]
        message += f" (line {loc.line}, column {loc.column})"
    return message


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        if node.name.value not in self.names:
            self.names.append(node.name.value)


def _spreads(node: object) -> list[str]:
    visitor = _Spreads()
    visit(node, visitor)  # type: ignore[arg-type]
    return visitor.names


@cache
def fragments() -> dict[str, tuple[FragmentDefinitionNode, str]]:
    """Fragment name -> (definition, source text)."""
    text = _read(FRAGMENTS_FILE)
    document = _parse(FRAGMENTS_FILE, text)
    out: dict[str, tuple[FragmentDefinitionNode, str]] = {}
    for definition in document.definitions:  # type: ignore[attr-defined]
        if not isinstance(definition, FragmentDefinitionNode):
            raise RestSetupError(
                f"rest_compat: operations/{FRAGMENTS_FILE} may hold fragments only"
            )
        assert definition.loc is not None
        out[definition.name.value] = (definition, text[definition.loc.start : definition.loc.end])
    return out


def _used_fragments(file: str, roots: list[str]) -> list[str]:
    known = fragments()
    used: list[str] = []
    pending = list(roots)
    while pending:
        name = pending.pop(0)
        if name in used:
            continue
        if name not in known:
            raise RestSetupError(
                f"rest_compat: operations/{file} spreads unknown fragment {name} "
                f"(define it in operations/{FRAGMENTS_FILE})"
            )
        used.append(name)
        pending.extend(_spreads(known[name][0]))
    return used


@cache
def load_document(stem: str) -> Document:
    """Load `operations/<stem>.graphql` with its fragments (cached: loaded once per process)."""
    file = f"{stem}.graphql"
    text = _read(file)
    parsed = _parse(file, text)
    operations = [
        d for d in parsed.definitions  # type: ignore[attr-defined]
        if isinstance(d, OperationDefinitionNode)
    ]
    if len(operations) != 1 or operations[0].name is None:
        raise RestSetupError(
            f"rest_compat: operations/{file} must hold exactly one named operation"
        )
    operation = operations[0]
    used = _used_fragments(file, _spreads(parsed))
    source = "\n\n".join([text.strip(), *(fragments()[name][1] for name in used)]) + "\n"
    variables = {
        vd.variable.name.value: isinstance(vd.type, NonNullTypeNode) and vd.default_value is None
        for vd in operation.variable_definitions or ()
    }
    assert operation.name is not None
    return Document(
        file=file,
        name=operation.name.value,
        kind=operation.operation.value,
        source=source,
        variables=variables,
        fragments=frozenset(used),
    )


def validate_document(document: Document, schema: GraphQLSchema) -> None:
    errors = validate(schema, parse(document.source))
    if errors:
        raise RestSetupError(
            f"rest_compat: operations/{document.file} does not validate against the schema: "
            f"{_one_line(errors[0])}"
        )


def _selected_paths(
    selection_set: SelectionSetNode | None, prefix: tuple[str, ...]
) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    if selection_set is None:
        return paths
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            paths.add((*prefix, key))
            paths |= _selected_paths(selection.selection_set, (*prefix, key))
        elif isinstance(selection, InlineFragmentNode):
            paths |= _selected_paths(selection.selection_set, prefix)
        elif isinstance(selection, FragmentSpreadNode):
            spread = fragments().get(selection.name.value)
            if spread is not None:
                paths |= _selected_paths(spread[0].selection_set, prefix)
    return paths


def check_shape(shape: Shape) -> None:
    """The shape's fragment selects every value the shape reads."""
    found = fragments().get(shape.fragment)
    if found is None:
        raise RestSetupError(
            f"rest_compat: shape {shape.name} needs fragment {shape.fragment} in "
            f"operations/{FRAGMENTS_FILE}"
        )
    selected = _selected_paths(found[0].selection_set, ())
    for path in shape.source_paths():
        if path not in selected:
            raise RestSetupError(
                f"rest_compat: shape {shape.name} reads `{'.'.join(path)}` but fragment "
                f"{shape.fragment} does not select it"
            )


def check_enums(schema: GraphQLSchema) -> None:
    """Each REST enum spells exactly the values of its GraphQL enum."""
    for enum in ENUMS:
        graphql_type = schema.get_type(enum.graphql_type)
        if not isinstance(graphql_type, GraphQLEnumType):
            raise RestSetupError(f"rest_compat: the schema has no enum {enum.graphql_type}")
        expected = set(graphql_type.values)
        if expected != set(enum.to_rest):
            missing = sorted(expected.symmetric_difference(enum.to_rest))
            raise RestSetupError(
                f"rest_compat: enum {enum.graphql_type} and its REST spelling differ on "
                f"{', '.join(missing)}"
            )
