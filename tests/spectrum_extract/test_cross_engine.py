"""The same extraction code (spectrum_source, include/sql/) through pyodbc on SQLite, PostgreSQL and MariaDB:
the canonical output is identical on the three engines and equals the oracle manifest."""
from __future__ import annotations

from decimal import Decimal

import pytest

from include.budget_import.money import db_amount
from include.budget_import.spectrum_source import (
    budget_line_parameters,
    find_job,
    iter_budget_lines,
    transaction_job_numbers,
)
from include.budget_import.sql_files import load_sql

from . import padded_keys
from .canonical import extract_canonical, oracle_canonical
from .conftest import ENGINES

pytestmark = pytest.mark.services

_cache: dict[str, dict] = {}


def _canonical(request, engine: str, company_codes) -> dict:
    """One extraction per engine per session (several tests compare it)."""
    if engine not in _cache:
        import pyodbc

        con = pyodbc.connect(request.getfixturevalue(f"demo_{engine}"))
        try:
            _cache[engine] = extract_canonical(con, company_codes)
        finally:
            con.close()
    return _cache[engine]


@pytest.fixture(scope="session")
def expected(demo_oracle) -> dict:
    return oracle_canonical(demo_oracle)


def _companies(oracle: dict) -> list[str]:
    return [c["company_code"] for c in oracle["companies"]]


def test_the_oracle_covers_every_awkward_case(expected, demo_oracle):
    """Guard against a vacuous comparison: the demo holds jobs, lines and the awkward values."""
    jobs = [j for c in expected.values() for j in c["jobs"].values()]
    lines = [ln for j in jobs for ln in j["lines"]]
    assert len(jobs) == 13 and len(lines) == sum(len(j["lines"]) for j in demo_oracle["jobs"]) > 100
    amounts = {a for ln in lines for a in ln[5:]}
    assert {"1234.5675", "15500.1250", "98765432109.9900", "-4200.0000", "-150.0000"} <= amounts
    assert any(ln[2] is None for ln in lines) and any(ln[3] is None for ln in lines)  # blank keys
    assert any(ln[4] == "電気" for ln in lines) and any(ln[4] is None for ln in lines)
    assert any(not j["readiness"]["estimates_posted"] for j in jobs)
    assert any(not j["readiness"]["budget_locked"] for j in jobs)


def test_extraction_equals_the_oracle(request, engine, demo_oracle, expected):
    got = _canonical(request, engine, _companies(demo_oracle))
    assert got.keys() == expected.keys()
    for cc in expected:
        assert got[cc]["cost_types"] == expected[cc]["cost_types"], f"{engine}: cost types of {cc}"
        assert sorted(got[cc]["jobs"]) == sorted(expected[cc]["jobs"]), f"{engine}: jobs of {cc}"
        for number, want in expected[cc]["jobs"].items():
            have = got[cc]["jobs"][number]
            assert have["job"] == want["job"], f"{engine}: job {cc}|{number}"
            assert have["readiness"] == want["readiness"], f"{engine}: readiness of {cc}|{number}"
            assert have["lines"] == want["lines"], f"{engine}: lines of {cc}|{number}"
    assert got == expected


def test_identical_on_the_three_engines(request, demo_oracle, expected):
    outputs = {engine: _canonical(request, engine, _companies(demo_oracle)) for engine in ENGINES}
    assert outputs["postgresql"] == outputs["sqlite"]
    assert outputs["mariadb"] == outputs["sqlite"]
    assert outputs["sqlite"] == expected


def test_a_job_only_procore_knows_is_not_found(demo_conn, demo_oracle):
    missing = [j for j in demo_oracle["jobs"] if not j["in_spectrum"]]
    assert missing
    for spec in missing:
        assert find_job(demo_conn, spec["company_code"], spec["job_number"]) is None


def _raw_line(conn, company: str, stored_job: str, phase: str, cost_type: str) -> tuple:
    job = find_job(conn, company, stored_job)
    parameters = budget_line_parameters(job, transaction_job_numbers(conn, company))
    cursor = conn.cursor()
    cursor.execute(load_sql("budget_lines"), parameters)
    rows = [r for r in cursor.fetchall() if r[2] == phase and r[3] == cost_type]
    cursor.close()
    assert len(rows) == 1, (phase, cost_type, rows)
    return tuple(rows[0])


# (job as stored, phase, cost type) -> (original estimate, JTD cost), exact, as the oracle has them
EXACT_CASES = {
    ("     20.01", "07-200", "M"): ("1234.5675", None),  # estimate with 4 decimals
    ("     20.01", "07-500", "S"): (None, "15500.1250"),  # JTD = 12500.125 + 3000.00
    ("     20.02", "15-500", "S"): ("98765432109.9900", None),  # 11 integer digits
    ("     20.02", "09-600", "M"): (None, None),  # a credit in the JTD
}


@pytest.mark.parametrize("key", list(EXACT_CASES), ids=[f"{p}|{c}" for _, p, c in EXACT_CASES])
def test_drivers_return_different_types_and_db_amount_makes_them_exact(demo_conn, engine, demo_oracle, key):
    """What each driver actually returns (SQLite: str for DECIMAL; PostgreSQL and MariaDB: Decimal; the JTD
    column is CAST to CHAR(30), which PostgreSQL pads with spaces), and that db_amount gets the oracle's
    exact value out of every one of them."""
    stored, phase, cost_type = key
    raw = _raw_line(demo_conn, "01", stored, phase, cost_type)
    estimate, jtd = raw[5], raw[6]
    assert isinstance(estimate, str if engine == "sqlite" else Decimal), type(estimate)
    assert isinstance(jtd, str), type(jtd)
    if engine == "postgresql":
        assert len(jtd) == 30 and jtd != jtd.rstrip(), repr(jtd)  # CHAR(30) blank-padded
    spec = next(j for j in demo_oracle["jobs"] if j["company_code"] == "01" and j["job_number_raw"] == stored)
    line = next(ln for ln in spec["lines"] if ln["phase_code"] == phase and ln["cost_type"] == cost_type)
    want_estimate, want_jtd = EXACT_CASES[key]
    assert str(db_amount(estimate)) == (want_estimate or line["original_estimate"] or "0.0000")
    assert str(db_amount(jtd)) == (want_jtd or line["jtd_cost"])
    job = find_job(demo_conn, "01", stored)
    (normalised,) = [ln for chunk in iter_budget_lines(demo_conn, job) for ln in chunk
                     if ln[2] == phase and ln[3] == cost_type]
    assert (str(normalised[5]), str(normalised[6])) == (str(db_amount(estimate)), str(db_amount(jtd)))


# --- keys padded and cased differently from table to table (padded_keys.py) --------------------------------
# SQLite and PostgreSQL compare raw text, MariaDB and SQL Server ignore case and trailing spaces: the rules in
# include/sql/ spell the comparison out, so all three engines give the outcome worked out by hand from SQL
# Server's semantics (and the project's trim of leading spaces).
_padded_cache: dict[str, dict] = {}


def _padded_canonical(request, engine: str) -> dict:
    if engine not in _padded_cache:
        import pyodbc

        con = pyodbc.connect(request.getfixturevalue(f"padded_{engine}"))
        try:
            _padded_cache[engine] = extract_canonical(con, padded_keys.COMPANIES)
        finally:
            con.close()
    return _padded_cache[engine]


def test_padded_and_mixed_case_keys_give_sql_servers_outcome(request, engine):
    got, want = _padded_canonical(request, engine), padded_keys.expected()
    assert got.keys() == want.keys()
    for cc in want:
        assert got[cc]["cost_types"] == want[cc]["cost_types"], f"{engine}: cost types of {cc}"
        assert sorted(got[cc]["jobs"]) == sorted(want[cc]["jobs"]), f"{engine}: jobs of {cc}"
        for number, job in want[cc]["jobs"].items():
            have = got[cc]["jobs"][number]
            assert have["job"] == job["job"], f"{engine}: job {cc}|{number}"
            assert have["readiness"] == job["readiness"], f"{engine}: readiness of {cc}|{number}"
            assert have["lines"] == job["lines"], f"{engine}: lines of {cc}|{number}"
    assert got == want


def test_padded_and_mixed_case_keys_identical_on_the_three_engines(request):
    outputs = {engine: _padded_canonical(request, engine) for engine in ENGINES}
    assert outputs["postgresql"] == outputs["sqlite"]
    assert outputs["mariadb"] == outputs["sqlite"]
    assert outputs["sqlite"] == padded_keys.expected()


def test_job_to_date_cost_across_paddings_is_an_exact_decimal(padded_conn):
    """The job's JTD costs, as the later stages get them: Decimals equal to the cent to the hand-made sums, and
    together every transaction of the job that has a phase row (not the other job's, company's or phase's)."""
    job = find_job(padded_conn, "01", "19.50")
    assert job is not None and job.stored_job_number == "     19.50"
    jtd = {}
    for chunk in iter_budget_lines(padded_conn, job):
        for line in chunk:
            assert type(line[6]) is Decimal
            jtd.setdefault((line[2], line[3]), set()).add(line[6])
    assert jtd[("06-100", "E")] == {Decimal("1003.12")}  # the job stored 4 ways in the transaction table
    assert jtd[("05-100", "L")] == {Decimal("15.01")}  # 'l' and 'L'
    assert jtd[("04-100", "L")] == {Decimal("300.30")}  # '04-100  ' in the master, '04-100' in transactions
    assert jtd[("09-100", "L")] == {Decimal("40.00")}  # two phase rows of one key: each sees the key's cost
    assert sum(min(v) for v in jtd.values()) == Decimal("1455.68")


def test_a_job_is_found_whatever_its_padding_or_case(padded_conn):
    """find_job compares as SQL Server does: 'A-100' finds the job stored '     a-100' on every engine, and
    returns the stored key the other queries seek on."""
    for typed in ("a-100", "A-100", "  A-100 "):
        job = find_job(padded_conn, "01", typed)
        assert job is not None, typed
        assert (job.job_number, job.stored_job_number) == ("a-100", "     a-100")
    assert find_job(padded_conn, "02", "19.50") != find_job(padded_conn, "02", "0019.50")


def _count(conn, sql: str, params: list) -> int:
    cursor = conn.cursor()
    try:
        return int(cursor.execute(sql, params).fetchone()[0])
    finally:
        cursor.close()


def test_the_range_of_a_jobs_transaction_forms_holds_every_one_of_them(padded_conn):
    """budget_lines.sql seeks a job's transactions between the first and last stored form
    transaction_job_numbers found for it, in the engine's own order: on every engine that range holds all
    of the job's transactions however they pad or case its number (the job 19.50 is stored four ways); a
    job without transactions is sought by its master's form."""
    forms = transaction_job_numbers(padded_conn, "01")
    job = find_job(padded_conn, "01", "19.50")
    first, last = forms.range_of(job)
    by_key = "SELECT COUNT(*) FROM JC_TRANSACTION_HISTORY_MC WHERE Company_Code = ? AND UPPER(LTRIM(RTRIM(Job_Number))) = ?"
    in_range = by_key + " AND Job_Number BETWEEN ? AND ?"
    stored = [tx[1] for tx in padded_keys.TRANSACTIONS if tx[0] == "01" and tx[1].strip() == "19.50"]
    assert len(set(stored)) == 4
    assert _count(padded_conn, by_key, ["01", "19.50"]) == len(stored)
    assert _count(padded_conn, in_range, ["01", "19.50", first, last]) == len(stored)
    annex = find_job(padded_conn, "01", "A-100")
    assert _count(padded_conn, in_range, ["01", "A-100", *forms.range_of(annex)]) == 2  # 'A-100' and '     a-100'
    yard = find_job(padded_conn, "02", "0019.50")
    assert transaction_job_numbers(padded_conn, "02").range_of(yard) == ("   0019.50", "   0019.50")
