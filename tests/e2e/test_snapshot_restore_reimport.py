"""Override snapshots Procore's budget first and a restore puts it back exactly; a re-import after an
estimate change in Spectrum writes only that change."""
from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from include.budget_import import job_status_store
from include.budget_import.project_lock import project_lock
from scripts.local_airflow import airflow_env, dags_test, procore_target_from_fixture, without_retries
from tests.e2e.conftest import read, run_dag

pytestmark = pytest.mark.e2e


def test_override_snapshots_first_and_restore_puts_the_budget_back_exactly(demo_sample, emulator, airflow_home):
    emulator.reset()
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["company_code"] == "01" and j["job_number"] == "19.50")
    before = emulator.budget(spec["procore_project_id"])
    assert before == spec["existing_procore_budget"]

    run = run_dag(airflow_home, "spectrum_budget_import", {"company_code": "01", "job_number": "19.50", "merge_mode": "override", "dry_run": False,
                                                           "review": "never"})
    assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"]
    snapshot = read(run / "01_19.50" / "snapshot.json")
    assert {f"{line['cost_code']}|{line['cost_type']}": line["amount"] for line in snapshot["lines"]} == before
    assert snapshot["total"] == f"{sum(Decimal(v) for v in before.values()):.2f}"
    pdf = (run / "01_19.50" / "snapshot.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000

    # A restore is a writer like any import: while an import holds the job's lock, it writes nothing.
    restore_conf = {"snapshot_run_id": run.name, "company_code": "01", "job_number": "19.50"}
    emulator.clear_log()
    with project_lock("01", "19.50", owner="import run manual__busy", root=Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"])):
        busy = dags_test({**airflow_home, "BUDGET_IMPORT_LOCK_TIMEOUT_S": "1"}, "spectrum_budget_restore", restore_conf)
    assert busy.returncode != 0 and emulator.writes() == [], "the restore wrote while an import held the job's lock"
    status = job_status_store.read_status("01", "19.50", root=Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"]))
    assert status["status"] == "failed" and "import run manual__busy" in status["message"], (status, busy.stdout[-2000:])

    restore_run = run_dag(airflow_home, "spectrum_budget_restore", restore_conf)
    assert emulator.budget(spec["procore_project_id"]) == before, f"restore did not put the snapshot back ({restore_run})"
    result = read(restore_run / "01_19.50" / "result.json")
    assert result["status"] == "restored" and f"restored from the snapshot of run {run.name}" in result["message"]
    status = job_status_store.read_status("01", "19.50", root=Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"]))
    assert status["status"] == "restored" and status["restored_from_run"] == run.name, status


def test_reimport_after_a_posted_estimate_change_writes_only_that_change(demo_sample, emulator, airflow_home, tmp_path):
    emulator.reset()
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["company_code"] == "02" and j["job_number"] == "19.50")
    spectrum_copy = tmp_path / "spectrum.db"
    shutil.copy(demo_sample.db_path, spectrum_copy)
    env = airflow_env(
        Path(airflow_home["AIRFLOW_HOME"]), spectrum_copy,
        procore_target_from_fixture(emulator.url, demo_sample.fixture_path), Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"]),
    )
    without_retries(env)
    conf = {"company_code": "02", "job_number": "19.50", "merge_mode": "override", "dry_run": False, "review": "never"}
    run_dag(env, "spectrum_budget_import", conf)
    assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"]

    # Post an estimate change in Spectrum: one phase/cost type goes up by 1,234.56.
    key = sorted(spec["expected_budget"])[0]
    phase, cost_type = key.split("|")
    new_amount = Decimal(spec["expected_budget"][key]) + Decimal("1234.56")
    with sqlite3.connect(spectrum_copy) as db:
        changed = db.execute(
            "UPDATE JC_PHASE_MASTER_MC SET Original_Est_Cost = ? WHERE Company_Code = '02' AND TRIM(Job_Number) = '19.50' "
            "AND TRIM(Phase_Code) = ? AND TRIM(Cost_Type) = ?",
            (str(new_amount), phase, cost_type),
        ).rowcount
    assert changed == 1

    emulator.clear_log()
    run = run_dag(env, "spectrum_budget_import", conf)
    expected = dict(spec["expected_budget"], **{key: f"{new_amount:.2f}"})
    assert emulator.budget(spec["procore_project_id"]) == expected
    writes = emulator.writes()
    assert [(w["method"], w["path"]) for w in writes] == [("POST", "/rest/v1.0/budget_line_items/sync")]
    plan = read(run / "02_19.50" / "plan.json")
    assert plan["counts"] == {"create": 0, "update": 1, "delete": 0, "keep": len(expected) - 1}
    assert plan["update"][0]["amount_before"] == spec["expected_budget"][key]
    assert plan["update"][0]["amount_after"] == f"{new_amount:.2f}"
