"""The client secret and every token issued during a run never appear in task logs, XCom, reports or
the run's output."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import run_dag

pytestmark = pytest.mark.e2e


def issued_tokens(emulator) -> list[str]:
    with sqlite3.connect(emulator.server.db_path) as db:
        return [row[0] for row in db.execute("SELECT token FROM tokens")]


def test_secret_and_tokens_never_reach_logs_xcom_or_reports(demo_sample, emulator, airflow_home):
    """At DEBUG, which logs everything INFO logs and more: Airflow 3.3.2's in-process supervisor logs every
    MaskSecret request with its value (include/budget_import/log_safety.py omits it); the whole output of
    `dags test` is scanned. (The same run at INFO was a second 20 s run that could only find a subset.)"""
    emulator.reset()
    env = {**airflow_home, "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"}
    run = run_dag(env, "spectrum_budget_nightly", {"merge_mode": "override", "dry_run": False, "company_codes": []})
    secret = "demo-secret"
    tokens = issued_tokens(emulator)
    assert tokens, "the run must have used at least one token"
    needles = [secret, *tokens]

    home = Path(airflow_home["AIRFLOW_HOME"])
    scanned = 0
    places = [*home.joinpath("logs").rglob("*"), *Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"]).rglob("*"), run / "dags_test.log"]
    for path in places:
        if path.is_file() and path.suffix != ".pkl":
            text = path.read_text(encoding="utf-8", errors="replace")
            scanned += 1
            leaked = [n for n in needles if n in text]
            assert not leaked, f"{path} contains a secret or token"
    assert scanned > 10
    output = (run / "dags_test.log").read_text(encoding="utf-8", errors="replace")
    assert "[debug" in output and "MaskSecret(<value omitted>)" in output, "the run logged at DEBUG, and its masks were omitted"
    assert "[info" in output, "what INFO logs is in the output too"
    with sqlite3.connect(home / "airflow.db") as db:
        values = [str(row[0]) for row in db.execute("SELECT value FROM xcom")]
    assert values, "the run must have pushed XComs"
    assert not [v for v in values if any(n in v for n in needles)]
