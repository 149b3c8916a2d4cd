"""Lumen: an order-tracking assistant for online shops (the channel-neutral core)."""
