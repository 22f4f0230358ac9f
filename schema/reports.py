"""GraphQL `Report`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.domain.storage import models
from schema.context import Info
from schema.enums import ReportKind, ReportStatus
from schema.node import Node
from schema.rows import from_row
from schema.scalars import JSON

if TYPE_CHECKING:
    from schema.workspaces import Workspace


@strawberry.type
class Report(Node):
    id: strawberry.ID
    kind: ReportKind
    status: ReportStatus
    period_start: datetime
    period_end: datetime
    content: JSON | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    workspace_id: strawberry.Private[str]
    row: strawberry.Private[models.Report]  # what `markdown` and `html` render

    @classmethod
    def from_row(cls, row: models.Report) -> Report:
        return from_row(cls, row, row=row)

    @strawberry.field
    async def workspace(
        self, info: Info
    ) -> Annotated[Workspace, strawberry.lazy("schema.workspaces")]:
        from schema.workspaces import Workspace

        row = await info.context.loaders.workspace.load(self.workspace_id)
        assert row is not None
        return Workspace.from_row(row)

    @strawberry.field(description="The report as Markdown (a short note until it is READY).")
    def markdown(self) -> str:
        from gateway.domain.reports.render import render_markdown

        return render_markdown(self.row)

    @strawberry.field(
        description="The report as a self-contained HTML page with an inline SVG chart of "
        "incidents per day by severity (no JavaScript, no external assets)."
    )
    def html(self) -> str:
        from gateway.domain.reports.render import render_html

        return render_html(self.row)
