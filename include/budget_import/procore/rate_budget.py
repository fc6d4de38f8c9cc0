"""One Procore request budget shared by every worker process and machine of the import.

Procore limits an app (its OAuth client id) per hour and per spike window, across every process that uses
it. Each ProcoreClient paces itself from the X-Rate-Limit-* headers, but processes that start at once do
not see each other's calls until the answers come back, so several loads in parallel collect 429s. This
module is the extra gate: before every request (the token request too) a process reserves a slot in the
state DB (`state_db`: SQLite beside the local reports, PostgreSQL in a deployment), so that no window of W
seconds ever holds more than L calls of one client id across all processes, for each configured (L, W)
(`settings.procore_rate_limits`, PROCORE_RATE_LIMITS).

- A slot is a row of `budget_procore_calls` (budget key, unix time). The budget key is a hash of the client
  id (never the secret). Slots are handed out in order: a new slot is never earlier than the latest one,
  and is the earliest time at which, for every window, the L-th latest slot is more than W + margin
  before it. The process then sleeps (the client's own `sleep`) until its slot, and sends.
- One short transaction per call: count and insert under the database's own serialisation,
  `pg_advisory_xact_lock` on PostgreSQL (its clock, `clock_timestamp()`, is every machine's clock),
  `BEGIN IMMEDIATE` on SQLite (one machine: `time.time()`). Old slots are pruned in the same transaction
  every `PRUNE_EVERY` calls of a process.
- `margin_s` widens every window by the time between the reservation and the request's arrival at
  Procore (sleep overshoot, connection set-up, latency), which Procore's own count starts from.
- A slot further away than the client's `max_wait_s` is not taken: the client fails the call with
  ProcoreRateLimitError, as for a spent window in the headers (the Airflow task's retries try later).
- When the state DB cannot be reached the gate opens (logged once): the client's header pacing and its
  429 retries still apply, as before the shared budget existed.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from include.budget_import import state_db
from include.budget_import.settings import procore_rate_limits, procore_rate_margin_s, state_db_url

log = logging.getLogger(__name__)
PRUNE_EVERY = 16  # calls of one process between prunes of slots older than the longest window

CALLS = sa.Table(
    "budget_procore_calls", state_db.METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("budget_key", sa.String(64), nullable=False),
    sa.Column("at", sa.Double, nullable=False),  # unix seconds of the slot (the DB server's clock on PostgreSQL)
    sa.Index("ix_budget_procore_calls_key_at", "budget_key", "at"),
)


def budget_key(client_id: str) -> str:
    """The budget's key: a hash of the Procore client id (the app Procore counts calls for), never the secret."""
    return hashlib.sha256(f"procore-rate-budget:{client_id}".encode()).hexdigest()[:32]


def _advisory_key(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"procore-rate-budget-lock:{key}".encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Reservation:
    wait_s: float  # how long to wait before sending (0: now)
    granted: bool  # False: the slot was further than max_wait_s away and was not taken


@dataclass
class BudgetStats:
    reservations: int = 0
    waited: int = 0
    refused: int = 0
    db_s: float = 0.0  # time spent in the budget's transactions
    failures: int = 0  # transactions that failed (the gate opened)
    samples: list[float] = field(default_factory=list, repr=False)


def next_slot(now: float, latest: float | None, kth_latest: Sequence[float | None], windows: Sequence[tuple[int, float]],
              margin_s: float) -> float:
    """The earliest slot at or after `now` and the latest slot such that for each window (limit L, W seconds)
    the L-th latest slot (`kth_latest`, None when there are fewer than L) is more than W + margin before it."""
    slot = max(now, latest if latest is not None else now)
    for (_, seconds), kth in zip(windows, kth_latest, strict=True):
        if kth is not None:
            slot = max(slot, kth + seconds + margin_s)
    return slot


class SharedRateBudget:
    """The shared sliding-window budget of one Procore client id, in the state DB `url` (default: the
    configured one). Connects on first use; one per ProcoreClient (not shared across a fork)."""

    def __init__(self, client_id: str, windows: Sequence[tuple[int, float]] | None = None, *, url: str | None = None,
                 margin_s: float | None = None) -> None:
        self.key = budget_key(client_id)
        self.windows = tuple(windows) if windows is not None else procore_rate_limits()
        if not self.windows:
            raise ValueError("a shared rate budget needs at least one (limit, window seconds) pair")
        self.margin_s = procore_rate_margin_s() if margin_s is None else margin_s
        self._url = url
        self._sqlite: sqlite3.Connection | None = None
        self._engine: sa.Engine | None = None
        self._pid = 0
        self._calls = 0
        self._failed_once = False
        self.stats = BudgetStats()

    def __repr__(self) -> str:
        return f"SharedRateBudget(key={self.key!r}, windows={self.windows!r})"

    # --- connections ------------------------------------------------------------------------
    def _connect(self) -> None:
        if self._pid == os.getpid() and (self._sqlite is not None or self._engine is not None):
            return
        url = self._url or state_db_url()
        engine = state_db.engine(url)
        state_db.ensure_tables(engine, CALLS)
        self._pid = os.getpid()
        if engine.dialect.name == "sqlite":
            database = engine.url.database or ""
            # the sqlite3 module itself, in autocommit mode, so BEGIN IMMEDIATE is ours to send
            self._sqlite = sqlite3.connect(database, timeout=30, isolation_level=None)
            self._sqlite.execute("PRAGMA busy_timeout=30000")
            self._engine = None
        else:
            self._engine = engine
            self._sqlite = None

    def close(self) -> None:
        if self._sqlite is not None and self._pid == os.getpid():
            self._sqlite.close()
        self._sqlite = None
        self._engine = None

    # --- the reservation --------------------------------------------------------------------
    def reserve(self, max_wait_s: float) -> Reservation:
        """Take the next slot (one transaction) and say how long to wait for it; a slot further than
        `max_wait_s` away is not taken. When the state DB fails, the gate opens (wait 0, logged once)."""
        started = time.perf_counter()
        try:
            self._connect()
            prune = self._calls % PRUNE_EVERY == 0
            self._calls += 1
            if self._sqlite is not None:
                result = self._reserve_sqlite(self._sqlite, max_wait_s, prune)
            else:
                assert self._engine is not None
                result = self._reserve_pg(self._engine, max_wait_s, prune)
        except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError, ValueError) as exc:
            self.stats.failures += 1
            if not self._failed_once:
                self._failed_once = True
                log.warning("the shared Procore rate budget is unavailable (%s: %s); pacing from Procore's headers only",
                            type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
            return Reservation(0.0, True)
        spent = time.perf_counter() - started
        self.stats.db_s += spent
        if len(self.stats.samples) < 10_000:
            self.stats.samples.append(spent)
        self.stats.reservations += 1
        if not result.granted:
            self.stats.refused += 1
        elif result.wait_s > 0:
            self.stats.waited += 1
        return result

    def _decide(self, now: float, latest: float | None, kth: list[float | None], max_wait_s: float) -> tuple[float, Reservation]:
        slot = next_slot(now, latest, kth, self.windows, self.margin_s)
        wait = slot - now
        return slot, Reservation(max(0.0, wait), wait <= max_wait_s)

    def _oldest_kept(self, now: float) -> float:
        return now - max(seconds for _, seconds in self.windows) - self.margin_s - 1.0

    def _reserve_sqlite(self, conn: sqlite3.Connection, max_wait_s: float, prune: bool) -> Reservation:
        conn.execute("BEGIN IMMEDIATE")  # the write lock first: no other process counts until we commit
        try:
            now = time.time()
            if prune:
                conn.execute("DELETE FROM budget_procore_calls WHERE budget_key = ? AND at < ?", (self.key, self._oldest_kept(now)))
            latest_row = conn.execute("SELECT max(at) FROM budget_procore_calls WHERE budget_key = ?", (self.key,)).fetchone()
            kth: list[float | None] = []
            for limit, _ in self.windows:
                row = conn.execute("SELECT at FROM budget_procore_calls WHERE budget_key = ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                                   (self.key, limit - 1)).fetchone()
                kth.append(row[0] if row else None)
            slot, result = self._decide(now, latest_row[0] if latest_row else None, kth, max_wait_s)
            if result.granted:
                conn.execute("INSERT INTO budget_procore_calls (budget_key, at) VALUES (?, ?)", (self.key, slot))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _reserve_pg(self, engine: sa.Engine, max_wait_s: float, prune: bool) -> Reservation:
        params: dict[str, Any] = {"k": self.key}
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _advisory_key(self.key)})
            now = float(conn.execute(sa.text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
            if prune:
                conn.execute(sa.text("DELETE FROM budget_procore_calls WHERE budget_key = :k AND at < :old"),
                             {**params, "old": self._oldest_kept(now)})
            latest = conn.execute(sa.text("SELECT max(at) FROM budget_procore_calls WHERE budget_key = :k"), params).scalar()
            kth: list[float | None] = []
            for limit, _ in self.windows:
                kth.append(conn.execute(sa.text("SELECT at FROM budget_procore_calls WHERE budget_key = :k "
                                                "ORDER BY at DESC LIMIT 1 OFFSET :n"), {**params, "n": limit - 1}).scalar())
            slot, result = self._decide(now, latest, kth, max_wait_s)
            if result.granted:
                conn.execute(sa.insert(CALLS).values(budget_key=self.key, at=slot))
        return result


def shared_budget_for(client_id: str) -> SharedRateBudget | None:
    """The shared budget of a client id as configured (None when PROCORE_RATE_LIMITS is `off`)."""
    windows = procore_rate_limits()
    return SharedRateBudget(client_id, windows) if windows else None
