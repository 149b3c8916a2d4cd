"""What the dashboard counts: each message's understander, LLM tokens, reply time, outcome and
verification; the orders each conversation verified; indexes for counts over a period; the daily rollups
of days that are over.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as messages:
        messages.add_column(sa.Column("understander", sa.String(length=8), nullable=True))
        messages.add_column(sa.Column("tokens_in", sa.Integer(), nullable=False, server_default="0"))
        messages.add_column(sa.Column("tokens_out", sa.Integer(), nullable=False, server_default="0"))
        messages.add_column(sa.Column("reply_ms", sa.Integer(), nullable=True))
        messages.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        messages.add_column(sa.Column("verification", sa.String(length=8), nullable=True))
    # PostgreSQL: the index carries what the dashboard counts, so its queries never read the table.
    op.create_index(
        "ix_messages_received",
        "messages",
        ["received_at"],
        postgresql_include=[
            "channel",
            "conversation_id",
            "outcome",
            "understander",
            "verification",
            "reply_ms",
            "tokens_in",
            "tokens_out",
        ],
    )
    op.create_table(
        "conversation_orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("order_number", sa.String(length=40), nullable=False),
        sa.Column("email_digest", sa.String(length=64), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_orders_conversation_id", "conversation_orders", ["conversation_id"])
    op.create_index("ix_conversation_orders_number", "conversation_orders", ["order_number"])
    op.create_index("ix_conversation_orders_email", "conversation_orders", ["email_digest"])
    op.create_index("ix_tickets_created", "tickets", ["created_at"])
    op.create_index("ix_outbound_created", "outbound_messages", ["created_at"])
    op.create_table(
        "stats_rolled_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("timezone", "day", name="uq_stats_rolled_day"),
    )
    op.create_table(
        "stats_conversation_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
    )
    op.create_index("ix_stats_conversation_days_day", "stats_conversation_days", ["timezone", "day"])
    op.create_table(
        "stats_turn_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("understander", sa.String(length=8), nullable=True),
        sa.Column("verification", sa.String(length=8), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
    )
    op.create_index("ix_stats_turn_days_day", "stats_turn_days", ["timezone", "day"])
    op.create_table(
        "stats_reply_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reply_ms", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
    )
    op.create_index("ix_stats_reply_days_day", "stats_reply_days", ["timezone", "day"])


def downgrade() -> None:
    for table in ("stats_reply_days", "stats_turn_days", "stats_conversation_days", "stats_rolled_days"):
        op.drop_table(table)
    op.drop_index("ix_outbound_created", "outbound_messages")
    op.drop_index("ix_tickets_created", "tickets")
    op.drop_table("conversation_orders")
    op.drop_index("ix_messages_received", "messages")
    with op.batch_alter_table("messages") as messages:
        for column in ("verification", "outcome", "reply_ms", "tokens_out", "tokens_in", "understander"):
            messages.drop_column(column)
