"""Per-client rate limits: an hourly window and a short spike window, both counted on every request.

Procore counts failed requests too, so a client that retries blindly burns its budget; the
emulator does the same. Windows are fixed and start at a client's first request in them.
"""
from __future__ import annotations

import math
import threading
import time
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
    def from_dict(cls, data: dict[str, Any], base: "Limits | None" = None) -> "Limits":
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
        self._windows: dict[str, tuple[_Window, _Window]] = {}

    def configure(self, limits: Limits) -> None:
        """New limits start with fresh counters, so a test sees exactly the budget it set."""
        with self._lock:
            self.limits = limits
            self._windows.clear()

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        limits = self.limits
        with self._lock:
            hour, spike = self._windows.get(key) or (_Window(now), _Window(now))
            if now >= hour.start + limits.hourly_window_seconds:
                hour = _Window(now)
            if now >= spike.start + limits.spike_window_seconds:
                spike = _Window(now)
            hour.count += 1
            spike.count += 1
            self._windows[key] = (hour, spike)
            hour_left = limits.hourly_limit - hour.count
            spike_left = limits.spike_limit - spike.count
        hour_reset = hour.start + limits.hourly_window_seconds
        spike_reset = spike.start + limits.spike_window_seconds
        # Report the window that binds first: the one with fewer requests left (the hourly one on a tie).
        if hour_left < 0 or (spike_left >= 0 and hour_left <= spike_left):
            limit, left, reset = limits.hourly_limit, hour_left, hour_reset
        else:
            limit, left, reset = limits.spike_limit, spike_left, spike_reset
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(left, 0)),
            "X-Rate-Limit-Reset": str(math.ceil(reset)),
        }
        allowed = hour_left >= 0 and spike_left >= 0
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return Decision(allowed, headers)
