"""The schema of Lumen 0.1, as create_all made it before migrations existed.

A database from that time has its tables but no alembic_version: it is stamped with this revision and
upgraded from here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: the tables exist."""


def downgrade() -> None:
    """Nothing to undo."""
