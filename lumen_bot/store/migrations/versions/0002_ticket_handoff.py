"""Tickets carry the contact, the transcript and their delivery to the team's sinks.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as tickets:
        tickets.add_column(sa.Column("contact", sa.String(length=320), nullable=True))
        tickets.add_column(sa.Column("transcript", sa.Text(), nullable=False, server_default="[]"))
        tickets.add_column(sa.Column("requests", sa.Integer(), nullable=False, server_default="1"))
        tickets.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        tickets.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        tickets.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        tickets.create_index("ix_tickets_undispatched", ["dispatched_at"])
    # Tickets of 0.1 were never sent anywhere; they count as dispatched so an upgrade sends no backlog.
    op.execute("UPDATE tickets SET updated_at = created_at, dispatched_at = created_at")
    with op.batch_alter_table("outbound_messages") as outbound:
        outbound.add_column(sa.Column("ticket_reference", sa.String(length=16), nullable=True))
        outbound.create_index("ix_outbound_messages_ticket_reference", ["ticket_reference"])


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages") as outbound:
        outbound.drop_index("ix_outbound_messages_ticket_reference")
        outbound.drop_column("ticket_reference")
    with op.batch_alter_table("tickets") as tickets:
        tickets.drop_index("ix_tickets_undispatched")
        for column in ("dispatched_at", "closed_at", "updated_at", "requests", "transcript", "contact"):
            tickets.drop_column(column)
