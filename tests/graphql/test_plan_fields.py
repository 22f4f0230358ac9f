"""What cached plans answer is derived from the schema, not listed: a field without a resolver
reads the same-named column of the table its type's `from_row` takes, converted by its GraphQL
type; a field with a resolver is planned by its entry in `RELATIONS`. `from_row` itself is
derived the same way (schema/rows.py). So a scalar field added to a type and its table is
answered by resolvers and plans with no other edit (docs/architecture.md, "How to add a scalar
field to Incident")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import orjson
import strawberry
from graphql import FieldNode, GraphQLObjectType, OperationDefinitionNode, parse
from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schema.build import build_schema
from schema.plan.compiler import Compiler
from schema.plan.fields import RELATIONS, Column, Fields
from schema.plan.selections import finish
from schema.rows import from_row
from schema.scalars import DATETIME
from schema.scalars import JSON as JSON_SCALAR


def test_every_field_of_every_row_type_is_planned() -> None:
    schema = build_schema()._schema
    fields = Fields(schema)
    row_types = [
        t for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType)
        and hasattr(t.extensions.get("strawberry-definition", None), "origin")
        and hasattr(t.extensions["strawberry-definition"].origin, "from_row")
    ]
    assert {t.name for t in row_types} >= {
        "Incident", "Alert", "TimelineEvent", "Note", "Report", "Workspace", "WebhookDelivery"
    }
    for object_type in row_types:
        columns = fields.model(object_type.name).__table__.columns
        for strawberry_field in object_type.extensions["strawberry-definition"].fields:
            name = fields.name_of(strawberry_field)
            if name not in object_type.fields:
                continue  # private
            kind = fields.kind(object_type.name, name)  # raises Unsupported when not planned
            if strawberry_field.base_resolver is None:
                assert isinstance(kind, Column), (object_type.name, name)
                assert kind.attribute in columns
            else:
                assert RELATIONS[(object_type.name, name)] is kind


# ---- a type and a table of the fixture's own, with a field added to both -----------------------


class Base(DeclarativeBase):
    pass


class GadgetRow(Base):
    """A table of this test only (its own metadata: the migrations never see it)."""

    __tablename__ = "gadgets"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The field being added: a column here and an attribute on the type, nothing else.
    escalation_level: Mapped[int] = mapped_column(Integer)


@strawberry.enum
class GadgetKind(Enum):
    SMALL = "small"
    LARGE = "large"


@strawberry.type
class Gadget:
    id: strawberry.ID
    name: str
    kind: GadgetKind
    seen_at: datetime
    labels: JSON_SCALAR
    escalation_level: int
    workspace_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: GadgetRow) -> Gadget:
        return from_row(cls, row)  # derived, as every row type's (schema/rows.py)


ROW = GadgetRow(
    id="gdg_1", workspace_id="ws_1", name="probe", kind="large",
    seen_at=datetime(2026, 1, 2, 3, 4, 5, 678_000), labels={"b": 1, "a": [True, None]},
    escalation_level=3,
)
# The same row as SQLite hands it to plans: SQLAlchemy's storage format, JSON as text.
RAW = {
    "id": "gdg_1", "workspace_id": "ws_1", "name": "probe", "kind": "large",
    "seen_at": "2026-01-02 03:04:05.678000", "labels": '{"b": 1, "a": [true, null]}',
    "escalation_level": 3,
}
QUERY = "{ gadget { escalationLevel name __typename kind seenAt labels id } }"


def test_a_field_added_to_a_type_and_its_table_is_planned_with_no_other_edit() -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def gadget(self) -> Gadget:
            return Gadget.from_row(ROW)

    schema = strawberry.Schema(
        query=Query, config=strawberry.schema.config.StrawberryConfig(
            scalar_map={datetime: DATETIME}
        ),
    )
    expected = schema.execute_sync(QUERY)
    assert expected.errors is None
    graphql_schema = schema._schema
    fields = Fields(graphql_schema)
    kind = fields.kind("Gadget", "escalationLevel")
    assert isinstance(kind, Column) and kind.attribute == "escalation_level"

    document = parse(QUERY)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    compiler = Compiler(graphql_schema, fields, document, operation, {})
    gadget = operation.selection_set.selections[0]
    assert isinstance(gadget, FieldNode)
    plan = compiler.object([gadget], "Gadget", full=True, in_list=False)
    finish(plan, plan.layout)
    assert plan.build is not None
    built = plan.build(tuple(RAW[name] for name in plan.layout), {})
    assert orjson.dumps({"gadget": built}) == orjson.dumps(expected.data)


def test_from_row_reads_each_field_from_its_column_and_names_a_field_without_one() -> None:
    gadget = Gadget.from_row(ROW)
    assert gadget.kind is GadgetKind.LARGE  # the stored value becomes the enum
    assert (gadget.escalation_level, gadget.workspace_id, gadget.labels) == (3, "ws_1", ROW.labels)

    @strawberry.type
    class Orphan:
        id: strawberry.ID
        colour: str  # no such column

    try:
        from_row(Orphan, ROW)
    except TypeError as exc:
        assert "Orphan.colour" in str(exc) and "gadgets" in str(exc)
    else:
        raise AssertionError("a field with no column and no value must fail")
    orphan = from_row(Orphan, ROW, colour="red")  # a value for it, given by its from_row
    assert (orphan.id, orphan.colour) == ("gdg_1", "red")

