"""task expect: the agent a delegation task's request should go to

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiment_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expect", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiment_task", schema=None) as batch_op:
        batch_op.drop_column("expect")
