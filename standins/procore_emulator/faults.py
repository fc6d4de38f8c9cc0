"""Deterministic fault injection for /rest and /oauth: 5xx, 429, slow answers, dropped connections,
and writes that commit but lose their response.

A seeded RNG draws twice per eligible request (one draw for slowness, one for the fault kind), so
the same sequence of requests sees the same faults. `rules` fire first, in order, on matching
requests (e.g. "drop the next sync call"), which tests use for exact scenarios.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("error", "rate_limit", "slow", "drop", "lost_response")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Rule:
    kind: str
    status: int = 503
    seconds: float = 0.0
    method: str | None = None
    path_contains: str | None = None
    skip: int = 0
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        return not (self.kind == "lost_response" and not is_write(method, path))


@dataclass
class FaultConfig:
    seed: int = 0
    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    methods: list[str] | None = None
    path_contains: str | None = None
    rules: list[Rule] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Validate a PUT body; unknown keys and out-of-range rates are errors, not silently ignored."""
        if not isinstance(data, dict):
            raise TypeError("fault config must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        config = cls(**{k: v for k, v in data.items() if k != "rules"})
        for name in ("error_rate", "rate_limit_rate", "slow_rate", "drop_rate", "lost_response_rate"):
            value = getattr(config, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        total = config.error_rate + config.rate_limit_rate + config.drop_rate + config.lost_response_rate
        if total > 1:
            raise ValueError("error_rate + rate_limit_rate + drop_rate + lost_response_rate must not exceed 1")
        if not config.error_statuses or any(not isinstance(s, int) or not 500 <= s <= 599 for s in config.error_statuses):
            raise ValueError("error_statuses must be a non-empty list of 5xx codes")
        if config.slow_seconds < 0 or config.retry_after < 0:
            raise ValueError("slow_seconds and retry_after must not be negative")
        rules = []
        for raw in data.get("rules") or []:
            if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
                raise ValueError(f"each rule needs a kind in {KINDS}")
            extra = set(raw) - set(Rule.__dataclass_fields__)
            if extra:
                raise ValueError(f"unknown rule settings {sorted(extra)}")
            rule = Rule(**raw)
            if rule.kind == "error" and not 500 <= rule.status <= 599:
                raise ValueError("an error rule's status must be 5xx")
            rules.append(rule)
        config.rules = rules
        return config

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "rules"}
        data["rules"] = [dict(r.__dict__) for r in self.rules]
        return data


@dataclass(frozen=True)
class Fault:
    """What to do to one request: sleep `delay` seconds first, then `kind` (None = answer normally)."""

    kind: str | None = None
    status: int = 0
    delay: float = 0.0


def is_write(method: str, path: str) -> bool:
    return method in WRITE_METHODS and path.startswith("/rest/")


class FaultInjector:
    """Holds the active FaultConfig and its RNG, and counts what it injected."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.injected = {kind: 0 for kind in KINDS}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self.config.to_dict(), "injected": dict(self.injected)}

    def decide(self, method: str, path: str) -> Fault:
        with self._lock:
            fault = self._from_rules(method, path) or self._from_rates(method, path)
            if fault.kind is not None:
                self.injected[fault.kind] += 1
            elif fault.delay:
                self.injected["slow"] += 1
            return fault

    def _from_rules(self, method: str, path: str) -> Fault | None:
        for rule in self.config.rules:
            if rule.times <= 0 or not rule.matches(method, path):
                continue
            if rule.skip > 0:
                rule.skip -= 1
                return None
            rule.times -= 1
            if rule.kind == "slow":
                return Fault(None, 0, rule.seconds)
            return Fault(rule.kind, rule.status, rule.seconds)
        return None

    def _from_rates(self, method: str, path: str) -> Fault:
        cfg = self.config
        if cfg.methods is not None and method not in {m.upper() for m in cfg.methods}:
            return Fault()
        if cfg.path_contains is not None and cfg.path_contains not in path:
            return Fault()
        slow_draw, kind_draw = self._rng.random(), self._rng.random()
        status_pick = self._rng.choice(cfg.error_statuses)
        delay = cfg.slow_seconds if slow_draw < cfg.slow_rate else 0.0
        edge = 0.0
        for kind, rate in (("error", cfg.error_rate), ("rate_limit", cfg.rate_limit_rate),
                           ("drop", cfg.drop_rate), ("lost_response", cfg.lost_response_rate)):
            edge += rate
            if kind_draw < edge:
                if kind == "lost_response" and not is_write(method, path):
                    break
                return Fault(kind, status_pick if kind == "error" else 429 if kind == "rate_limit" else 0, delay)
        return Fault(None, 0, delay)
