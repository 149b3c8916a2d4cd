"""Schema migrations (Alembic). :func:`lumen_bot.store.database.make_engine` applies them at start-up."""
