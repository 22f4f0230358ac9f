"""report job leases: claimed_by, lease_expires_at and attempts on `reports`

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:00:00.000000

Several gateway processes share the report queue: a worker claims a job with a lease that it
renews while it works, instead of every process re-queueing `running` jobs at start-up. Additive
only: three columns, two of them nullable, `attempts` defaulting to 0.
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("claimed_by")
