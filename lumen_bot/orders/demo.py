"""The demo shop's orders, so that Lumen can be tried before a shop imports its own."""

from __future__ import annotations

from importlib.resources import as_file, files

from sqlalchemy import Engine, select

from lumen_bot.orders.importer import ImportSummary, import_file
from lumen_bot.store.tables import OrderRow


def load_demo(engine: Engine) -> ImportSummary:
    """Import the demo orders; loading them again restores them and changes nothing else."""
    # as_file: the package may be installed as a zip, where the CSV has no path of its own.
    with as_file(files("lumen_bot.orders") / "demo_orders.csv") as path:
        return import_file(engine, path)


def is_empty(engine: Engine) -> bool:
    """Whether there are no orders yet."""
    with engine.connect() as connection:
        return connection.execute(select(OrderRow.id).limit(1)).first() is None
