"""The pipeline's own database: job status, run history, the per-project lock and the shared Procore
request budget, in one place every worker, scheduler and api-server reaches.

BUDGET_IMPORT_STATE_DB is an SQLAlchemy URL: PostgreSQL in a deployment (e.g.
`postgresql+psycopg2://user:pw@host/db`, the same server as Airflow's metadata DB will do); the embedded
default is an SQLite file beside the local reports (one machine, no extra service). Each module that
keeps state defines its own tables on `METADATA` and calls `engine()`: the tables are created on first
use (`CREATE TABLE IF NOT EXISTS`), so a new site needs no migration step.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from include.budget_import.settings import state_db_url

METADATA = sa.MetaData()
_ENGINES: dict[tuple[int, str], Engine] = {}
_LOCK = threading.Lock()
_CREATE_LOCK_KEY = 0x6275646765745F73  # "budget_s": serialises CREATE TABLE IF NOT EXISTS across processes


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute("PRAGMA busy_timeout=30000")
        # WAL: readers (the UI) never block the writers (the tasks). Switching a new file to WAL needs it
        # alone, and SQLite answers "database is locked" at once (no busy wait) while another process's first
        # connection does the same: try again briefly; the mode is the file's, so one switch serves all.
        for attempt in range(100):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
    finally:
        cursor.close()


def engine(url: str | None = None) -> Engine:
    """The engine for this process (a forked worker gets its own: pooled connections never cross a fork);
    the tables exist when it returns."""
    url = url or state_db_url()
    key = (os.getpid(), url)
    with _LOCK:
        found = _ENGINES.get(key)
        if found is not None:
            return found
        if url.startswith("sqlite"):
            database = sa.engine.make_url(url).database
            if database and database != ":memory:" and not database.startswith("file:"):  # a fresh deployment's first use
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            made = sa.create_engine(url, connect_args={"timeout": 30}, poolclass=sa.pool.NullPool)
            sa.event.listen(made, "connect", _sqlite_pragmas)
        else:
            made = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
        ensure_tables(made)
        _ENGINES[key] = made
        return made


def ensure_tables(made: Engine, *tables: sa.Table) -> None:
    """CREATE TABLE IF NOT EXISTS for `tables` (default: all of METADATA's). On PostgreSQL under an advisory
    lock (SQLite: under the file's write lock), so workers starting at once on a new database do not race (one
    creates, the others see it). For a
    module whose tables were defined after its process made the engine."""
    if made.dialect.name == "postgresql":
        with made.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK_KEY})
            METADATA.create_all(conn, tables=list(tables) or None, checkfirst=True)
    elif made.dialect.name == "sqlite":
        with made.connect() as conn:  # the file's write lock first: a second process waits, then finds the tables
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                METADATA.create_all(conn, tables=list(tables) or None, checkfirst=True)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
    else:
        METADATA.create_all(made, tables=list(tables) or None, checkfirst=True)

