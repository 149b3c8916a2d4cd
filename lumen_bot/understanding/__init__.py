"""Turning a shopper's words into a typed :class:`Understanding`."""
