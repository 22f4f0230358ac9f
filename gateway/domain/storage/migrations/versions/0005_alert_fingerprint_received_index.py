"""alerts: an index on (workspace_id, fingerprint, received_at, id)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 21:00:00.000000

Ingestion asks for the newest alert with a fingerprint (the firing one an alert deduplicates
into; the latest one a repeated resolution refers to). With `ORDER BY received_at DESC, id DESC`
and no statistics on `alerts` (a new database, or one analyzed while it was small), SQLite walked
`ix_alerts_ws_received` backwards through every alert of the workspace to avoid a sort: each
webhook group grew slower as the workspace's alerts grew (T6 fell from ~700 to ~460 alerts/s
over 10,000 alerts). This index answers the equality on both columns in the order asked, so the
planner takes it whatever it knows. Additive only.
"""
from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_alerts_ws_fingerprint_received", "alerts",
        ["workspace_id", "fingerprint", "received_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_ws_fingerprint_received", table_name="alerts")
