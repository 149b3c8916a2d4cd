"""Channel adapters (one per medium), the composition root (``app.py``, ``understanders.py``) and the
console script (``cli.py``)."""
