"""experiment batch_sent_at and batch_requests: a batch request that may have made a batch

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("batch_requests", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiment", schema=None) as batch_op:
        batch_op.drop_column("batch_requests")
        batch_op.drop_column("batch_sent_at")
