"""Where the chat's rate limit counts in this process's memory (``LUMEN_RATE_LIMIT_STORAGE=memory://``).

The limits library's ``MemoryStorage`` drops expired counts in a sweep over every key it holds, armed
again 10 ms after each one while messages arrive: a hundred sweeps a second, each as long as the number
of sessions within the limit's window (a minute's sessions at the default limit). Under load that took a
tenth of the server's CPU (scripts/bench.py). Worse, its sweep empties a moving window's key but never
removes it, so every session ever counted stays in the sweep: the server's CPU per message grew with its
uptime. Expired counts are only memory (the moving windows read each entry's own time), so a sweep once a
second that also forgets empty keys counts exactly the same.
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """``MemoryStorage`` swept at most every ``sweep_seconds``. (Without a ``STORAGE_SCHEME`` of its own
    it does not replace ``memory://`` in the library's registry.)"""

    def __init__(self, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.sweep_seconds = sweep_seconds
        super().__init__(wrap_exceptions=True)
        # The library arms its first sweep at 10 ms: the first count arms ours instead.
        self.timer.cancel()
        self.timer.join()

    # The library arms its sweep through this name-mangled method on every count (limits 5):
    # tests/test_chat_rate_limit.py fails if a release stops calling it.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.sweep_seconds, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()

    def _MemoryStorage__expire_events(self) -> None:
        super()._MemoryStorage__expire_events()
        for key in [key for key, events in list(self.events.items()) if not events]:
            with self.locks[key]:
                if not self.events.get(key):
                    self.events.pop(key, None)
                    self.locks.pop(key, None)
