"""Channel adapters (one per medium) and the composition root (``app.py``, ``cli.py``)."""
