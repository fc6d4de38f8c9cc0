"""Hostile input reaches every engine as a bound value, never as SQL: the tables survive and the job is
reported unknown (find_job returns None), on SQLite, PostgreSQL and MariaDB."""
from __future__ import annotations

import pytest

from include.budget_import.spectrum_source import (
    SpectrumJob,
    cost_types,
    find_job,
    iter_budget_lines,
    list_jobs,
    readiness_facts,
)
from standins.spectrum_sample.schema import TABLES

pytestmark = pytest.mark.services

HOSTILE = [
    "1'; DROP TABLE JC_PHASE_MASTER_MC; --",
    "1\\'; DROP TABLE JC_PHASE_MASTER_MC; -- ",  # MariaDB treats \ as an escape inside '...'
    "' OR '1'='1",
    "19.50' OR 1=1 --",
    "1; DROP TABLE JC_PHASE_MASTER_MC",
    "$$; DROP TABLE JC_PHASE_MASTER_MC; $$",  # PostgreSQL dollar quoting
    "1' UNION SELECT Company_Code, Job_Number, Master_Job, Job_Description, Status_Code FROM JC_JOB_MASTER_MC --",
    "?",
]


def _counts(conn) -> dict[str, int]:
    cursor = conn.cursor()
    try:
        out = {}
        for table in TABLES:
            cursor.execute(f"SELECT COUNT(*) FROM {table.name}")  # test-only, constant table names
            out[table.name] = int(cursor.fetchone()[0])
        return out
    finally:
        cursor.close()


def test_a_hostile_job_number_is_an_unknown_job(demo_conn):
    before = _counts(demo_conn)
    assert before["JC_PHASE_MASTER_MC"] > 0
    for hostile in HOSTILE:
        assert find_job(demo_conn, "01", hostile) is None, hostile
        assert find_job(demo_conn, hostile, "19.50") is None, hostile
    assert _counts(demo_conn) == before
    assert find_job(demo_conn, "01", "19.50") is not None  # the connection still works normally


def test_hostile_values_in_every_other_query_match_nothing(demo_conn):
    before = _counts(demo_conn)
    for hostile in HOSTILE:
        assert list_jobs(demo_conn, hostile) == []
        assert cost_types(demo_conn, hostile) == {}
        job = SpectrumJob(company_code="01", job_number=hostile, stored_job_number=hostile, master_job=None,
                          description=None, status_code="A")
        facts = readiness_facts(demo_conn, job)
        assert facts.unposted_estimate_entries == 0 and not facts.budget_locked  # no such job: not ready
        assert list(iter_budget_lines(demo_conn, job)) == []
    assert _counts(demo_conn) == before
