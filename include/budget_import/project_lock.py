"""One writer per Procore project: the nightly, the manual DAG and a restore never write one budget at once,
whichever worker machine each runs on.

The lock lives in the pipeline's own database (`state_db`, BUDGET_IMPORT_STATE_DB):

- **PostgreSQL** (a deployment): a session-level `pg_advisory_lock` on a 64-bit key derived from the job
  key, taken with `pg_try_advisory_lock` on one dedicated connection held for the whole `with` block. The
  server releases it when that connection ends, so a worker that is killed never leaves it held. A row of
  `budget_project_lock_holders` (job key, owner, since) says whom a waiter waits for.
- **SQLite** (the embedded default, one machine): an exclusive `flock` on a file per job in `locks/` beside
  the SQLite database file; the file holds the holder's text. The kernel drops it when the process dies.

A second writer waits for the first, up to `timeout_s`, then fails clearly (`ProjectBusyError`, naming the
holder). Runs for different projects never wait on each other.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from include.budget_import import state_db
from include.budget_import.job_keys import job_key
from include.budget_import.settings import lock_timeout_s, state_db_url

log = logging.getLogger(__name__)
POLL_S = 0.5  # how often a waiter tries again

HOLDERS = sa.Table(
    "budget_project_lock_holders", state_db.METADATA,
    sa.Column("job_key", sa.String(300), primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("hold_id", sa.String(40), nullable=False),  # this hold only: a release never deletes a newer holder's row
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)
_READY: set[int] = set()


class ProjectBusyError(RuntimeError):
    """Another run held the job's lock for longer than the timeout."""


@dataclass
class LockHold:
    path: Path | None  # the lock file (SQLite); None for PostgreSQL's advisory lock
    waited_s: float = 0.0
    acquired_at: float = 0.0
    released_at: float = 0.0
    where: str = ""  # "flock <file>" or "pg_advisory_lock <key> on <db>"


def advisory_key(key: str) -> int:
    """The signed 64-bit PostgreSQL advisory lock key of a job key (SHA-256, first 8 bytes)."""
    digest = hashlib.sha256(f"budget_project_lock:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_folder(root: object | None = None) -> Path:
    """Where SQLite's lock files go: `locks/` beside the SQLite state DB file. `root` (deprecated) is the
    reports root a caller's run folder uses; a local one stands in for the default state DB's folder (which is
    the reports root) when BUDGET_IMPORT_STATE_DB is not set, as the lock files always lived there."""
    configured = os.environ.get("BUDGET_IMPORT_STATE_DB", "").strip()
    local = str(root).removeprefix("file://") if root is not None else ""
    if not configured and local and "://" not in local:
        return Path(local) / "locks"
    url = sa.engine.make_url(state_db_url())
    database = url.database or ""
    if not database or database == ":memory:":
        raise ValueError(f"the state DB {url} is in memory: the per-project lock needs a file every process sees "
                         "(set BUDGET_IMPORT_STATE_DB to an SQLite file or PostgreSQL)")
    return Path(database).resolve().parent / "locks"


@contextmanager
def project_lock(company_code: str, job_number: str, owner: str, timeout_s: float | None = None, root: object | None = None,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[LockHold]:
    """Hold the job's lock. `on_wait(holder)` is called once, when the lock is found held by another run
    (the log says whom this run waits for; tests use it to order events without timing). `root` is
    deprecated: the lock follows the state DB (see `lock_folder`)."""
    timeout_s = lock_timeout_s() if timeout_s is None else timeout_s
    key = job_key(company_code, job_number)
    url = state_db_url()
    if url.startswith("postgresql"):
        with _pg_lock(url, key, company_code, job_number, owner, timeout_s, on_wait) as hold:
            yield hold
        return
    with _file_lock(lock_folder(root) / f"{key}.lock", company_code, job_number, owner, timeout_s, on_wait) as hold:
        yield hold


def _waiting(company_code: str, job_number: str, holder: str, timeout_s: float, on_wait: Callable[[str], None] | None) -> None:
    log.info("job %s/%s is being written by %s: waiting (up to %.0f s)", company_code, job_number, holder, timeout_s)
    if on_wait is not None:
        on_wait(holder)


def _busy(company_code: str, job_number: str, holder: str, timeout_s: float) -> ProjectBusyError:
    return ProjectBusyError(f"job {company_code}/{job_number} is being written by {holder}; waited {timeout_s:.0f} s")


# --- SQLite (one machine): flock ----------------------------------------------------------------
@contextmanager
def _file_lock(path: Path, company_code: str, job_number: str, owner: str, timeout_s: float,
               on_wait: Callable[[str], None] | None) -> Iterator[LockHold]:
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    waited = False
    with open(path, "a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another run"
                if not waited:
                    waited = True
                    _waiting(company_code, job_number, holder, timeout_s, on_wait)
                if time.monotonic() - started > timeout_s:
                    raise _busy(company_code, job_number, holder, timeout_s) from None
                time.sleep(POLL_S)
        hold = LockHold(path=path, waited_s=time.monotonic() - started, acquired_at=time.time(), where=f"flock {path}")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{owner} (pid {os.getpid()})\n")
        handle.flush()
        try:
            yield hold
        finally:
            hold.released_at = time.time()
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --- PostgreSQL (every machine): a session advisory lock ----------------------------------------
def _ready(engine: Engine) -> None:
    """The holders table exists (state_db creates METADATA's tables with the engine; this covers an engine
    made before this module was imported)."""
    if id(engine) not in _READY:
        state_db.ensure_tables(engine, HOLDERS)
        _READY.add(id(engine))


def _holder(conn: Connection, key: str) -> str:
    row = conn.execute(sa.select(HOLDERS.c.owner, HOLDERS.c.since).where(HOLDERS.c.job_key == key)).first()
    if row is None:
        return "another run"
    return f"{row.owner}, since {row.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@contextmanager
def _pg_lock(url: str, key: str, company_code: str, job_number: str, owner: str, timeout_s: float,
             on_wait: Callable[[str], None] | None) -> Iterator[LockHold]:
    engine = state_db.engine(url)
    _ready(engine)
    lock_id = advisory_key(key)
    hold_id = uuid.uuid4().hex
    started = time.monotonic()
    waited = False
    # Autocommit: the session lock outlives no transaction, and the connection never sits "idle in transaction".
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    locked = False
    try:
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_id}).scalar():
            holder = _holder(conn, key)
            if not waited:
                waited = True
                _waiting(company_code, job_number, holder, timeout_s, on_wait)
            if time.monotonic() - started > timeout_s:
                raise _busy(company_code, job_number, holder, timeout_s)
            time.sleep(POLL_S)
        locked = True
        hold = LockHold(path=None, waited_s=time.monotonic() - started, acquired_at=time.time(),
                        where=f"pg_advisory_lock {lock_id} on {engine.url.render_as_string(hide_password=True)}")
        text = f"{owner} (pid {os.getpid()} on {os.uname().nodename})"
        stmt = postgresql.insert(HOLDERS).values(job_key=key, owner=text, hold_id=hold_id, since=datetime.now(UTC))
        conn.execute(stmt.on_conflict_do_update(index_elements=[HOLDERS.c.job_key],
                                                set_={"owner": text, "hold_id": hold_id, "since": stmt.excluded.since}))
        try:
            yield hold
        finally:
            hold.released_at = time.time()
    finally:
        try:
            if locked:
                conn.execute(sa.delete(HOLDERS).where(HOLDERS.c.job_key == key, HOLDERS.c.hold_id == hold_id))
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
        except sa.exc.DBAPIError:  # the connection broke: the server ended the session, and with it the lock
            conn.invalidate()
            log.warning("job %s/%s: the lock's connection broke; the server has released the lock", company_code, job_number)
        finally:
            conn.close()
