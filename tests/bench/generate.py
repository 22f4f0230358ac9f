"""Random GraphQL documents over the incident list, for the differential test of the cached
execution plans (schema/plan/): mostly what plans support (fields, aliases, fragments, inline
fragments, nested lists, cursors, variables), with some of what they do not (filters, notes,
workspace fields beyond the id, directives) so the fall-back is exercised too."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

INCIDENT_SCALARS = (
    "id", "number", "title", "status", "severity", "assignee", "alertCount", "createdAt",
    "updatedAt", "acknowledgedAt", "resolvedAt", "__typename",
)
ALERT_SCALARS = (
    "id", "title", "description", "severity", "status", "source", "fingerprint", "labels",
    "rawPayload", "occurrences", "firstSeenAt", "lastSeenAt", "receivedAt", "resolvedAt",
    "__typename",
)
EVENT_SCALARS = ("id", "type", "at", "actor", "message", "data", "__typename")
PAGE_INFO = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename")
UNSUPPORTED_INCIDENT = (
    "workspace { id slug }", "notes(first: 2) { nodes { body } }", "sla { ackDueAt }",
    "counted: timeline(last: 2) { totalCount nodes { id } }", "title @include(if: true)",
)


@dataclass
class Document:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    # Whether it only uses what plans support (then plans must answer it, not fall back).
    supported: bool = True


class Generator:
    def __init__(self, seed: int, cursors: dict[str, list[str]]) -> None:
        self.random = random.Random(seed)
        self.cursors = cursors  # "incidents", "alerts", "events": real cursors to page from
        self.fragments: dict[str, str] = {}
        self.variables: dict[str, tuple[str, Any]] = {}
        self.supported = True
        self.aliases = 0

    def chance(self, p: float) -> bool:
        return self.random.random() < p

    def alias(self, name: str) -> str:
        if self.chance(0.08):
            self.aliases += 1
            return f"a{self.aliases}: {name}"
        return name

    def value(self, type_name: str, value: Any) -> str:
        """A literal, or a variable carrying the value."""
        if self.chance(0.4):
            name = f"v{len(self.variables)}"
            self.variables[name] = (type_name, value)
            return f"${name}"
        if value is None:
            return "null"
        return str(value) if isinstance(value, int) else f'"{value}"'

    def page(self, kind: str, backward_ok: bool, size: int, bad_ok: bool = False) -> str:
        args = []
        backward = backward_ok and self.chance(0.3)
        first = self.random.choice([1, 2, 3, size, self.random.randint(1, size)])
        if self.chance(0.85):
            args.append(f"{'last' if backward else 'first'}: {self.value('Int', first)}")
        if self.cursors[kind] and self.chance(0.3) and (args or not backward):
            cursor = self.random.choice(self.cursors[kind])
            if bad_ok and self.chance(0.08):
                # A BAD_USER_INPUT error, on both paths. Only at the root: when several nested
                # fields fail, graphql-core's cancellation of their siblings can surface as a
                # CancelledError, which is the standard executor's business, not the plans'.
                cursor = "not-a-cursor"
            args.append(f"{'before' if backward else 'after'}: {self.value('String', cursor)}")
        return f"({', '.join(args)})" if args else ""

    def pick(self, names: tuple[str, ...], at_least: int = 1) -> list[str]:
        count = self.random.randint(at_least, min(len(names), 6))
        return self.random.sample(names, count)

    def connection(self, node: str, kind: str, with_total: bool) -> str:
        parts: list[str] = []
        choices = ["nodes", "edges", "pageInfo", "__typename"] + (["totalCount"] if with_total
                                                                  else [])
        picked = self.random.sample(choices, self.random.randint(1, len(choices)))
        if "nodes" not in picked and "edges" not in picked:
            picked.append("nodes")
        for part in picked:
            if part == "nodes":
                parts.append(f"{self.alias('nodes')} {{ {node} }}")
            elif part == "edges":
                inner = ["cursor"] if self.chance(0.7) else []
                inner.append(f"node {{ {node} }}")
                if self.chance(0.2):
                    inner.append("__typename")
                self.random.shuffle(inner)
                parts.append(f"{self.alias('edges')} {{ {' '.join(inner)} }}")
            elif part == "pageInfo":
                parts.append(f"pageInfo {{ {' '.join(self.pick(PAGE_INFO))} }}")
            else:
                parts.append(self.alias(part))
        return " ".join(parts)

    def alert(self) -> str:
        fields = self.pick(ALERT_SCALARS)
        if self.chance(0.3):
            fields.append("incident { id }")
        if self.chance(0.2):
            fields.append("workspace { id __typename }")
        return " ".join(self.alias(f) if " " not in f else f for f in fields)

    def event(self) -> str:
        fields = self.pick(EVENT_SCALARS)
        if self.chance(0.3):
            fields.append("incident { __typename id }")
        return " ".join(self.alias(f) if " " not in f else f for f in fields)

    def incident(self, depth: int = 0) -> str:
        fields = [self.alias(f) for f in self.pick(INCIDENT_SCALARS)]
        # In a fragment the lists get their own alias: merged with the same key but other
        # arguments they would not validate (a valid case, but one that tests nothing here).
        prefix = f"f{len(self.fragments)}" if depth else ""
        if self.chance(0.5):
            sub = self.connection(self.alert(), "alerts", with_total=True)
            name = f"{prefix}alerts: alerts" if depth else self.alias("alerts")
            fields.append(f"{name}{self.page('alerts', False, 10)} {{ {sub} }}")
        if self.chance(0.5):
            sub = self.connection(self.event(), "events", with_total=False)
            name = f"{prefix}timeline: timeline" if depth else self.alias("timeline")
            fields.append(f"{name}{self.page('events', True, 10)} {{ {sub} }}")
        if self.chance(0.3):
            fields.append("workspace { id }")
        if depth == 0 and self.chance(0.25):
            name = f"F{len(self.fragments)}"
            self.fragments[name] = f"fragment {name} on Incident {{ {self.incident(1)} }}"
            fields.append(f"...{name}")
        if depth == 0 and self.chance(0.2):
            fields.append("... on Node { id }")
        if depth == 0 and self.chance(0.15):
            fields.append(f"... on Incident {{ {' '.join(self.pick(INCIDENT_SCALARS))} }}")
        if self.chance(0.08):
            fields.append(self.random.choice(UNSUPPORTED_INCIDENT))
            self.supported = False
        self.random.shuffle(fields)
        return " ".join(fields)

    def document(self) -> Document:
        roots = []
        for index in range(self.random.choice([1, 1, 1, 2])):
            alerts = self.chance(0.25)  # the root alert list (e.g. GET /v1/alerts)
            if self.chance(0.05):
                status = "FIRING" if alerts else "TRIGGERED"
                args = f"(first: 3, filter: {{status: [{status}]}})"
                self.supported = False
            else:
                args = self.page("alerts" if alerts else "incidents", True, 60,
                                 bad_ok=index == 0)
            field = "alerts" if alerts else "incidents"
            name = field if index == 0 else f"more{index}: {field}"
            node = self.alert() if alerts else self.incident()
            roots.append(f"{name}{args} {{ {self.connection(node, field, True)} }}")
        if self.chance(0.1):
            roots.append("__typename")
        definitions = ", ".join(f"${n}: {t}" for n, (t, _) in self.variables.items())
        header = f"query Generated({definitions})" if definitions else "query Generated"
        query = f"{header} {{ {' '.join(roots)} }} {' '.join(self.fragments.values())}"
        variables = {name: value for name, (_, value) in self.variables.items()}
        return Document(query.strip(), variables, self.supported)


def documents(count: int, seed: int, cursors: dict[str, list[str]]) -> list[Document]:
    return [Generator(seed * 100_003 + index, cursors).document() for index in range(count)]
