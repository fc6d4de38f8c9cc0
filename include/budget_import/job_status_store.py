"""Each job's latest status and its run history, in the pipeline's own database (state_db), so every
worker, the scheduler and the api-server's Budgets page read the same thing without a shared folder.

Two tables (SQLAlchemy Core, created on first use):
  budget_job_status  one row per (company_code, job_number): the latest status payload as JSON text
                     (exactly what status/<job key>.json held), plus the columns the Budgets page filters
                     and sorts by (status, state, run_id, procore_project_id, finished_at, the totals).
  budget_job_runs    one row per (run_id, company_code, job_number): what each run did to the job
                     (status, totals, rows, data-quality counts, times). A retried task overwrites its
                     own run's row, never adds a second one.
Money is stored as exact decimal text (never a float): the text the result holds, checked to be a
number. Writes are upserts (`INSERT ... ON CONFLICT DO UPDATE`) on SQLite and PostgreSQL, the two
databases the store supports. Status rows are never pruned; history rows are kept too (retention.py
removes run folders only; a history row whose folder is gone shows without a link).

Light on purpose (sqlalchemy and the stdlib): the UI plugin in the api-server imports it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from include.budget_import import state_db
from include.budget_import.job_keys import job_key
from include.budget_import.job_states import state_of
from include.budget_import.settings import state_db_url

__all__ = ["JOB_RUNS", "JOB_STATUS", "JobStatus", "RunRecord", "job_history", "last_result_run", "latest_statuses", "read_status",
           "record_result", "record_status", "status_run_ids", "store_engine"]


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A moment stored as UTC without an offset (SQLite has no time zones), read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


MONEY = sa.String(48)  # exact decimal text: DECIMAL(15,4) figures and their sums fit with room to spare


def _figure_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("spectrum_total", MONEY), sa.Column("imported_total", MONEY), sa.Column("procore_total", MONEY),
        sa.Column("difference", MONEY), sa.Column("rows_extracted", sa.Integer), sa.Column("rows_imported", sa.Integer),
        sa.Column("rows_skipped", sa.Integer), sa.Column("rows_rejected", sa.Integer),
    ]


JOB_STATUS = sa.Table(
    "budget_job_status", state_db.METADATA,
    sa.Column("company_code", sa.Text, primary_key=True),
    sa.Column("job_number", sa.Text, primary_key=True),
    sa.Column("job_key", sa.Text, nullable=False, unique=True),  # one-to-one with the pair (job_keys)
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("state", sa.String(64), nullable=False, index=True),  # the Budgets page's filter (job_states.state_of)
    sa.Column("reason", sa.String(64)),
    sa.Column("mode", sa.String(32)),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("procore_project_id", sa.BigInteger),
    sa.Column("run_id", sa.Text, index=True),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    *_figure_columns(),
    sa.Column("payload", sa.Text, nullable=False),
)

JOB_RUNS = sa.Table(
    "budget_job_runs", state_db.METADATA,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("company_code", sa.Text, primary_key=True),
    sa.Column("job_number", sa.Text, primary_key=True),
    sa.Column("job_key", sa.Text, nullable=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("mode", sa.String(32)),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("procore_project_id", sa.BigInteger),
    *_figure_columns(),
    sa.Column("dq_passed", sa.Integer),  # data-quality expectations passed / failed, when the result has them
    sa.Column("dq_failed", sa.Integer),
    sa.Column("message", sa.Text),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Index("ix_budget_job_runs_job", "company_code", "job_number", "finished_at"),
    sa.Index("ix_budget_job_runs_key", "job_key", "finished_at"),
)


# --- which database ------------------------------------------------------------------------------
def store_url(root: object | None = None) -> str:
    """BUDGET_IMPORT_STATE_DB when set; else the SQLite file of the reports root the caller works in
    (a RunFolder's root, a Path or an ObjectStoragePath: tests and tools point at their own), as
    settings.state_db_url does for the configured root."""
    if os.environ.get("BUDGET_IMPORT_STATE_DB", "").strip() or root is None:
        return state_db_url()
    text = str(root)
    if "://" in text and not text.startswith("file://"):
        raise ValueError(f"reports go to {text}: set BUDGET_IMPORT_STATE_DB to a database every worker reaches "
                         "(e.g. postgresql+psycopg2://user:password@host/db)")
    return f"sqlite:///{Path(text.removeprefix('file://')) / 'budget_state.db'}"


_READY: set[tuple[int, str]] = set()


def store_engine(root: object | None = None, *, url: str | None = None) -> Engine:
    """The engine of the store, with its two tables there (created when missing: state_db creates the
    tables on METADATA when it makes an engine, which may predate this module's import)."""
    url = url or store_url(root)
    backend = sa.engine.make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"job status store: database {backend!r} is not supported; "
                         "BUDGET_IMPORT_STATE_DB must be an SQLite or PostgreSQL URL")
    key = (os.getpid(), url)
    eng = state_db.engine(url)
    if key not in _READY:
        state_db.ensure_tables(eng, JOB_STATUS, JOB_RUNS)  # serialised across processes (state_db)
        _READY.add(key)
    return eng


def _reader(root: object | None) -> Engine | None:
    """The engine to read with; None when the store is an SQLite file not made yet (nothing recorded):
    a reader (the api-server, a tool pointed at an empty folder) never creates one."""
    url = store_url(root)
    made = sa.engine.make_url(url)
    if made.get_backend_name() == "sqlite" and made.database and made.database != ":memory:" and not Path(made.database).exists():
        return None
    return store_engine(url=url)


def _insert(conn: Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise ValueError(f"job status store: no upsert for database {name!r} (SQLite and PostgreSQL are supported)")


def _upsert(conn: Connection, table: sa.Table, row: dict[str, Any]) -> None:
    keys = [c.name for c in table.primary_key.columns]
    stmt = _insert(conn, table).values(**row)
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_={k: stmt.excluded[k] for k in row if k not in keys}))


# --- what a row holds ------------------------------------------------------------------------------
def exact_amount(value: Any) -> str | None:
    """A money figure as exact decimal text, or None when it is missing or no finite number. A float is
    refused (it is not exact): the pipeline's figures are Decimal or text."""
    if value is None or isinstance(value, (bool, float)):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return f"{amount:f}" if amount.is_finite() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_time(value: Any) -> datetime | None:
    """An ISO time of a report or status (naive ones are UTC), or None when it is none."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _project_id(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _figures(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The totals and row counts of a result, the way the pages read them (plugin Figures.from_result)."""
    stages = _dict(payload.get("stages"))
    totals = _dict(payload.get("totals"))
    load, reshape, extract = _dict(stages.get("load")), _dict(stages.get("reshape")), _dict(stages.get("extract"))
    return {
        "spectrum_total": exact_amount(totals.get("spectrum")),
        "imported_total": exact_amount(totals.get("line_items", load.get("imported_total"))),
        "procore_total": exact_amount(totals.get("procore", load.get("procore_total"))),
        "difference": exact_amount(totals.get("difference")),
        "rows_extracted": _int(extract.get("extracted")),
        "rows_imported": _int(reshape.get("line_items")),
        "rows_skipped": _int(reshape.get("skipped")),
        "rows_rejected": _int(reshape.get("rejected")),
    }


def _common(payload: Mapping[str, Any]) -> dict[str, Any]:
    company, job = str(payload["company_code"]), str(payload["job_number"])
    return {
        "company_code": company, "job_number": job, "job_key": job_key(company, job),
        "status": str(payload.get("status") or ""), "state": state_of(dict(payload)),
        "reason": None if payload.get("reason") is None else str(payload["reason"]),
        "mode": None if payload.get("mode") is None else str(payload["mode"]),
        "dry_run": bool(payload.get("dry_run")), "procore_project_id": _project_id(payload.get("procore_project_id")),
        "finished_at": parse_time(payload.get("finished_at")), **_figures(payload),
    }


def _status_row(payload: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    run_id = payload.get("run_id")
    return {**_common(payload), "run_id": None if run_id is None else str(run_id), "updated_at": now,
            "payload": json.dumps(payload, ensure_ascii=False, default=str)}


def _run_row(result: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    validate = _dict(_dict(result.get("stages")).get("validate"))
    message = result.get("message")
    return {**_common(result), "run_id": str(result["run_id"]), "dq_passed": _int(validate.get("expectations_passed")),
            "dq_failed": _int(validate.get("expectations_failed")), "message": None if message is None else str(message)[:2000],
            "recorded_at": now}


# --- writing -------------------------------------------------------------------------------------
def record_result(result: Mapping[str, Any], latest: Mapping[str, Any] | None = None, *, root: object | None = None) -> None:
    """A job's result in a run: its history row (replaced when the run's task is retried), and when
    `latest` is given the job's latest status (replaced), in one transaction. A result without a run id
    has no history row."""
    now = datetime.now(UTC)
    with store_engine(root).begin() as conn:
        if result.get("run_id"):
            _upsert(conn, JOB_RUNS, _run_row(result, now))
        if latest is not None:
            _upsert(conn, JOB_STATUS, _status_row(latest, now))


def record_status(payload: Mapping[str, Any], *, root: object | None = None) -> None:
    """The job's latest status (what JobFolder.write_status wrote), with its run's history row."""
    record_result(payload, payload, root=root)


# --- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobStatus:
    """A job's latest status row: the payload the pages render and the columns they filter by."""

    company_code: str
    job_number: str
    key: str
    status: str
    state: str
    run_id: str | None
    procore_project_id: int | None
    finished_at: datetime | None
    updated_at: datetime
    spectrum_total: str | None
    procore_total: str | None
    difference: str | None
    rows_rejected: int | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """One run of one job (budget_job_runs)."""

    run_id: str
    company_code: str
    job_number: str
    key: str
    status: str
    state: str
    reason: str | None
    mode: str | None
    dry_run: bool
    procore_project_id: int | None
    spectrum_total: str | None
    imported_total: str | None
    procore_total: str | None
    difference: str | None
    rows_extracted: int | None
    rows_imported: int | None
    rows_skipped: int | None
    rows_rejected: int | None
    dq_passed: int | None
    dq_failed: int | None
    message: str | None
    finished_at: datetime | None
    recorded_at: datetime


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def read_status(company_code: str, job_number: str, *, root: object | None = None) -> dict[str, Any]:
    """The job's latest status payload ({} when it has none): what JobFolder.read_status returned."""
    t = JOB_STATUS
    eng = _reader(root)
    if eng is None:
        return {}
    with eng.connect() as conn:
        text = conn.execute(sa.select(t.c.payload).where(t.c.company_code == company_code, t.c.job_number == job_number)).scalar()
    return _loads(text) if text else {}


def latest_statuses(*, root: object | None = None, states: frozenset[str] | None = None) -> list[JobStatus]:
    """Every job's latest status in one SELECT (the Budgets page), ordered by company and job number;
    `states` keeps only those states. A status that names no run (written before statuses carried
    their run id) gets the newest run whose recorded result has that status, from the same SELECT."""
    t, r = JOB_STATUS, JOB_RUNS.alias("r")
    found = (sa.select(r.c.run_id).where(r.c.job_key == t.c.job_key, r.c.status == t.c.status)
             .order_by(r.c.finished_at.desc().nulls_last(), r.c.recorded_at.desc()).limit(1).scalar_subquery())
    query = sa.select(t.c.company_code, t.c.job_number, t.c.job_key, t.c.status, t.c.state,
                      sa.func.coalesce(t.c.run_id, found).label("run_id"), t.c.procore_project_id,
                      t.c.finished_at, t.c.updated_at, t.c.spectrum_total, t.c.procore_total, t.c.difference, t.c.rows_rejected,
                      t.c.payload).order_by(t.c.company_code, t.c.job_number)
    if states is not None:
        query = query.where(t.c.state.in_(sorted(states)))
    eng = _reader(root)
    if eng is None:
        return []
    with eng.connect() as conn:
        rows = conn.execute(query).all()
    return [JobStatus(r.company_code, r.job_number, r.job_key, r.status, r.state, r.run_id, r.procore_project_id, r.finished_at,
                      r.updated_at, r.spectrum_total, r.procore_total, r.difference, r.rows_rejected, _loads(r.payload)) for r in rows]


def _history_query(limit: int) -> sa.Select[Any]:
    t = JOB_RUNS
    return sa.select(*t.c).order_by(t.c.finished_at.desc().nulls_last(), t.c.recorded_at.desc(), t.c.run_id.desc()).limit(max(1, limit))


def _record(row: Any) -> RunRecord:
    return RunRecord(row.run_id, row.company_code, row.job_number, row.job_key, row.status, row.state, row.reason, row.mode,
                     bool(row.dry_run), row.procore_project_id, row.spectrum_total, row.imported_total, row.procore_total, row.difference,
                     row.rows_extracted, row.rows_imported, row.rows_skipped, row.rows_rejected, row.dq_passed, row.dq_failed,
                     row.message, row.finished_at, row.recorded_at)


def job_history(company_code: str, job_number: str, *, limit: int = 20, root: object | None = None) -> list[RunRecord]:
    """The job's runs, newest first (by when each finished), at most `limit`."""
    t = JOB_RUNS
    query = _history_query(limit).where(t.c.company_code == company_code, t.c.job_number == job_number)
    eng = _reader(root)
    if eng is None:
        return []
    with eng.connect() as conn:
        return [_record(r) for r in conn.execute(query)]


def job_history_by_key(key: str, *, limit: int = 20, root: object | None = None) -> list[RunRecord]:
    """job_history for a job key (the plugin's URLs name jobs by key)."""
    eng = _reader(root)
    if eng is None:
        return []
    with eng.connect() as conn:
        return [_record(r) for r in conn.execute(_history_query(limit).where(JOB_RUNS.c.job_key == key))]


def last_result_run(company_code: str | None = None, job_number: str | None = None, *, key: str | None = None,
                    root: object | None = None) -> str | None:
    """The run id of the job's newest recorded result (by company and job number, or by job key)."""
    if key is None:
        if company_code is None or job_number is None:
            raise ValueError("last_result_run: give company_code and job_number, or key")
        key = job_key(company_code, job_number)
    found = job_history_by_key(key, limit=1, root=root)
    return found[0].run_id if found else None


def status_run_ids(*, root: object | None = None) -> set[str]:
    """The run ids the jobs' latest statuses name (retention keeps those runs' folders)."""
    t = JOB_STATUS
    eng = _reader(root)
    if eng is None:
        return set()
    with eng.connect() as conn:
        return {str(r) for r in conn.execute(sa.select(t.c.run_id).where(t.c.run_id.is_not(None)).distinct()).scalars()}
