"""The inbox keeps mail a machine sent, never answered, with the reason it was not.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as inbox:
        inbox.add_column(sa.Column("skip_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as inbox:
        inbox.drop_column("skip_reason")
