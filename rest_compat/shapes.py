"""REST resource shapes: for every snake_case key, the GraphQL value it is read from and how it is
converted. One declaration gives both the reshaping (GraphQL node -> REST object) and the JSON
Schema of the OpenAPI document, so the two cannot drift.

Conventions (DESIGN.md): enum values lower-case, timeline types dotted (`STATUS_CHANGED` ->
`status.changed`), timestamps as the schema serializes them (ISO 8601 UTC ending in `Z`), every
resource carries `id` and `workspace_id`, alerts and notes carry `incident_id`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.domain.storage import models
from gateway.web.operations import ShapeField


def graphql_enum_name(value: str) -> str:
    """`status.changed` -> `STATUS_CHANGED`, `incident_summary` -> `INCIDENT_SUMMARY`."""
    return value.upper().replace(".", "_")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class EnumType:
    """A GraphQL enum and its REST spelling (the domain values of
    gateway/domain/storage/models.py)."""

    graphql_type: str
    values: tuple[str, ...]
    to_rest: dict[str, str] = field(init=False, compare=False, repr=False)
    to_graphql: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "to_rest", {graphql_enum_name(v): v for v in self.values})
        object.__setattr__(self, "to_graphql", {v: graphql_enum_name(v) for v in self.values})


INCIDENT_STATUS = EnumType("IncidentStatus", models.INCIDENT_STATUSES)
SEVERITY = EnumType("Severity", models.SEVERITIES)
ALERT_STATUS = EnumType("AlertStatus", models.ALERT_STATUSES)
TIER = EnumType("Tier", models.TIERS)
TIMELINE_EVENT_TYPE = EnumType("TimelineEventType", models.EVENT_TYPES)
REPORT_KIND = EnumType("ReportKind", models.REPORT_KINDS)
REPORT_STATUS = EnumType("ReportStatus", models.REPORT_STATUSES)
INGEST_OUTCOME = EnumType("IngestOutcome", ("created", "deduplicated", "grouped", "resolved"))
ENUMS = (
    INCIDENT_STATUS, SEVERITY, ALERT_STATUS, TIER, TIMELINE_EVENT_TYPE, REPORT_KIND, REPORT_STATUS,
    INGEST_OUTCOME,
)


def with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.1) of `schema` or null."""
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
TIMESTAMP: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 UTC, e.g. 2026-11-27T21:52:32.123Z",
}
OBJECT: dict[str, Any] = {"type": "object"}


def enum_schema(enum: EnumType) -> dict[str, Any]:
    return {"type": "string", "enum": list(enum.values)}


@dataclass(frozen=True)
class Field:
    """One key of a REST object. `source` is the path in the GraphQL node (None: a constant null,
    for values the schema does not have yet)."""

    key: str
    source: tuple[str, ...] | None
    schema: dict[str, Any]
    nullable: bool = False
    convert: Callable[[Any], Any] | None = None
    description: str | None = None
    # An object value, reshaped by its own shape (e.g. an alert's `summary`).
    nested: Shape | None = None

    def json_schema(self) -> dict[str, Any]:
        schema = with_null(self.schema) if self.nullable else dict(self.schema)
        if self.description:
            schema["description"] = self.description
        return schema


def _path(key: str, source: str | None) -> tuple[str, ...]:
    return tuple((source or camel(key)).split("."))


def text(key: str, source: str | None = None, *, nullable: bool = False) -> Field:
    return Field(key, _path(key, source), STRING, nullable)


def integer(key: str, source: str | None = None) -> Field:
    return Field(key, _path(key, source), INTEGER)


def timestamp(key: str, source: str | None = None, *, nullable: bool = False) -> Field:
    return Field(key, _path(key, source), TIMESTAMP, nullable)


def json_object(key: str, source: str | None = None, *, nullable: bool = False) -> Field:
    return Field(key, _path(key, source), OBJECT, nullable)


def enum(key: str, enum_type: EnumType, source: str | None = None) -> Field:
    convert = enum_type.to_rest.__getitem__
    return Field(key, _path(key, source), enum_schema(enum_type), convert=convert)


def ref(key: str, source: str, *, nullable: bool = False, description: str | None = None) -> Field:
    """The id of a related object, e.g. `workspace_id` from `workspace { id }`."""
    return Field(key, _path(key, source), STRING, nullable, description=description)


def nested(key: str, shape: Shape, source: str | None = None, *, nullable: bool = False) -> Field:
    return Field(
        key, _path(key, source), shape.json_schema(), nullable, convert=shape.reshape,
        description=shape.description or None, nested=shape,
    )


def pending(key: str, schema: dict[str, Any], description: str) -> Field:
    """A key whose value the schema does not provide yet: always null until it does."""
    return Field(key, None, schema, nullable=True, description=description)


@dataclass(frozen=True)
class Shape:
    """A REST resource. `fragment` names the GraphQL fragment (operations/fragments.graphql) that
    selects everything the shape reads; start-up checks that it does."""

    name: str
    fragment: str
    fields: tuple[Field, ...]
    description: str = ""
    _reshape: Callable[[dict[str, Any]], dict[str, Any]] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reshape", _compiled_reshape(self.fields_from_graphql))

    @property
    def fields_from_graphql(self) -> tuple[ShapeField, ...]:
        """(key, GraphQL path, converter) per key: what `reshape` does, and what a cached plan
        builds directly for a list route (`gateway.web.operations.NodeShape`)."""
        return tuple((f.key, f.source, f.convert) for f in self.fields)

    def extend(self, name: str, fragment: str, *more: Field, description: str = "") -> Shape:
        return Shape(name, fragment, self.fields + more, description or self.description)

    def reshape(self, node: dict[str, Any]) -> dict[str, Any]:
        """The REST object of a GraphQL node: each key read along its path (null as soon as a
        step is null) and converted when not null."""
        return self._reshape(node)

    def source_paths(self) -> list[tuple[str, ...]]:
        paths: list[tuple[str, ...]] = []
        for f in self.fields:
            if f.source is None:
                continue
            paths.append(f.source)
            if f.nested is not None:
                paths.extend((*f.source, *sub) for sub in f.nested.source_paths())
        return paths

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.key: f.json_schema() for f in self.fields},
            "required": [f.key for f in self.fields],
            "additionalProperties": False,
        }
        if self.description:
            schema["description"] = self.description
        return schema


def _compiled_reshape(
    plan: tuple[tuple[str, tuple[str, ...] | None, Callable[[Any], Any] | None], ...],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`Shape.reshape` generated as one dict display: a list route reshapes every row, and a
    loop over the fields costs about three times as much. Keys and paths are this module's own
    constants, never request data."""
    namespace: dict[str, Any] = {}
    items: list[str] = []
    for number, (key, path, convert) in enumerate(plan):
        if path is None:
            value = "None"
        elif len(path) == 1 and convert is None:
            value = f"node[{path[0]!r}]"
        else:
            steps = [f"(v := node[{path[0]!r}]) is None"]
            steps += [f"(v := v[{part!r}]) is None" for part in path[1:]]
            result = "v"
            if convert is not None:
                namespace[f"convert{number}"] = convert
                result = f"convert{number}(v)"
            value = f"(None if {' or '.join(steps)} else {result})"
        items.append(f"{key!r}: {value}")
    source = "def reshape(node):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<rest_compat shape>", "exec"), namespace)
    reshape: Callable[[dict[str, Any]], dict[str, Any]] = namespace["reshape"]
    return reshape


WORKSPACE = Shape(
    "Workspace",
    "RestWorkspace",
    (
        text("id"),
        ref("workspace_id", "id", description="The workspace itself (every resource has one)."),
        text("slug"),
        text("name"),
        enum("tier", TIER),
        ref(
            "parent_id", "parent.id", nullable=True,
            description="The MSSP workspace that manages this one, if the caller may see it.",
        ),
        timestamp("created_at"),
        pending(
            "sla_summary", OBJECT,
            "Null in lists: GET /v1/workspaces/{id} carries the SLA summary.",
        ),
    ),
    "A workspace (tenant).",
)

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def snake_keys(value: Any) -> Any:
    """A GraphQL JSON-ish object in REST spelling: snake_case keys, lower-case severities."""
    if isinstance(value, dict):
        return {
            _WORD_START.sub("_", key).lower(): (
                item.lower() if key == "severity" and isinstance(item, str) else snake_keys(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


WORKSPACE_DETAIL = Shape(
    "WorkspaceDetail",
    "RestWorkspaceDetail",
    (
        *(f for f in WORKSPACE.fields if f.key != "sla_summary"),
        Field(
            "sla_summary", ("slaSummary",), OBJECT, convert=snake_keys,
            description="SLA attainment over the last 30 days: incidents total and open, MTTA "
            "and MTTR (count, mean, p50, p90 seconds), breaches, compliance, and the same per "
            "severity.",
        ),
    ),
    "A workspace (tenant), with its SLA summary.",
)

INCIDENT = Shape(
    "Incident",
    "RestIncident",
    (
        text("id"),
        ref("workspace_id", "workspace.id"),
        integer("number"),
        text("title"),
        enum("status", INCIDENT_STATUS),
        enum("severity", SEVERITY),
        text("assignee", nullable=True),
        integer("alert_count"),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("acknowledged_at", nullable=True),
        timestamp("resolved_at", nullable=True),
    ),
    "An incident.",
)

ALERT = Shape(
    "Alert",
    "RestAlert",
    (
        text("id"),
        ref("workspace_id", "workspace.id"),
        ref("incident_id", "incident.id", nullable=True),
        text("title"),
        text("description", nullable=True),
        enum("severity", SEVERITY),
        enum("status", ALERT_STATUS),
        text("source"),
        text("fingerprint"),
        json_object("labels"),
        json_object("raw_payload"),
        integer("occurrences"),
        timestamp("first_seen_at"),
        timestamp("last_seen_at"),
        timestamp("received_at"),
        timestamp("resolved_at", nullable=True),
    ),
    "An alert, as listed.",
)

ALERT_SUMMARY = Shape(
    "AlertSummary",
    "",
    (text("text"), text("generated_by"), timestamp("generated_at")),
    "What fired, where, how bad, how often, which incident, what to check first; "
    "`generated_by` is `builtin` or `model:<name>`.",
)
ALERT_DETAIL = ALERT.extend(
    "AlertDetail",
    "RestAlertDetail",
    nested("summary", ALERT_SUMMARY),
    description="An alert, with its summary.",
)

INGESTED_ALERT = Shape(
    "IngestedAlert",
    "RestIngestedAlert",
    (
        *(replace(f, source=("alert", *f.source)) if f.source else f for f in ALERT.fields),
        enum("outcome", INGEST_OUTCOME),
    ),
    "The alert a POST /v1/alerts created or updated, with what happened to it (`outcome`).",
)

TIMELINE_EVENT = Shape(
    "TimelineEvent",
    "RestTimelineEvent",
    (
        text("id"),
        ref("workspace_id", "incident.workspace.id"),
        ref("incident_id", "incident.id"),
        enum("type", TIMELINE_EVENT_TYPE),
        timestamp("at"),
        text("actor"),
        text("message"),
        json_object("data"),
    ),
    "An event of an incident's timeline.",
)

NOTE = Shape(
    "Note",
    "RestNote",
    (
        text("id"),
        ref("workspace_id", "incident.workspace.id"),
        ref("incident_id", "incident.id"),
        text("body"),
        text("author"),
        timestamp("created_at"),
    ),
    "A note on an incident.",
)

REPORT = Shape(
    "Report",
    "RestReport",
    (
        text("id"),
        ref("workspace_id", "workspace.id"),
        enum("kind", REPORT_KIND),
        enum("status", REPORT_STATUS),
        timestamp("period_start"),
        timestamp("period_end"),
        json_object("content", nullable=True),
        text("error", nullable=True),
        timestamp("created_at"),
        timestamp("started_at", nullable=True),
        timestamp("completed_at", nullable=True),
    ),
    "A report; `content` is set once `status` is `ready`.",
)
