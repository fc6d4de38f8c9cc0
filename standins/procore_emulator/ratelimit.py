"""Per-client rate limits: an hourly window and a short spike window, both counted on every request.

Procore counts failed requests too, so a client that retries blindly burns its budget; the
emulator does the same. The spike window rolls: a request counts for `spike_window_seconds` after
it was made. The hourly window is fixed and starts at a client's first request in it. A request
refused with 429 is not counted (so Retry-After is a promise the emulator keeps).
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any

LIMIT_MESSAGE = "You have surpassed the max number of requests for an hour. Please wait until your limit resets."


@dataclass
class Limits:
    hourly_limit: int = 100_000
    hourly_window_seconds: float = 3600
    spike_limit: int = 1_000
    spike_window_seconds: float = 10

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Limits | None = None) -> Limits:
        """Merge `data` into `base` (a partial update); every value must be a positive number."""
        merged = asdict(base or cls())
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown limit {key!r}; known: {sorted(known)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{key} must be a positive number")
            merged[key] = value
        merged["hourly_limit"] = int(merged["hourly_limit"])
        merged["spike_limit"] = int(merged["spike_limit"])
        return cls(**merged)


@dataclass
class _Window:
    start: float
    count: int = 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """Counts requests per client key and decides whether each one is allowed."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[_Window, deque[float]]] = {}

    def configure(self, limits: Limits) -> None:
        """New limits start with fresh counters, so a test sees exactly the budget it set."""
        with self._lock:
            self.limits = limits
            self._windows.clear()

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        limits = self.limits
        span = limits.spike_window_seconds
        with self._lock:
            hour, spike = self._windows.get(key) or (_Window(now), deque())
            if now >= hour.start + limits.hourly_window_seconds:
                hour = _Window(now)
            while spike and spike[0] + span <= now:  # expired from the rolling window
                spike.popleft()
            allowed = hour.count < limits.hourly_limit and len(spike) < limits.spike_limit
            if allowed:
                hour.count += 1
                spike.append(now)
            self._windows[key] = (hour, spike)
            hour_left = limits.hourly_limit - hour.count
            spike_left = limits.spike_limit - len(spike)
            oldest = spike[0] if spike else now
        hour_reset = hour.start + limits.hourly_window_seconds
        spike_reset = oldest + span  # when the oldest counted request stops counting
        if not allowed:  # report the window that refused (the later one when both are full)
            full = [(reset, limit) for left, reset, limit in ((hour_left, hour_reset, limits.hourly_limit),
                                                              (spike_left, spike_reset, limits.spike_limit))
                    if left <= 0]
            reset, limit = max(full)
            left = 0
        elif hour_left <= spike_left:  # report the window that binds first (the hourly one on a tie)
            limit, left, reset = limits.hourly_limit, hour_left, hour_reset
        else:
            limit, left, reset = limits.spike_limit, spike_left, spike_reset
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(left, 0)),
            "X-Rate-Limit-Reset": str(math.ceil(reset)),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return Decision(allowed, headers)
