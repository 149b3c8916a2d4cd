"""Inbound provider messages are stored before they are acknowledged.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reply_via", sa.String(length=32), nullable=False),
        sa.Column("reply_sender", sa.String(length=320), nullable=False),
        sa.Column("reply_recipient", sa.String(length=320), nullable=False),
        sa.Column("reply_form", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "provider_message_id", name="uq_inbox_message"),
    )
    op.create_index("ix_inbox_due", "inbox", ["status", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_inbox_due", table_name="inbox")
    op.drop_table("inbox")
