"""The demo shop's orders, so that Lumen can be tried before a shop imports its own."""

from __future__ import annotations

from importlib.resources import files

from lumen_bot.domain.order_file import parse_orders
from lumen_bot.domain.orders import Order

_FILE = "demo_orders.csv"


def demo_orders() -> list[Order]:
    """The demo orders, as shipped with Lumen (README, "Demo orders")."""
    return parse_orders(files(__package__).joinpath(_FILE).read_bytes(), name=_FILE)
