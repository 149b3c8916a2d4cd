"""Lumen's message catalogs (gettext ``.po`` per language, compiled into the wheel) and the voices that
say replies with them."""
