"""The bad-input corpus (tests/reliability/corpus.py), each case a real pipeline run: a copy of the demo
Spectrum database with the case's rows or records, read through the SQLite ODBC driver, loaded into the
Procore emulator. Each case ends exactly as its `expect` says, nothing crashes, the Spectrum database is
untouched by the import, and the good rows of the same job load exactly as the oracle says."""
from __future__ import annotations

import csv
import shutil
import sqlite3
from collections import Counter
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pyodbc
import pytest

from include.budget_import.artifacts import RunFolder
from include.budget_import.pipeline import JobRequest, import_job
from tests.reliability.corpus import CASES, Case
from tests.reliability.harness import check_budget, job_spec, make_api, record

GOOD_LINES = 20  # clean lines of 01/19.50 in the demo sample


def database_fingerprint(db: Path) -> tuple:
    """Schema and row count of every table: the import must change neither."""
    with closing(sqlite3.connect(db)) as conn:
        tables = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        counts = tuple(conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name, sql in tables if sql and sql.startswith("CREATE TABLE"))
    return tuple(tables), counts


def build_case_db(source: Path, folder: Path, case: Case) -> Path:
    db = folder / "spectrum.db"
    shutil.copy(source, db)
    with closing(sqlite3.connect(db)) as conn, conn:
        for table, rows in (("JC_PHASE_MASTER_MC", case.rows), ("JC_TRANSACTION_HISTORY_MC", case.transactions)):
            for row in rows:
                conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        for statement in case.sql:
            conn.execute(statement)
    return db


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_bad_input_is_quarantined_refused_or_harmless(case: Case, emu, demo_sample, tmp_path):
    spec = job_spec(demo_sample.manifest(), "01", "19.50")
    project = spec["procore_project_id"]
    db = build_case_db(demo_sample.db_path, tmp_path, case)
    before = database_fingerprint(db)
    emu.clear_log()
    params = {"company": "01", "job": "19.50", "company_id": 1001, "mode": "override", **case.params}
    folder = RunFolder(f"corpus-{case.key}", root=tmp_path).job(params["company"], params["job"])
    result, error = None, None
    try:
        request = JobRequest(params["company"], params["job"], params["company_id"], params["mode"])
        with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={db}")) as spectrum:
            result = import_job(spectrum, make_api(emu.url), request, folder)
    except Exception as exc:  # noqa: BLE001 - a refusal is a specific exception; anything else fails below
        error = exc
    outcome = "refused" if error else result["status"]

    problems: list[str] = []
    if case.expect == "refused":
        if error is None or type(error).__name__ != case.error[0] or case.error[1] not in str(error):
            problems.append(f"expected {case.error[0]} mentioning {case.error[1]!r}, got {outcome}: {error!r}")
    elif error is not None:
        problems.append(f"crashed: {type(error).__name__}: {error}")
    elif case.expect == "blocked":
        held = "needs_review" if case.reasons[0] == "needs_review" else "blocked"
        if (result["status"], result.get("reason")) != (held, case.reasons[0]):
            problems.append(f"expected {held} {case.reasons[0]}, got {result['status']} {result.get('reason')}")
    else:  # the job imports: the case's rows get their outcome, the good rows load as the oracle says
        if result["status"] != "synced" or not result["stages"]["load"]["reconciled"]:
            problems.append(f"expected synced and reconciled, got {result['status']}")
        stages = result["stages"]
        added = len(case.rows)
        counted = sum(stages["reshape"][k] for k in ("line_items", "skipped", "rejected"))
        extracted = stages["extract"]["extracted"]
        expected_rows = 0 if case.budget == {} else GOOD_LINES + (added if case.kind == "row" and case.expect != "synced" else 0)
        if not (counted == extracted == expected_rows):
            problems.append(f"rows not accounted for: {counted} outcomes, {extracted} extracted, {expected_rows} expected")
        want = Counter(r for r in case.reasons if r)
        if Counter(stages["validate"]["by_reason"]) != want:
            problems.append(f"reasons {stages['validate']['by_reason']} != {dict(want)}")
        if want:  # the quarantined rows are in rejects.csv with their reason (readable with csv's default field limit)
            with open(folder.file("rejects.csv"), encoding="utf-8") as handle:
                left_out = Counter(row["reason"] for row in csv.DictReader(handle))
            if left_out != want:
                problems.append(f"rejects.csv reasons {dict(left_out)} != {dict(want)}")
        totals = result["totals"]  # Spectrum's total is every extracted row, to the cent
        parts = sum(Decimal(totals[k]) for k in ("line_items", "skipped", "rejected"))
        if Decimal(totals["spectrum"]) != parts or Decimal(totals["difference"]) != Decimal(totals["procore"]) - parts:
            problems.append(f"totals do not add up: {totals}")

    # Procore: blocked or refused -> untouched; otherwise exactly the good lines (+ the case's own)
    if outcome in ("blocked", "refused", "needs_review"):
        expected = spec["existing_procore_budget"]
        writes = [w for w in emu.writes() if w["status"] and w["status"] < 400]
        if writes:
            problems.append(f"{outcome} but Procore was written: {writes[:3]}")
    elif case.budget is not None:
        expected = case.budget
    else:
        kept = {k: spec["existing_procore_budget"][k] for k in case.keeps if k in spec["existing_procore_budget"]}
        expected = {k: v for k, v in spec["expected_budget"].items() if k not in case.removes} | case.loads | kept
    check = check_budget(emu.url, project, expected, f"01/19.50 ({case.key})")
    problems += check.problems
    if database_fingerprint(db) != before:
        problems.append("the Spectrum database changed during the import")

    record("bad_input", case=case.key, what=case.what, case_kind=case.kind, expect=case.expect, outcome=outcome,
           reasons=[r for r in case.reasons if r], ok=not problems, lines_expected=check.expected_lines,
           lines_lost=check.lost, duplicates=check.duplicates, error=f"{type(error).__name__}: {error}" if error else None)
    assert not problems, "\n".join(problems)


def test_corpus_has_at_least_thirty_distinct_kinds():
    assert len(CASES) >= 30
    assert {c.kind for c in CASES} == {"row", "job", "param"}
