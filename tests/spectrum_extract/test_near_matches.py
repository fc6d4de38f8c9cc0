"""A job that is not found names the jobs the person may have meant (spectrum_source.near_jobs,
include/sql/spectrum_job_near_matches.sql), the same on SQLite, PostgreSQL and MariaDB: the same number in
another company, the same number spelt otherwise (padding, leading or trailing zeros, case). One query, run
only when the job was not found; input reaches it as a bound LIKE pattern, never as SQL."""
from __future__ import annotations

import pytest

from include.budget_import.prerequisites import JobBlockedError, JobRequest, spectrum_prerequisites
from include.budget_import.spectrum_source import job_number_core, near_jobs
from include.budget_import.sql_files import load_sql

from .test_injection import HOSTILE, _counts

pytestmark = pytest.mark.services

# padded_keys.JOBS: 01 '     19.50', 01 '     a-100', 02 '     19.50', 02 '   0019.50'
CASES = {
    # company typed 'O1' for '01': the same number in every company first, then other spellings
    ("O1", "19.50"): [("01", "19.50"), ("02", "19.50"), ("02", "0019.50")],
    # a trailing zero short: the same company's 19.50 first, then the other company's spellings
    ("01", "19.5"): [("01", "19.50"), ("02", "0019.50"), ("02", "19.50")],
    ("01", " 0019.500 "): [("01", "19.50"), ("02", "0019.50"), ("02", "19.50")],
    # the other company's 0019.50 is the same number spelt otherwise; its 19.50 is not the job asked for
    ("02", "19.5"): [("02", "0019.50"), ("02", "19.50"), ("01", "19.50")],
    # case: the job is stored 'a-100' in company 01 only
    ("02", "A-100"): [("01", "a-100")],
    ("03", "a-0100"): [],  # zeros inside a number are part of it
    ("01", "77.77"): [],
    ("01", "9"): [],
}


def _names(jobs) -> list[tuple[str, str]]:
    return [(j.company_code, j.job_number) for j in jobs]


@pytest.mark.parametrize(("company", "typed"), list(CASES), ids=[f"{c}|{j.strip()}" for c, j in CASES])
def test_near_matches_name_the_jobs_a_person_may_have_meant(padded_conn, company, typed):
    assert _names(near_jobs(padded_conn, company, typed)) == CASES[(company, typed)]


def test_near_matches_are_the_same_on_the_three_engines(request):
    import pyodbc

    seen = {}
    for engine in ("sqlite", "postgresql", "mariadb"):
        con = pyodbc.connect(request.getfixturevalue(f"padded_{engine}"))
        try:
            seen[engine] = {key: near_jobs(con, *key) for key in CASES}
        finally:
            con.close()
    assert seen["postgresql"] == seen["sqlite"] and seen["mariadb"] == seen["sqlite"]
    found = [j for jobs in seen["sqlite"].values() for j in jobs]
    assert {j.stored_job_number for j in found} == {"     19.50", "   0019.50", "     a-100"}  # stored keys kept


def test_at_most_the_limit_is_named(padded_conn):
    assert _names(near_jobs(padded_conn, "O1", "19.50", limit=2)) == [("01", "19.50"), ("02", "19.50")]


def test_the_core_of_a_job_number():
    assert {job_number_core(n) for n in ("19.5", "19.50", " 0019.500 ", "019.5")} == {"19.5"}
    assert job_number_core("a-100") == job_number_core(" A-100") == "A-100"
    assert (job_number_core("100"), job_number_core("19.00"), job_number_core("000"), job_number_core(" ")) == (
        "100", "19", "0", "")


class _CountingConnection:
    def __init__(self, conn):
        self._conn, self.statements = conn, []

    def cursor(self):
        cursor, statements = self._conn.cursor(), self.statements

        class _Cursor:
            def execute(self, sql, params=()):
                statements.append(sql)
                return cursor.execute(sql, params)

            def __getattr__(self, name):
                return getattr(cursor, name)

        return _Cursor()


def test_nothing_is_queried_for_a_number_no_job_can_have(padded_conn):
    rec = _CountingConnection(padded_conn)
    for typed in ("", "   ", "9" * 10_000, "12345678901"):
        assert near_jobs(rec, "01", typed) == []
    assert rec.statements == []


def test_hostile_input_is_a_bound_pattern_that_matches_nothing(padded_conn):
    before = _counts(padded_conn)
    short = ["'", "';--", "1' OR '1", "%", "_", "19.5_", "[1]", "!", "19!50", "%19.50%", "19\\.50", "$$;$$"]
    for hostile in HOSTILE + short:
        assert near_jobs(padded_conn, "01", hostile) == [], hostile
        assert near_jobs(padded_conn, hostile, "19.50") != [], hostile  # a company is only compared in Python
    assert _counts(padded_conn) == before


def test_like_wildcards_typed_are_matched_literally(padded_conn):
    """What `_like_contains` escapes would otherwise widen the scan: '_' matches any one character."""
    cursor = padded_conn.cursor()
    try:
        cursor.execute(load_sql("spectrum_job_near_matches"), ["%19.5_%"])
        assert len(cursor.fetchall()) == 3  # unescaped: every 19.50
        for pattern in ("%19.5!_%", "%![1]%", "%9!%%", "%!!%"):
            cursor.execute(load_sql("spectrum_job_near_matches"), [pattern])
            assert cursor.fetchall() == [], pattern
        cursor.execute(load_sql("spectrum_job_near_matches"), ["%A!-100%"])  # ! before any other character
        assert [r[1] for r in cursor.fetchall()] == ["     a-100"]
    finally:
        cursor.close()


def test_a_job_not_found_is_blocked_naming_its_near_matches_with_one_query(padded_conn):
    rec = _CountingConnection(padded_conn)
    with pytest.raises(JobBlockedError) as blocked:
        spectrum_prerequisites(rec, JobRequest("O1", "19.50", 1001))
    assert blocked.value.reason == "job_not_found"
    assert str(blocked.value) == (
        "The job does not exist in this Spectrum company. (company 'O1', job '19.50'). Near matches: "
        "job 19.50 exists in company 01; job 19.50 exists in company 02; job 0019.50 exists in company 02.")
    assert rec.statements == [load_sql("spectrum_job_lookup"), load_sql("spectrum_job_near_matches")]

    rec.statements.clear()
    with pytest.raises(JobBlockedError, match=r"job '77\.77'\)$"):  # nothing near: the message as before
        spectrum_prerequisites(rec, JobRequest("01", "77.77", 1001))
    rec.statements.clear()
    job, _ = spectrum_prerequisites(rec, JobRequest("01", "A-100", 1001))  # found: no near-match query
    assert job.stored_job_number == "     a-100"
    assert rec.statements == [load_sql(name) for name in ("spectrum_job_lookup", "job_estimates_posted", "job_budget_locked")]
