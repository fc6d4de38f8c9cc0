"""The emulator's state container: database, tokens, rate limiter, fault injector, request log, contract log."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fixture
from .auth import TokenStore
from .contract import ContractLog
from .faults import FaultInjector
from .ratelimit import Limits, RateLimiter
from .requestlog import RequestLog
from .store import Database


@dataclass
class Settings:
    db_path: Path
    fixture_path: Path | None = None
    reset: bool = False
    token_ttl: int = 5400
    limits: Limits = field(default_factory=Limits)
    contract: str = "check"  # "check" | "off"


class Emulator:
    """Everything the routes and the middleware share; one instance per server process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.db_path)
        if settings.reset or not self.db.is_seeded():
            if settings.fixture_path is None:
                raise SystemExit("the database is empty (or --reset was given): a --fixture is required to seed it")
            self.seed(fixture.read(settings.fixture_path), reload=False)
        self.tokens = TokenStore(self.db, settings.token_ttl)
        self.limiter = RateLimiter(settings.limits)
        self.faults = FaultInjector()
        self.log = RequestLog()
        self.contract = ContractLog(settings.contract)

    def seed(self, data: dict[str, Any], reload: bool = True) -> dict[str, int]:
        """Replace all data with a fixture's; existing tokens keep working while their client exists."""
        tables, next_id = fixture.build(data)
        self.db.replace_all(tables, next_id)
        if reload:
            self.tokens.reload_clients()
        return {name: len(rows) for name, (_, rows) in tables.items()}
