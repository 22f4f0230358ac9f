"""GraphQL `Note`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.domain.storage import models
from schema.context import Info
from schema.node import Node

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
        return cls(
            id=strawberry.ID(row.id),
            body=row.body,
            author=row.author,
            created_at=row.created_at,
            workspace_id=row.workspace_id,
            incident_id=row.incident_id,
        )

    @strawberry.field
    async def incident(
        self, info: Info
    ) -> Annotated[Incident, strawberry.lazy("schema.incidents")]:
        from schema.incidents import Incident

        row = await info.context.loaders.incident.load((self.workspace_id, self.incident_id))
        assert row is not None
        return Incident.from_row(row)
