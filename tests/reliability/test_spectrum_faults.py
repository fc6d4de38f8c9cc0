"""Spectrum faults: the database refuses the connection, drops it in the middle of the extract, or a query
times out. Each ends in a SpectrumError that names the job and the stage, with nothing written to
Procore and no `synced` status (never a partial budget presented as complete); once the fault is gone,
the same run (Airflow's retry) imports the job exactly as the oracle says.

SQLite cases (a file in a missing folder, a missing file, a database locked past the driver's busy
timeout) always run. PostgreSQL cases (a closed port, pg_terminate_backend while fetching, a
statement_timeout) go through tests/services.py: they skip on a laptop without PostgreSQL and fail
under CI=true.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from include.budget_import import job_status_store
from include.budget_import.artifacts import RunFolder
from include.budget_import.pipeline import JobRequest, import_job
from include.budget_import.spectrum_source import SpectrumError
from standins.procore_emulator.server import free_port
from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.load import build
from tests.reliability.harness import check_budget, job_spec, make_api, record
from tests.services import require_service

PG_SERVER = os.environ.get("SPECTRUM_SAMPLE_PG_ODBC", "DRIVER={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Uid=postgres;Pwd=;")
PG_DRIVER = re.search(r"DRIVER=\{([^}]*)\}", PG_SERVER).group(1)  # type: ignore[union-attr]


def _pg_address() -> tuple[str, int]:
    host = re.search(r"Server=([^;]+)", PG_SERVER, re.I)
    port = re.search(r"Port=(\d+)", PG_SERVER, re.I)
    return (host.group(1) if host else "127.0.0.1"), int(port.group(1)) if port else 5432


def require_driver(name: str) -> None:
    if name in pyodbc.drivers():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"ODBC driver {name!r} is not installed (CI=true: apt-packages.txt installs it)")
    pytest.skip(f"ODBC driver {name!r} is not installed")


def run(odbc_or_conn: Any, emu, tmp_path: Path, tag: str) -> tuple[dict | None, BaseException | None]:
    """import_job for 01/19.50 (override) on a connection string or an open connection."""
    folder = RunFolder(f"spectrum-fault-{tag}", root=tmp_path).job("01", "19.50")
    try:
        if isinstance(odbc_or_conn, str):
            with closing(pyodbc.connect(odbc_or_conn)) as spectrum:
                return import_job(spectrum, make_api(emu.url), JobRequest("01", "19.50", 1001), folder), None
        return import_job(odbc_or_conn, make_api(emu.url), JobRequest("01", "19.50", 1001), folder), None
    except Exception as exc:  # noqa: BLE001 - the assertions below say which failure is the right one
        return None, exc


def assert_clear_failure_and_nothing_written(error, result, emu, spec, tmp_path, tag: str, stage: str) -> None:
    assert result is None, f"expected a failure, got {result and result['status']}"
    assert isinstance(error, SpectrumError), f"expected SpectrumError, got {type(error).__name__}: {error}"
    assert (error.company_code, error.job_number) == ("01", "19.50") and error.stage.startswith(stage)
    assert "job 01/19.50" in str(error) and f"stage {stage}" in str(error)
    writes = [w for w in emu.writes() if w["status"] and w["status"] < 400]
    assert writes == [], f"Procore was written after a Spectrum fault: {writes[:3]}"
    assert check_budget(emu.url, spec["procore_project_id"], spec["existing_procore_budget"], "01/19.50").ok
    folder = RunFolder(f"spectrum-fault-{tag}", root=tmp_path).job("01", "19.50")
    assert job_status_store.read_status("01", "19.50", root=folder.run.root).get("status") != "synced"
    assert not folder.file("result.json").exists(), "a failed job must not leave a result that reads as finished"


def assert_retry_imports(odbc_or_conn, emu, spec, tmp_path, tag: str) -> bool:
    result, error = run(odbc_or_conn, emu, tmp_path, f"{tag}-retry")
    assert error is None, f"the retry failed: {error}"
    assert result["status"] == "synced"
    check = check_budget(emu.url, spec["procore_project_id"], spec["expected_budget"], "01/19.50")
    assert check.ok, check.problems
    return True


@pytest.fixture()
def spec(demo_sample) -> dict:
    return job_spec(demo_sample.manifest(), "01", "19.50")


# --- connection refused ----------------------------------------------------------------------------------
SPECTRUM_PASSWORD = "s3cr3t-SPECTRUM-4e1f"  # distinctive, so a leak is found by a plain substring scan


def test_spectrum_connection_refused_names_the_job_and_stage(tmp_path, monkeypatch, caplog):
    """The DAG tasks open Spectrum through the spectrum_db connection: a refused connection (PostgreSQL
    driver, a port nobody listens on) fails the task with the job and the stage, not a bare driver error,
    and the connection's password appears neither in the error (nor its cause) nor in the log."""
    require_driver(PG_DRIVER)
    from include.budget_import.dag_tasks import spectrum_for

    monkeypatch.setenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", "true")
    monkeypatch.setenv("AIRFLOW_CONN_SPECTRUM_DB", f'{{"conn_type": "odbc", "host": "127.0.0.1", "port": {free_port()}, "schema": "spectrum", '
                       f'"login": "infolink", "password": "{SPECTRUM_PASSWORD}", "extra": {{"driver": "{PG_DRIVER}"}}}}')
    caplog.set_level("DEBUG")
    with pytest.raises(SpectrumError) as caught:
        with spectrum_for("01", "19.50", "import_job"):
            pass
    message = str(caught.value)
    assert "job 01/19.50" in message and "stage import_job, connecting" in message and "Connection refused" in message
    assert "Nothing was written to Procore" in message
    seen = [message, repr(caught.value), str(caught.value.__cause__), repr(caught.value.__cause__), caplog.text]
    assert not [text for text in seen if SPECTRUM_PASSWORD in text], "the Spectrum password leaked into an error or the log"
    record("spectrum_fault", case="connection refused (PostgreSQL port closed)", clear_error=True, procore_writes=0, recovered=None)


def test_sqlite_file_in_a_missing_folder_names_the_job(tmp_path, monkeypatch):
    from include.budget_import.dag_tasks import spectrum_for

    monkeypatch.setenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", "true")
    monkeypatch.setenv("AIRFLOW_CONN_SPECTRUM_DB",
                       f'{{"conn_type": "odbc", "schema": "{tmp_path / "gone" / "spectrum.db"}", "extra": {{"driver": "SQLite3"}}}}')
    with pytest.raises(SpectrumError, match=r"job 01/19\.50 \(stage extract, connecting\).*connect failed"):
        with spectrum_for("01", "19.50", "extract"):
            pass
    record("spectrum_fault", case="connection refused (SQLite file in a missing folder)", clear_error=True, procore_writes=0, recovered=None)


def test_missing_sqlite_file_fails_before_anything_is_written(emu, demo_sample, spec, tmp_path):
    """The SQLite ODBC driver creates a missing file, so the failure is the first query's: still a
    SpectrumError naming the job and stage, with Procore untouched."""
    emu.clear_log()
    result, error = run(f"DRIVER={{SQLite3}};Database={tmp_path / 'missing.db'}", emu, tmp_path, "missing")
    assert_clear_failure_and_nothing_written(error, result, emu, spec, tmp_path, "missing", "check_prerequisites")
    assert "no such table" in str(error)
    recovered = assert_retry_imports(demo_sample.odbc, emu, spec, tmp_path, "missing")
    record("spectrum_fault", case="missing SQLite file", clear_error=True, procore_writes=0, recovered=recovered)


def test_sqlite_database_locked_past_the_busy_timeout(emu, demo_sample, spec, tmp_path):
    db = tmp_path / "spectrum.db"
    shutil.copy(demo_sample.db_path, db)
    emu.clear_log()
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        result, error = run(f"DRIVER={{SQLite3}};Database={db};Timeout=300", emu, tmp_path, "locked")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert_clear_failure_and_nothing_written(error, result, emu, spec, tmp_path, "locked", "check_prerequisites")
    assert "locked" in str(error)
    recovered = assert_retry_imports(f"DRIVER={{SQLite3}};Database={db};Timeout=300", emu, spec, tmp_path, "locked")
    record("spectrum_fault", case="query timeout (SQLite database locked past the busy timeout)", clear_error=True, procore_writes=0, recovered=recovered)


# --- PostgreSQL: dropped mid-extract, statement timeout ----------------------------------------------------
@pytest.fixture(scope="module")
def pg_demo() -> Iterator[str]:
    host, port = _pg_address()
    require_service("PostgreSQL", host, port)
    require_driver(PG_DRIVER)
    name = f"reliability_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = pyodbc.connect(PG_SERVER + "Database=postgres;", autocommit=True, timeout=5)
    admin.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    try:
        odbc = PG_SERVER + f"Database={name};"
        build(Dataset("demo"), odbc=odbc)
        yield odbc
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


class _DropCursor:
    """A real cursor; after the budget-lines query hands out its first rows, the server ends the session."""

    def __init__(self, cursor: Any, owner: DropAfterFirstRows) -> None:
        self._cursor = cursor
        self._owner = owner
        self._lines = False

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._lines = "JC_TRANSACTION_HISTORY_MC" in sql
        return self._cursor.execute(sql, params)

    def fetchmany(self, size: int) -> list:
        rows = self._cursor.fetchmany(min(size, 5) if self._lines else size)
        if self._lines and rows and not self._owner.dropped:
            self._owner.drop()
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class DropAfterFirstRows:
    """A pyodbc connection (server-side cursor, 5 rows per fetch) that pg_terminate_backend ends mid-extract."""

    def __init__(self, odbc: str) -> None:
        self.conn = pyodbc.connect(odbc + "UseDeclareFetch=1;Fetch=5;")
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.odbc = odbc
        self.dropped = False

    def drop(self) -> None:
        with closing(pyodbc.connect(self.odbc, autocommit=True)) as admin:
            admin.execute("SELECT pg_terminate_backend(?)", self.pid)
        self.dropped = True

    def cursor(self) -> _DropCursor:
        return _DropCursor(self.conn.cursor(), self)

    def close(self) -> None:
        try:
            self.conn.close()
        except pyodbc.Error:
            pass


@pytest.mark.services
def test_connection_dropped_mid_extract(emu, pg_demo, spec, tmp_path):
    emu.clear_log()
    conn = DropAfterFirstRows(pg_demo)
    try:
        result, error = run(conn, emu, tmp_path, "dropped")
    finally:
        conn.close()
    assert conn.dropped, "the connection was never dropped: the test proves nothing"
    assert_clear_failure_and_nothing_written(error, result, emu, spec, tmp_path, "dropped", "extract")
    assert "terminating connection" in str(error) or "connection" in str(error).lower()
    recovered = assert_retry_imports(pg_demo, emu, spec, tmp_path, "dropped")
    record("spectrum_fault", case="connection dropped mid-extract (PostgreSQL pg_terminate_backend)", clear_error=True, procore_writes=0, recovered=recovered)


@pytest.mark.services
def test_query_timeout_during_extract(emu, pg_demo, spec, tmp_path):
    """Another session holds JC_PHASE_MASTER_MC; the extract's query hits statement_timeout (set for the
    session through psqlODBC's ConnSettings, as a site would on its spectrum_db connection)."""
    emu.clear_log()
    locker = pyodbc.connect(pg_demo)
    locker.execute("LOCK TABLE JC_PHASE_MASTER_MC IN ACCESS EXCLUSIVE MODE")
    try:
        result, error = run(pg_demo + "ConnSettings={SET statement_timeout=500};", emu, tmp_path, "timeout")
    finally:
        locker.rollback()
        locker.close()
    assert_clear_failure_and_nothing_written(error, result, emu, spec, tmp_path, "timeout", "extract")
    assert "statement timeout" in str(error)
    recovered = assert_retry_imports(pg_demo + "ConnSettings={SET statement_timeout=500};", emu, spec, tmp_path, "timeout")
    record("spectrum_fault", case="query timeout during the extract (PostgreSQL statement_timeout)", clear_error=True, procore_writes=0, recovered=recovered)
