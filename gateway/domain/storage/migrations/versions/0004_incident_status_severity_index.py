"""incidents: an index on (workspace_id, status, severity)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 13:00:00.000000

A dashboard's triage queue counts the open incidents of some severities (`totalCount` with
`filter: {status: [...], severity: [...]}`). No index held both columns, so SQLite scanned the
whole table for that COUNT (0.15 ms at 2,000 incidents, growing with the table); with this one
it reads the index alone (0.02 ms). Additive only.
"""
from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_ws_status_severity", "incidents", ["workspace_id", "status", "severity"]
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_ws_status_severity", table_name="incidents")
