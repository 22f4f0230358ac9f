"""Random GraphQL documents for the differential test of the cached execution plans
(schema/plan/), generated from the schema itself: every root field of `Query`, every field of
every type reachable from it (leaves, objects, lists, connections with their arguments), with
aliases, fragments, inline fragments, `@include` / `@skip`, variables, and errors (bad cursors,
page sizes out of range, foreign, unknown and wrong-type ids, too many ids).

Nothing here lists a type's fields: a field added to the schema is generated as soon as it
exists. What the generator must know is about values, not fields: which ids, cursors, slugs
and names the data holds (`Pools`), which leaves change between two runs of the same query
(`MOVING`), and what plans do not answer (`UNSUPPORTED`, so the test knows which documents a
plan must carry).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)

# Leaves whose value moves between two runs of one query (the clock, a rate-limit budget; an
# SLA summary's window defaults to the 30 days before now).
MOVING = frozenset({
    ("SlaSummary", "asOf"), ("SlaSummary", "since"), ("SlaSummary", "until"),
    ("RateLimit", "remaining"), ("RateLimit", "resetAt"),
})
# Fields plans do not answer (docs/performance.md lists them): a document selecting one must
# fall back, any other must be answered by its plan.
UNSUPPORTED = frozenset({("Viewer", "workspace"), ("Viewer", "actingWorkspace")})
# Object fields that lead back up (an incident's workspace, an alert's incident) are followed
# less often, so documents stay within the depth and cost limits.
MAX_DEPTH = 3
MAX_ALIASES = 8  # the limit is 15, counted once per fragment spread


@dataclass
class Pools:
    """Values from the data: ids by type name (of the acting workspace; "foreign" ones of a
    workspace the key may not see), cursors by node type (and incident order), slugs, names."""

    ids: dict[str, list[str]]
    foreign: list[str]
    cursors: dict[str, list[str]]
    slugs: list[str]
    assignees: list[str]
    sources: list[str]
    words: list[str]


@dataclass
class Document:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    # Whether it only uses what plans support (then plans must answer it, not fall back).
    supported: bool = True


def named(field_type: Any) -> Any:
    return get_named_type(field_type)


def unwrap(field_type: Any) -> Any:
    return field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type


class Generator:
    def __init__(self, schema: GraphQLSchema, pools: Pools, seed: int) -> None:
        self.schema = schema
        self.pools = pools
        self.random = random.Random(seed)
        self.fragments: dict[str, str] = {}
        self.variables: dict[str, tuple[str, Any]] = {}
        self.supported = True
        self.aliases = 0
        self.single_root = True

    def chance(self, p: float) -> bool:
        return self.random.random() < p

    def alias(self, name: str, force: bool = False) -> str:
        if force or (self.chance(0.05) and self.aliases < MAX_ALIASES):
            self.aliases += 1
            return f"a{self.aliases}: {name}"
        return name

    def directive(self) -> str:
        if not self.chance(0.06):
            return ""
        name = self.random.choice(["include", "skip"])
        flag = self.random.choice([True, False])
        if self.chance(0.6):
            variable = f"d{len(self.variables)}"
            self.variables[variable] = ("Boolean!", flag)
            return f" @{name}(if: ${variable})"
        return f" @{name}(if: {str(flag).lower()})"

    # ---- values ------------------------------------------------------------------------------

    def literal(self, value: Any, input_type: Any) -> str:
        inner = unwrap(input_type)
        if value is None:
            return "null"
        if isinstance(inner, GraphQLList):
            return "[" + ", ".join(self.literal(v, inner.of_type) for v in value) + "]"
        if isinstance(inner, GraphQLInputObjectType):
            fields = inner.fields
            return "{" + ", ".join(
                f"{k}: {self.literal(v, fields[k].type)}" for k, v in value.items()
            ) + "}"
        if isinstance(inner, GraphQLEnumType):
            return str(value)
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int):
            return str(value)
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'

    def argument(self, name: str, input_type: GraphQLInputType, value: Any) -> str:
        """`name: value`, the value written in place or passed as a variable."""
        if self.chance(0.35):
            variable = f"v{len(self.variables)}"
            self.variables[variable] = (str(input_type), value)
            return f"{name}: ${variable}"
        return f"{name}: {self.literal(value, input_type)}"

    def an_id(self, type_names: list[str]) -> str:
        roll = self.random.random()
        if roll < 0.08:
            return self.random.choice(self.pools.foreign)
        if roll < 0.12:
            prefix = self.random.choice(["inc", "alt", "evt", "note", "rpt", "ws"])
            return f"{prefix}_01unknown0000000000000000000"
        if roll < 0.15:
            return self.random.choice(["", "not an id", "key_01xyz", "inc_bad-id"])
        pool = [i for t in type_names for i in self.pools.ids.get(t, ())]
        return self.random.choice(pool or ["inc_01unknown0000000000000000000"])

    def input_value(self, input_type: Any, hint: str, node_type: str | None) -> Any:
        inner = unwrap(input_type)
        if isinstance(inner, GraphQLList):
            item = unwrap(inner.of_type)
            if isinstance(item, GraphQLEnumType):
                return self.random.sample(list(item.values), self.random.randint(1, 2))
            count = self.random.choice([1, 2, 3, 5, 101 if self.chance(0.05) else 4])
            return [self.an_id(list(NODE_POOLS)) for _ in range(count)]
        if isinstance(inner, GraphQLInputObjectType):
            value: dict[str, Any] = {}
            for field_name, input_field in inner.fields.items():
                if self.chance(0.45) or (unwrap(input_field.type) is not input_field.type):
                    value[field_name] = self.input_value(input_field.type, field_name, node_type)
            return value
        if isinstance(inner, GraphQLEnumType):
            return self.random.choice(list(inner.values))
        name = inner.name
        if name == "Boolean":
            return self.chance(0.5)
        if name == "DateTime":
            # `since` before `until` (the other way round is an error, see `arguments`).
            days = {"since": ["2025-12-01", "2025-12-31"], "until": ["2026-01-03", "2026-06-01"]}
            day = self.random.choice(days.get(
                hint, ["2025-12-31", "2026-01-01", "2026-01-02", "2026-06-01"]
            ))
            return f"{day}T{self.random.randint(0, 23):02d}:00:00Z"
        if name == "Int":
            return self.random.randint(1, 5)
        if hint == "assignee":
            return self.random.choice(self.pools.assignees)
        if hint == "source":
            return self.random.choice(self.pools.sources)
        if hint == "query":
            return self.random.choice(self.pools.words)
        if hint == "incidentId":
            return self.an_id(["Incident"])
        if name == "ID":
            return self.an_id([node_type] if node_type else list(NODE_POOLS))
        return self.random.choice(self.pools.words)

    # ---- selections ---------------------------------------------------------------------------

    def arguments(
        self, parent: str, field_name: str, definition: GraphQLField, depth: int
    ) -> str:
        """Arguments from the argument types. Values that make an error (a page size out of
        range, a bad cursor) only in a document's one root field: when a field fails while
        others run, graphql-core's cancellation of its siblings can surface as a CancelledError
        out of the standard executor, which is its business, not the plans'."""
        errors = depth == 0 and self.single_root
        node_type = named(definition.type).name.removesuffix("Connection")
        args = definition.args
        out = []
        backward = "last" in args and self.chance(0.3)
        order: Any = None
        # orderBy first: the cursors to page from depend on it.
        for name, arg in sorted(args.items(), key=lambda item: item[0] != "orderBy"):
            required = isinstance(arg.type, GraphQLNonNull)
            if name in ("first", "last"):
                if (name == "last") != backward or not (backward or self.chance(0.85)):
                    continue  # `before` needs `last`; `first` may be left to its default
                size = self.random.choice([1, 2, 3, self.random.randint(1, 6)])
                if errors and self.chance(0.03):
                    size = self.random.choice([0, 101, 500])
                out.append(self.argument(name, arg.type, size))
            elif name in ("after", "before"):
                if (name == "before") != backward or not self.chance(0.3):
                    continue
                order_field = (order or {}).get("field", "CREATED_AT").lower()
                pool = (self.pools.cursors.get(f"{node_type}:{order_field}")
                        or self.pools.cursors.get(node_type))
                if not pool:
                    continue  # no rows of that kind to page from
                cursor = self.random.choice(pool)
                if errors and self.chance(0.06):
                    cursor = self.random.choice(["not-a-cursor", self.random.choice(
                        [c for cursors in self.pools.cursors.values() for c in cursors])])
                out.append(self.argument(name, arg.type, cursor))
            elif name in ("since", "until"):
                # A window: both ends or neither (`since` alone runs to now, which may be more
                # than the 366 days a summary may span: an error, see above).
                if name == "since" and self.chance(0.5):
                    for end in ("since", "until"):
                        out.append(self.argument(end, args[end].type,
                                                 self.input_value(args[end].type, end, None)))
            elif name == "orderBy":
                if self.chance(0.4):
                    order = self.input_value(arg.type, name, node_type)
                    out.append(self.argument(name, arg.type, order))
            elif required or self.chance(0.4):
                target = named(definition.type).name if name == "id" else node_type
                if field_name == "node" or field_name == "nodes":
                    target = None
                out.append(self.argument(name, arg.type, self.input_value(arg.type, name, target)))
        return f"({', '.join(out)})" if out else ""

    def fields_of(self, object_type: GraphQLObjectType, depth: int, in_fragment: bool) -> str:
        leaves, others = [], []
        for name, definition in object_type.fields.items():
            if (object_type.name, name) in MOVING:
                continue
            if is_leaf_type(named(definition.type)) and not definition.args:
                leaves.append(name)
            elif name not in ("edges", "nodes", "pageInfo"):
                others.append(name)
        count = self.random.randint(1, min(6, len(leaves)))
        parts = [self.alias(name) + self.directive() for name in self.random.sample(leaves, count)]
        if self.chance(0.1):
            parts.append("__typename")
        if depth < MAX_DEPTH:
            for name in others:
                # Not in fragments: a field with arguments there and in the selection it is
                # spread into would have to agree on them to validate.
                if in_fragment and object_type.fields[name].args:
                    continue
                p = 0.45 if depth < 2 else 0.2
                if (object_type.name, name) in UNSUPPORTED:
                    p /= 5
                if self.chance(p):
                    parts.append(self.field(object_type, name, depth + 1, in_fragment))
        if depth <= 1 and not in_fragment and self.chance(0.2):
            fragment = f"F{len(self.fragments)}"
            self.fragments[fragment] = "..."  # reserve the name before recursing
            body = self.fields_of(object_type, depth + 1, True)
            self.fragments[fragment] = f"fragment {fragment} on {object_type.name} {{ {body} }}"
            parts.append(f"...{fragment}{self.directive()}")
        if self.chance(0.1):
            parts.append(f"... on {object_type.name} {{ {self.random.choice(leaves)} }}")
        self.random.shuffle(parts)
        return " ".join(parts)

    def field(
        self, parent: GraphQLObjectType, name: str, depth: int, in_fragment: bool,
        force_alias: bool = False,
    ) -> str:
        definition = parent.fields[name]
        if (parent.name, name) in UNSUPPORTED:
            self.supported = False
        target = named(definition.type)
        args = self.arguments(parent.name, name, definition, depth)
        key = self.alias(name, force=force_alias)
        head = f"{key}{args}{self.directive()}"
        if isinstance(target, GraphQLObjectType) and target.name.endswith("Connection"):
            return f"{head} {{ {self.connection(target, depth, in_fragment)} }}"
        if isinstance(target, GraphQLInterfaceType | GraphQLUnionType):
            return f"{head} {{ {self.abstract(target, depth)} }}"
        if isinstance(target, GraphQLObjectType):
            return f"{head} {{ {self.fields_of(target, depth, in_fragment)} }}"
        return head

    def abstract(self, target: Any, depth: int) -> str:
        parts = ["id"] if "id" in getattr(target, "fields", {}) else []
        if self.chance(0.3):
            parts.append("__typename")
        for possible in self.schema.get_possible_types(target):
            if self.chance(0.5):
                body = self.fields_of(possible, depth, True)
                parts.append(f"... on {possible.name} {{ {body} }}")
        return " ".join(parts) or "__typename"

    def connection(
        self, connection_type: GraphQLObjectType, depth: int, in_fragment: bool
    ) -> str:
        node_type = named(connection_type.fields["nodes"].type)
        parts: list[str] = []
        choices = ["nodes", "edges", "pageInfo", "totalCount", "__typename"]
        picked = self.random.sample(choices, self.random.randint(1, 3))
        if "nodes" not in picked and "edges" not in picked:
            picked.append("nodes")
        for part in picked:
            if part == "nodes":
                body = self.fields_of(node_type, depth, in_fragment)
                parts.append(f"{self.alias('nodes')} {{ {body} }}")
            elif part == "edges":
                inner = ["cursor"] if self.chance(0.7) else []
                inner.append(f"node {{ {self.fields_of(node_type, depth, in_fragment)} }}")
                parts.append(f"{self.alias('edges')} {{ {' '.join(inner)} }}")
            elif part == "pageInfo":
                info = self.random.sample(
                    ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"],
                    self.random.randint(1, 3),
                )
                parts.append(f"pageInfo {{ {' '.join(info)} }}")
            else:
                parts.append(self.alias(part))
        return " ".join(parts)

    def document(self) -> Document:
        query_type = self.schema.query_type
        assert query_type is not None
        roots = []
        names = list(query_type.fields)
        count = self.random.choice([1, 1, 1, 2])
        self.single_root = count == 1  # errors only then: see `arguments`
        for index in range(count):
            # A second root field is aliased: the same field twice with other arguments would
            # not validate.
            roots.append(self.field(query_type, self.random.choice(names), 0, False, index > 0))
        if self.chance(0.05):
            roots.append("__typename")
        definitions = ", ".join(f"${n}: {t}" for n, (t, _) in self.variables.items())
        header = f"query Generated({definitions})" if definitions else "query Generated"
        fragments = " ".join(self.fragments.values())
        query = f"{header} {{ {' '.join(roots)} }} {fragments}"
        variables = {name: value for name, (_, value) in self.variables.items()}
        return Document(query.strip(), variables, self.supported)


# The types `node(id:)` / `nodes(ids:)` draw ids from.
NODE_POOLS = (
    "Incident", "Alert", "TimelineEvent", "Note", "Report", "Workspace", "WebhookDelivery", "Viewer"
)


def documents(schema: GraphQLSchema, pools: Pools, count: int, seed: int) -> list[Document]:
    return [Generator(schema, pools, seed * 100_003 + index).document() for index in range(count)]
