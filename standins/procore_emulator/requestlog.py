"""In-memory log of every /rest and /oauth request, so tests and the benchmark can count calls."""
from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 200_000


class RequestLog:
    """A bounded list of request records; `seq` keeps counting across clears."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def start(self, method: str, path: str, query: str, started: float) -> dict[str, Any]:
        """Record a request as it arrives; the middleware fills in status and outcome when it ends."""
        entry: dict[str, Any] = {"seq": next(self._seq), "time": round(started, 6), "method": method, "path": path,
                                 "query": query, "status": None, "duration_ms": None, "client_id": None, "fault": None}
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, method: str | None = None, path_contains: str | None = None,
                since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._entries)
        return [dict(e) for e in items
                if e["seq"] > since and (method is None or e["method"] == method.upper())
                and (path_contains is None or path_contains in e["path"])]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count
