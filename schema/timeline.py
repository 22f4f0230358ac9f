"""GraphQL `TimelineEvent`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.domain.storage import models
from schema.context import Info
from schema.enums import TimelineEventType
from schema.node import Node
from schema.rows import from_row
from schema.scalars import JSON

if TYPE_CHECKING:
    from schema.incidents import Incident


@strawberry.type
class TimelineEvent(Node):
    id: strawberry.ID
    type: TimelineEventType
    at: datetime
    actor: str
    message: str
    data: JSON
    workspace_id: strawberry.Private[str]
    incident_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.TimelineEvent) -> TimelineEvent:
        return from_row(cls, row)

    @strawberry.field
    async def incident(
        self, info: Info
    ) -> Annotated[Incident, strawberry.lazy("schema.incidents")]:
        from schema.incidents import Incident

        row = await info.context.loaders.incident.load((self.workspace_id, self.incident_id))
        assert row is not None
        return Incident.from_row(row)
