"""ingestion: idempotency records, the webhook delivery log, per-workspace signing and
correlation settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 22:03:40.270639

Additive only: two new tables and two nullable columns on `workspaces`.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("workspace_id", String(length=40), nullable=False),
        sa.Column("key", String(length=255), nullable=False),
        sa.Column("request_hash", String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("workspace_id", "key"),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idempotency_ws_created", ["workspace_id", "created_at"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", String(length=40), nullable=False),
        sa.Column("workspace_id", String(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("request_id", String(length=128), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("format", String(length=16), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("incident_ids", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("error", String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_ws_received",
            ["workspace_id", "received_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("webhook_signing_secret", String(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("correlation_labels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("correlation_labels")
        batch_op.drop_column("webhook_signing_secret")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_ws_received")
    op.drop_table("webhook_deliveries")

    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_ws_created")
    op.drop_table("idempotency_records")
