"""Proactive shipping updates: subscriptions and the milestones told to each.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "update_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("order_number", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("shop_address", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("unsubscribe_token", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_update_subscriptions_order", "update_subscriptions", ["order_number", "status"])
    op.create_index("ix_update_subscriptions_conversation", "update_subscriptions", ["conversation_id"])
    op.create_table(
        "update_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscription_id", sa.Integer(), sa.ForeignKey("update_subscriptions.id"), nullable=False),
        sa.Column("shipment_key", sa.String(length=120), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("outbound_id", sa.Integer(), sa.ForeignKey("outbound_messages.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subscription_id", "shipment_key", "event", name="uq_update_notice"),
    )
    op.create_index("ix_update_notices_subscription_id", "update_notices", ["subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_update_notices_subscription_id", table_name="update_notices")
    op.drop_table("update_notices")
    op.drop_index("ix_update_subscriptions_conversation", table_name="update_subscriptions")
    op.drop_index("ix_update_subscriptions_order", table_name="update_subscriptions")
    op.drop_table("update_subscriptions")
