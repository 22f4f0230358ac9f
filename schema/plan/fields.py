"""What plans know of each object type, derived from the schema rather than restated.

- A field with no resolver whose Python name is a column of the type's table (the model its
  `from_row` takes) reads that column; the converter comes from the field's GraphQL type
  (`values.converter`). Adding a column to the model and the same-named field to the type is
  all it takes for plans to answer it.
- A field with a resolver is planned by its entry in `RELATIONS`: a reference to another
  object, a nested list (a `Listing` of the domain, the same declaration its resolver's domain
  function builds its SQL from), the child workspaces, or a value computed in Python from the
  row by the same functions the resolver calls (`schema/plan/computed.py`).
- Root fields are in `ROOTS`.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from sqlalchemy import JSON

from gateway.domain import ids
from gateway.domain.incidents.alerts import ALERTS
from gateway.domain.incidents.incidents import INCIDENTS, NOTES
from gateway.domain.incidents.timeline import TIMELINE
from gateway.domain.ingest.deliveries import DELIVERIES
from gateway.domain.listing import Listing
from gateway.domain.reports.service import REPORTS
from gateway.domain.storage.models import Alert, Incident, Note, TimelineEvent, WebhookDelivery
from gateway.domain.tenancy.workspaces import WORKSPACES
from schema.plan import computed
from schema.plan.values import Unsupported, converter

BOTH_WAYS = ("first", "after", "last", "before")


@dataclass(frozen=True)
class Column:
    """A field read from the column `attribute`, converted as its scalar serializes."""

    attribute: str
    convert: Callable[[Any], Any]


@dataclass(frozen=True)
class Ref:
    """An object named by the id in `attribute` of the row: a Workspace the caller may see
    (else null), or a row of `type_name` in the row's own workspace."""

    attribute: str
    type_name: str


@dataclass(frozen=True)
class Children:
    """A connection of `listing` rows below each row: the child's `parent` column holds the
    row's id (its workspace id for a Workspace). `total`: the row's column holding totalCount
    (when the list is not filtered; a filtered one is counted), COUNT for a grouped count, or
    None when totalCount is not a field."""

    listing: Listing
    node_type: str
    parent: Any
    arguments: tuple[str, ...]
    total: str | None = None


COUNT = "count()"


@dataclass(frozen=True)
class ChildWorkspaces:
    """`Workspace.children`: the workspaces below, those the caller may see, oldest first."""


@dataclass(frozen=True)
class Computed:
    """A value computed in Python once per page: `compute(run, rows, arguments, in_list)`
    returns one Python value per row (an object of the field's type), completed against the
    selection as graphql-core would. `needs`: the columns it reads (None: the whole row)."""

    compute: Callable[..., Any]
    needs: tuple[str, ...] | None = None


Kind = Column | Ref | Children | ChildWorkspaces | Computed

RELATIONS: dict[tuple[str, str], Kind] = {
    ("Incident", "workspace"): Ref("workspace_id", "Workspace"),
    ("Incident", "alerts"): Children(
        ALERTS, "Alert", Alert.incident_id, ("filter", *BOTH_WAYS), "alert_count"
    ),
    ("Incident", "notes"): Children(NOTES, "Note", Note.incident_id, BOTH_WAYS, COUNT),
    ("Incident", "timeline"): Children(
        TIMELINE, "TimelineEvent", TimelineEvent.incident_id, BOTH_WAYS, COUNT
    ),
    ("Incident", "sla"): Computed(computed.incident_sla, computed.SLA_COLUMNS),
    ("Alert", "incident"): Ref("incident_id", "Incident"),
    ("Alert", "workspace"): Ref("workspace_id", "Workspace"),
    ("Alert", "summary"): Computed(computed.alert_summary, computed.SUMMARY_COLUMNS),
    ("TimelineEvent", "incident"): Ref("incident_id", "Incident"),
    ("Note", "incident"): Ref("incident_id", "Incident"),
    ("Report", "workspace"): Ref("workspace_id", "Workspace"),
    ("Report", "markdown"): Computed(computed.report_markdown),
    ("Report", "html"): Computed(computed.report_html),
    ("Workspace", "parent"): Ref("parent_id", "Workspace"),
    ("Workspace", "children"): ChildWorkspaces(),
    ("Workspace", "incidents"): Children(
        INCIDENTS, "Incident", Incident.workspace_id, ("filter", "orderBy", *BOTH_WAYS), COUNT,
    ),
    ("Workspace", "alerts"): Children(
        ALERTS, "Alert", Alert.workspace_id, ("filter", *BOTH_WAYS), COUNT
    ),
    ("Workspace", "webhookDeliveries"): Children(
        DELIVERIES, "WebhookDelivery", WebhookDelivery.workspace_id, BOTH_WAYS, COUNT
    ),
    ("Workspace", "slaPolicy"): Computed(computed.workspace_sla_policy, ("sla_policy",)),
    ("Workspace", "slaSummary"): Computed(computed.workspace_sla_summary, ("id",)),
}


@dataclass(frozen=True)
class RootList:
    """A root connection over `listing` in the acting workspace (or, `permitted`, over the
    workspaces the key may see)."""

    listing: Listing
    node_type: str
    arguments: tuple[str, ...]
    permitted: bool = False


@dataclass(frozen=True)
class RootById:
    """`incident(id:)`, `alert(id:)`, `report(id:)`: null unless the id has `prefix` and names
    a row of the acting workspace."""

    type_name: str
    prefix: str


@dataclass(frozen=True)
class RootNode:
    """`node(id:)` (`many` False) and `nodes(ids:)`."""

    many: bool


@dataclass(frozen=True)
class RootWorkspace:
    """`workspace(id:)`: by id or slug among the permitted ones; the acting one without id."""


@dataclass(frozen=True)
class RootValue:
    """A root field computed from the request alone (`viewer`, `rateLimit`)."""

    compute: Callable[[Any], Any]


Root = RootList | RootById | RootNode | RootWorkspace | RootValue

ROOTS: dict[str, Root] = {
    "incidents": RootList(
        INCIDENTS, "Incident", ("filter", "first", "after", "orderBy", "last", "before")
    ),
    "alerts": RootList(ALERTS, "Alert", ("filter", "first", "after", "last", "before")),
    "reports": RootList(REPORTS, "Report", BOTH_WAYS),
    "workspaces": RootList(WORKSPACES, "Workspace", BOTH_WAYS, permitted=True),
    "incident": RootById("Incident", ids.INCIDENT),
    "alert": RootById("Alert", ids.ALERT),
    "report": RootById("Report", ids.REPORT),
    "node": RootNode(many=False),
    "nodes": RootNode(many=True),
    "workspace": RootWorkspace(),
    "rateLimit": RootValue(computed.rate_limit),
    "viewer": RootValue(computed.viewer),
}

# What `node(id:)` reads for each id prefix (other prefixes are null): rows, and the calling
# key (`VIEWER`: a value, not a row).
VIEWER = "Viewer"
NODE_TYPES = {
    ids.WORKSPACE: "Workspace",
    ids.INCIDENT: "Incident",
    ids.ALERT: "Alert",
    ids.EVENT: "TimelineEvent",
    ids.NOTE: "Note",
    ids.REPORT: "Report",
    ids.DELIVERY: "WebhookDelivery",
    ids.API_KEY: VIEWER,
}


class Fields:
    """The field kinds of a schema's object types, derived on first use."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self._names = schema._strawberry_schema.config.name_converter  # type: ignore[attr-defined]
        self._kinds: dict[str, dict[str, Kind]] = {}
        self._models: dict[str, Any] = {}

    def name_of(self, strawberry_field: Any) -> str:
        """A Strawberry field's GraphQL name."""
        return str(self._names.from_field(strawberry_field))

    def model(self, type_name: str) -> Any:
        """The table behind an object type: what its `from_row` takes."""
        found = self._models.get(type_name)
        if found is None:
            found = self._models[type_name] = self._model(type_name)
        return found

    def _model(self, type_name: str) -> Any:
        object_type = self.schema.get_type(type_name)
        assert isinstance(object_type, GraphQLObjectType)
        from_row = getattr(object_type.extensions["strawberry-definition"].origin, "from_row", None)
        model = typing.get_type_hints(from_row).get("row") if from_row is not None else None
        if model is None:
            raise Unsupported("unsupported_field", f"{type_name} is not a row")
        return model

    def kind(self, type_name: str, field_name: str) -> Kind:
        """How plans answer `type_name.field_name` (`Unsupported` when they do not)."""
        kinds = self._kinds.get(type_name)
        if kinds is None:
            kinds = self._kinds[type_name] = self._derive(type_name)
        found = kinds.get(field_name)
        if found is None:
            raise Unsupported("unsupported_field", f"{type_name}.{field_name}")
        return found

    def _derive(self, type_name: str) -> dict[str, Kind]:
        object_type = self.schema.get_type(type_name)
        assert isinstance(object_type, GraphQLObjectType)
        columns = self.model(type_name).__table__.columns
        kinds: dict[str, Kind] = {}
        for strawberry_field in object_type.extensions["strawberry-definition"].fields:
            name = self.name_of(strawberry_field)
            if name not in object_type.fields:
                continue  # private
            if (type_name, name) in RELATIONS:
                kinds[name] = RELATIONS[(type_name, name)]
            elif strawberry_field.base_resolver is None and strawberry_field.python_name in columns:
                column_type = columns[strawberry_field.python_name].type
                convert = converter(object_type.fields[name].type, isinstance(column_type, JSON))
                if convert is not None:
                    kinds[name] = Column(strawberry_field.python_name, convert)
        return kinds
