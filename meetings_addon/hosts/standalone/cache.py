"""The standalone host's Cache port: process memory with expiry (one server process)."""

from __future__ import annotations

import threading
import time
from typing import Any


class MemoryCache:
    def __init__(self, max_entries: int = 5000):
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: str) -> Any:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            expires, value = found
            if expires and expires < time.monotonic():
                del self._data[key]
                return None
            return value

    def set(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:
                now = time.monotonic()
                for stale in [k for k, (expires, _) in self._data.items() if expires and expires < now]:
                    del self._data[stale]
                if len(self._data) >= self.max_entries:  # still full: drop the oldest half
                    for old in list(self._data)[: self.max_entries // 2]:
                        del self._data[old]
            self._data[key] = (time.monotonic() + ttl if ttl else 0.0, value)

    def incr(self, key: str) -> int:
        with self._lock:
            _, value = self._data.get(key, (0.0, 0))
            self._data[key] = (0.0, int(value) + 1)
            return int(value) + 1
