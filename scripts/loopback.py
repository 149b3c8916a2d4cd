"""The real app served by uvicorn on a loopback port in a background thread, for the scripts that drive it
over HTTP (``bench_dashboard.py``, ``screenshot_dashboard.py``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


@contextlib.contextmanager
def serve(app: FastAPI, start_seconds: float = 30) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    # uvicorn installs no signal handlers off the main thread: the script's Ctrl-C stays its own.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name="lumen-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start: see its log above")
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
