"""GraphQL `Note`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.domain.storage import models
from schema.context import Info
from schema.node import Node
from schema.rows import from_row

if TYPE_CHECKING:
    from schema.incidents import Incident


@strawberry.type
class Note(Node):
    id: strawberry.ID
    body: str
    author: str
    created_at: datetime
    workspace_id: strawberry.Private[str]
    incident_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.Note) -> Note:
        return from_row(cls, row)

    @strawberry.field
    async def incident(
        self, info: Info
    ) -> Annotated[Incident, strawberry.lazy("schema.incidents")]:
        from schema.incidents import Incident

        row = await info.context.loaders.incident.load((self.workspace_id, self.incident_id))
        assert row is not None
        return Incident.from_row(row)
