"""Alembic's environment: migrations run on the connection make_engine hands over, never from a URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from lumen_bot.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=SQLModel.metadata,
    # SQLite alters a table by copying it; batch mode does that for every ALTER.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
