"""SQLite state: one connection behind a lock, WAL journal, so state survives restarts and writes are atomic.

Uvicorn runs one worker and FastAPI runs sync handlers in a thread pool; a single connection
guarded by a re-entrant lock keeps every call serialised without SQLite "database is locked" errors.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FIRST_AUTO_ID = 5_000_000_001  # Procore ids exceed 32 bits; auto-assigned ids do too.
SCHEMA_VERSION = "2"  # a db written with another schema is treated as unseeded (re-seed it from a fixture)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS companies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, cost_code_segment_name TEXT NOT NULL,
    cost_type_segment_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS budget_views (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL, name TEXT NOT NULL, description TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT NOT NULL, client_secret TEXT NOT NULL, company_id INTEGER NOT NULL, permission TEXT NOT NULL,
    PRIMARY KEY (client_id, company_id));
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL, name TEXT NOT NULL, project_number TEXT,
    origin_id TEXT, origin_data TEXT, active INTEGER NOT NULL DEFAULT 1,
    budget_tool_active INTEGER NOT NULL DEFAULT 1, budget_locked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS line_item_types (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL,
    base_type TEXT NOT NULL, origin_id TEXT, origin_data TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    segment_item_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cost_codes (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL, project_id INTEGER NOT NULL, code TEXT NOT NULL,
    full_code TEXT NOT NULL, name TEXT NOT NULL, parent_id INTEGER, origin_id TEXT, origin_data TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, segment_item_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wbs_codes (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, cost_code_id INTEGER NOT NULL,
    line_item_type_id INTEGER NOT NULL, description TEXT, status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS budget_line_items (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, wbs_code_id INTEGER NOT NULL,
    original_budget_amount TEXT NOT NULL, uom TEXT, quantity TEXT, unit_cost TEXT,
    calculation_strategy TEXT NOT NULL DEFAULT 'manual', description TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
"""

# Created after a bulk seed (faster than maintaining them row by row); they also enforce the uniqueness rules.
INDEXES = """
CREATE INDEX IF NOT EXISTS projects_company ON projects (company_id, id);
CREATE INDEX IF NOT EXISTS projects_origin ON projects (company_id, origin_id);
CREATE UNIQUE INDEX IF NOT EXISTS lit_code ON line_item_types (company_id, code);
CREATE UNIQUE INDEX IF NOT EXISTS lit_origin ON line_item_types (company_id, origin_id) WHERE origin_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS cc_code ON cost_codes (project_id, code);
CREATE UNIQUE INDEX IF NOT EXISTS cc_origin ON cost_codes (company_id, origin_id) WHERE origin_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS cc_parent ON cost_codes (parent_id);
CREATE UNIQUE INDEX IF NOT EXISTS cc_segment_item ON cost_codes (segment_item_id);
CREATE UNIQUE INDEX IF NOT EXISTS lit_segment_item ON line_item_types (segment_item_id);
CREATE INDEX IF NOT EXISTS budget_views_company ON budget_views (company_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS wbs_pair ON wbs_codes (project_id, cost_code_id, line_item_type_id);
CREATE INDEX IF NOT EXISTS wbs_project ON wbs_codes (project_id, id);
CREATE INDEX IF NOT EXISTS wbs_cost_code ON wbs_codes (cost_code_id);
CREATE UNIQUE INDEX IF NOT EXISTS bli_wbs ON budget_line_items (wbs_code_id);
CREATE INDEX IF NOT EXISTS bli_project ON budget_line_items (project_id, id);
"""

DATA_TABLES = ("companies", "budget_views", "clients", "projects", "line_item_types", "cost_codes", "wbs_codes", "budget_line_items")


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated DDL inside the current transaction (executescript would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def now_iso() -> str:
    """Timestamps in the ISO-8601 UTC form Procore answers with."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Database:
    """The emulator's state file. Use `tx()` for writes (one transaction) and `read()` for reads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.execute("PRAGMA cache_size=-65536")
        _run_script(self.conn, SCHEMA)
        if self.is_seeded():
            _run_script(self.conn, INDEXES)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def is_seeded(self) -> bool:
        with self.lock:
            seeded = self.conn.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is not None
            version = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return seeded and version is not None and version[0] == SCHEMA_VERSION

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read under the lock (no other request can write in between)."""
        with self.lock:
            yield self.conn

    def allocate_ids(self, conn: sqlite3.Connection, count: int) -> list[int]:
        """Reserve `count` fresh ids from the global sequence (call inside `tx()`)."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
        first = int(row[0]) if row else FIRST_AUTO_ID
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('next_id', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(first + count),),
        )
        return list(range(first, first + count))

    def replace_all(self, tables: dict[str, tuple[Sequence[str], list[Sequence[Any]]]], next_id: int) -> None:
        """Wipe every data table and bulk-load new rows (a reset); tokens survive but only count if their client does."""
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in DATA_TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                _run_script(conn, SCHEMA)
                for table, (columns, rows) in tables.items():
                    marks = ", ".join("?" for _ in columns)
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
                _run_script(conn, INDEXES)
                conn.execute("DELETE FROM meta WHERE key IN ('next_id', 'seeded', 'schema_version')")
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                conn.execute("INSERT INTO meta (key, value) VALUES ('next_id', ?)", (str(next_id),))
                conn.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (now_iso(),))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a big seed would otherwise leave a WAL as big as the db
