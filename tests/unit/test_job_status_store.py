"""The job status store (include/budget_import/job_status_store.py) on SQLite (a tmp file) and PostgreSQL (a
uniquely named database on 127.0.0.1, dropped after; skipped with a reason without PostgreSQL, failed
under CI=true): one status row per job, one history row per run and job, exact amounts, concurrent
writers from two processes, and the Budgets listing in one SELECT."""
from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from include.budget_import import job_status_store as store
from include.budget_import import state_db
from tests.services import require_service

PG_ADMIN_URL = os.environ.get("BUDGET_IMPORT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _forget(url: str) -> None:
    """Drop this process's cached engines of `url` (before its database is dropped)."""
    for key in [k for k in state_db._ENGINES if k[1] == url]:
        state_db._ENGINES.pop(key).dispose()
    store._READY.difference_update({k for k in store._READY if k[1] == url})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """BUDGET_IMPORT_STATE_DB for the test: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        monkeypatch.setenv("BUDGET_IMPORT_STATE_DB", url)
        yield url
        _forget(url)
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"budget_status_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("BUDGET_IMPORT_STATE_DB", url)
    try:
        yield url
    finally:
        _forget(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def result(job: str, status: str, run_id: str | None, *, at: str = "2026-11-20T02:31:00+00:00", spectrum: Any = "1000.00",
           procore: Any = "1000.00", company: str = "01", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "company_code": company, "job_number": job, "status": status, "finished_at": at, "reason": None, "message": "", "mode": "override",
        "dry_run": status == "dry_run", "procore_project_id": 2001, "run_id": run_id,
        "stages": {"extract": {"extracted": 7}, "validate": {"rows": 7, "by_reason": {"missing_key": 1}, "expectations_passed": 9,
                                                              "expectations_failed": 1},
                   "reshape": {"line_items": 6, "skipped": 0, "rejected": 1}, "load": {"plan": {"create": 2}}},
        "totals": {"spectrum": spectrum, "line_items": spectrum, "skipped": "0.00", "rejected": "0.00", "procore": procore, "difference": "0.00"},
        **extra,
    }
    return payload


def count(url: str, table: sa.Table) -> int:
    with store.store_engine(url=url).connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_the_status_upsert_keeps_one_row_per_job(db_url: str):
    first, second = result("19.50", "synced", "manual__1"), result("19.50", "blocked", "scheduled__2", reason="budget_not_locked")
    store.record_status(first)
    store.record_status(second)
    assert store.read_status("01", "19.50") == second, "the payload round-trips as written"
    assert count(db_url, store.JOB_STATUS) == 1
    [row] = store.latest_statuses()
    assert (row.key, row.status, row.state, row.run_id, row.procore_project_id) == ("01_19.50", "blocked", "blocked", "scheduled__2", 2001)
    assert store.read_status("01", "no such job") == {}


def test_a_retried_run_overwrites_its_own_history_row(db_url: str):
    store.record_result(result("19.50", "failed", "scheduled__1", at="2026-11-20T02:31:00+00:00"))
    store.record_result(result("19.50", "synced", "scheduled__1", at="2026-11-20T02:45:00+00:00"))  # the retry
    assert count(db_url, store.JOB_RUNS) == 1
    [only] = store.job_history("01", "19.50")
    assert (only.run_id, only.status, only.dq_passed, only.dq_failed, only.rows_rejected) == ("scheduled__1", "synced", 9, 1, 1)
    store.record_result(result("19.50", "dry_run", "scheduled__2", at="2026-11-21T02:31:00+00:00"))
    store.record_result(result("19.50", "synced", "manual__0", at="2026-11-19T09:00:00+00:00"))
    assert [r.run_id for r in store.job_history("01", "19.50")] == ["scheduled__2", "scheduled__1", "manual__0"], "newest first"
    assert [r.run_id for r in store.job_history("01", "19.50", limit=2)] == ["scheduled__2", "scheduled__1"]
    assert store.last_result_run("01", "19.50") == "scheduled__2" == store.last_result_run(key="01_19.50")
    assert store.status_run_ids() == set(), "record_result alone sets no status"


def test_amounts_round_trip_exactly_and_a_float_is_refused(db_url: str):
    amounts = ["2630361.54", "123456789012.3456", "-0.01", "0.10", "99999999999999.9999"]
    for n, amount in enumerate(amounts):
        store.record_status(result(f"J{n}", "synced", "r1", spectrum=amount, procore=Decimal(amount)))
    rows = {r.job_number: r for r in store.latest_statuses()}
    history = {r.job_number: r for n in range(len(amounts)) for r in store.job_history("01", f"J{n}")}
    for n, amount in enumerate(amounts):
        assert rows[f"J{n}"].spectrum_total == amount == rows[f"J{n}"].procore_total
        assert history[f"J{n}"].spectrum_total == amount and Decimal(history[f"J{n}"].procore_total or "nan") == Decimal(amount)
    store.record_status(result("F", "synced", "r1", spectrum=0.1, procore="not a number"))
    [floaty] = store.job_history("01", "F")
    assert (floaty.spectrum_total, floaty.procore_total) == (None, None)
    assert store.exact_amount(Decimal("1E+2")) == "100" and store.exact_amount(Decimal("NaN")) is None


def test_the_budgets_listing_is_one_select(db_url: str):
    for n in range(40):
        store.record_status(result(str(n), "synced" if n % 2 else "blocked", f"r{n % 3}"))
    engine = store.store_engine(url=db_url)
    store.latest_statuses()  # first use made and checked the tables
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        rows = store.latest_statuses()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(rows) == 40 and len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT"), statements
    assert {r.state for r in store.latest_statuses(states=frozenset({"blocked"}))} == {"blocked"}


def test_a_status_naming_no_run_gets_the_run_of_its_result(db_url: str):
    blocked = result("21.10", "blocked", None, reason="estimates_not_posted")
    store.record_result({**blocked, "run_id": "scheduled__7"}, blocked)
    [row] = store.latest_statuses()
    assert row.run_id == "scheduled__7" and row.payload.get("run_id") is None


def _writer(url: str, worker: int, jobs: int, barrier: Any) -> None:
    os.environ["BUDGET_IMPORT_STATE_DB"] = url
    barrier.wait(timeout=60)
    for n in range(jobs):
        store.record_status(result(f"W{worker}-{n}", "synced", f"run_{worker}", spectrum=f"{worker}{n}.01"))
        store.record_status(result("SHARED", "synced", f"run_{worker}", at=f"2026-11-20T02:{n:02d}:0{worker}+00:00"))


def test_concurrent_writers_from_two_processes_both_land(db_url: str):
    """Two processes (spawned: nothing shared but the database) write at once, from the database's first
    use (both may create the tables): every row of both lands, one status row for the job both wrote."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    jobs = 25
    procs = [ctx.Process(target=_writer, args=(db_url, w, jobs, barrier)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    rows = {r.job_number: r for r in store.latest_statuses()}
    assert len(rows) == 2 * jobs + 1
    assert all(rows[f"W{w}-{n}"].spectrum_total == f"{w}{n}.01" for w in (1, 2) for n in range(jobs))
    assert rows["SHARED"].run_id in ("run_1", "run_2")
    assert sorted(r.run_id for r in store.job_history("01", "SHARED")) == ["run_1", "run_2"], "one history row per run"
    assert count(db_url, store.JOB_RUNS) == 2 * jobs + 2


def test_the_default_is_an_sqlite_file_in_the_reports_root_and_a_reader_never_creates_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BUDGET_IMPORT_STATE_DB", raising=False)
    root = tmp_path / "reports"
    root.mkdir()
    assert store.latest_statuses(root=root) == [] and store.read_status("01", "1", root=root) == {} and store.job_history("01", "1", root=root) == []
    assert not (root / "budget_state.db").exists(), "reading an empty store creates nothing"
    store.record_status(result("1", "synced", "r1"), root=root)
    assert (root / "budget_state.db").is_file() and store.read_status("01", "1", root=root)["run_id"] == "r1"
    assert store.status_run_ids(root=root) == {"r1"}
    _forget(store.store_url(root))


def test_other_databases_are_refused_with_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BUDGET_IMPORT_STATE_DB", "mysql+pymysql://user@127.0.0.1:1/budget")
    with pytest.raises(ValueError, match="'mysql' is not supported.*SQLite or PostgreSQL"):
        store.record_status(result("1", "synced", "r1"))
    monkeypatch.delenv("BUDGET_IMPORT_STATE_DB")
    with pytest.raises(ValueError, match="set BUDGET_IMPORT_STATE_DB"):
        store.store_url("s3://bucket/reports")
