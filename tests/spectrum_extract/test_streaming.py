"""iter_budget_lines streams a job bigger than one chunk: several chunks, lazily fetched, adding up to the
job's rows (scale profile, 1 job x 2,500 lines, chunk_size=1,000). Figures: scripts/bench_extract.py."""
from __future__ import annotations

import pytest

from include.budget_import.spectrum_source import iter_budget_lines, list_jobs, transaction_job_numbers

from .conftest import BIG_JOB_LINES

pytestmark = pytest.mark.services

CHUNK = 1_000


@pytest.fixture()
def big_job_conn(engine, request):
    import pyodbc

    con = pyodbc.connect(request.getfixturevalue(f"big_job_{engine}"))
    yield con
    con.close()


def _the_job(conn):
    jobs = list_jobs(conn, "01") + list_jobs(conn, "02")
    assert len(jobs) == 1
    return jobs[0]


def test_a_job_bigger_than_a_chunk_comes_in_several_chunks(big_job_conn):
    job = _the_job(big_job_conn)
    sizes = [len(chunk) for chunk in iter_budget_lines(big_job_conn, job, chunk_size=CHUNK)]
    assert sizes == [CHUNK, CHUNK, BIG_JOB_LINES - 2 * CHUNK]
    assert sum(sizes) == BIG_JOB_LINES
    cursor = big_job_conn.cursor()
    cursor.execute("SELECT COUNT(*) FROM JC_PHASE_MASTER_MC")
    assert cursor.fetchone()[0] == sum(sizes)
    cursor.close()


def test_chunking_does_not_change_the_rows(big_job_conn):
    job = _the_job(big_job_conn)
    chunked = [line for chunk in iter_budget_lines(big_job_conn, job, chunk_size=CHUNK) for line in chunk]
    whole = [line for chunk in iter_budget_lines(big_job_conn, job, chunk_size=10 * BIG_JOB_LINES) for line in chunk]
    assert len(chunked) == BIG_JOB_LINES and chunked == whole


class _CountingCursor:
    """Counts the rows the extraction has pulled from the driver, and refuses fetchall()."""

    def __init__(self, cursor, seen: list[int]):
        self._cursor, self._seen = cursor, seen

    def fetchmany(self, size):
        rows = self._cursor.fetchmany(size)
        self._seen.append(len(rows))
        return rows

    def fetchall(self):
        raise AssertionError("iter_budget_lines must not fetch the whole result at once")

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _CountingConnection:
    def __init__(self, conn):
        self._conn, self.seen = conn, []

    def cursor(self):
        return _CountingCursor(self._conn.cursor(), self.seen)


def test_rows_are_pulled_one_chunk_at_a_time(big_job_conn):
    """Bounded memory on our side: when the first chunk is handed over, only that chunk has been fetched, and
    the cursor is closed when the consumer stops early. (What the DRIVER buffers is a driver setting: see
    docs/spectrum.md, "Memory".) The company's forms of job numbers (one row per job) are read beforehand,
    as a batch reads them once."""
    job = _the_job(big_job_conn)
    transactions = transaction_job_numbers(big_job_conn, job.company_code)
    counting = _CountingConnection(big_job_conn)
    chunks = iter_budget_lines(counting, job, chunk_size=CHUNK, transactions=transactions)
    first = next(chunks)
    assert len(first) == CHUNK and counting.seen == [CHUNK]
    second = next(chunks)
    assert len(second) == CHUNK and counting.seen == [CHUNK, CHUNK]
    chunks.close()  # consumer stops early: the generator's finally closes the cursor
    assert counting.seen == [CHUNK, CHUNK]


def test_the_loaded_sample_has_optimizer_statistics(big_job_postgresql):
    """Regression: without statistics after the bulk load, PostgreSQL planned budget_lines.sql as a nested
    loop re-aggregating the job's transactions per phase row (2.4 s instead of 20 ms for this job)."""
    import pyodbc

    con = pyodbc.connect(big_job_postgresql)
    try:
        rows = con.execute("SELECT relname, reltuples FROM pg_class WHERE relname IN "
                           "('jc_phase_master_mc', 'jc_transaction_history_mc')").fetchall()
    finally:
        con.close()
    stats = {name: tuples for name, tuples in rows}
    assert stats["jc_phase_master_mc"] == BIG_JOB_LINES and stats["jc_transaction_history_mc"] > BIG_JOB_LINES
