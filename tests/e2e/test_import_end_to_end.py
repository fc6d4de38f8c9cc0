"""The whole import with `airflow dags test`: sample Spectrum (SQLite ODBC) -> emulator over HTTP.
Expected budgets come from the sample's own oracle manifest, never from the pipeline."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import read, run_dag

pytestmark = pytest.mark.e2e


def manifest_job(manifest, company, job):
    return next(j for j in manifest["jobs"] if j["company_code"] == company and j["job_number"] == job)


@pytest.mark.parametrize(("mode", "expected_key"), [("override", "expected_budget"), ("additive", "expected_budget_keep_existing")])
def test_manual_import_of_one_project_ends_with_the_exact_budget(demo_sample, emulator, airflow_home, mode, expected_key):
    emulator.reset()
    spec = manifest_job(demo_sample.manifest(), "01", "19.50")
    assert spec["existing_procore_budget"], "this job must start with lines in Procore so the modes differ"
    run = run_dag(airflow_home, "spectrum_budget_import", {"company_code": "01", "job_number": "19.50", "merge_mode": mode, "dry_run": False,
                                                           "review": "never"})
    assert emulator.budget(spec["procore_project_id"]) == spec[expected_key]
    result = read(run / "01_19.50" / "result.json")
    assert result["status"] == "synced"
    assert result["stages"]["extract"]["extracted"] == len(spec["lines"])
    reshaped = result["stages"]["reshape"]
    assert reshaped["line_items"] + reshaped["skipped"] + reshaped["rejected"] == len(spec["lines"])

    emulator.clear_log()
    again = run_dag(airflow_home, "spectrum_budget_import", {"company_code": "01", "job_number": "19.50", "merge_mode": mode, "dry_run": False,
                                                             "review": "never"})
    assert emulator.writes() == [], "a second run with nothing changed in Spectrum must write nothing"
    assert read(again / "01_19.50" / "result.json")["stages"]["load"]["plan"]["create"] == 0
    assert emulator.budget(spec["procore_project_id"]) == spec[expected_key]


def test_dry_run_plans_but_writes_nothing(demo_sample, emulator, airflow_home):
    emulator.reset()
    spec = manifest_job(demo_sample.manifest(), "01", "19.50")
    run = run_dag(airflow_home, "spectrum_budget_import", {"company_code": "01", "job_number": "19.50", "merge_mode": "override", "dry_run": True,
                                                           "review": "never"})
    assert emulator.writes() == []
    assert emulator.budget(spec["procore_project_id"]) == spec["existing_procore_budget"]
    plan = read(run / "01_19.50" / "plan.json")
    assert plan["dry_run"] is True
    planned_after = {f"{c['cost_code']}|{c['cost_type']}": c["amount_after"] for c in plan["create"] + plan["update"] + plan["keep"]}
    # the lines already equal to Spectrum are counted, not listed: they are the rest of the expected budget, as Procore has them
    unlisted = {k: v for k, v in spec["expected_budget"].items() if k not in planned_after}
    assert planned_after == {k: spec["expected_budget"].get(k) for k in planned_after}
    assert plan["keep_equal"] == len(unlisted) and all(spec["existing_procore_budget"].get(k) == v for k, v in unlisted.items())
    assert plan["counts"]["keep"] == len(plan["keep"]) + plan["keep_equal"]


def test_manual_import_of_a_blocked_job_fails_with_its_reason(demo_sample, emulator, airflow_home):
    emulator.reset()
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["blocked_reason"] == "procore_budget_locked")
    run = run_dag(airflow_home, "spectrum_budget_import", {"company_code": spec["company_code"], "job_number": spec["job_number"], "merge_mode": "override",
                                                           "dry_run": False, "review": "never"})
    result = read(next(run.glob("*/result.json")))
    assert (result["status"], result["reason"]) == ("blocked", "procore_budget_locked")
    assert "unlock it first" in (run / "dags_test.log").read_text()
    assert emulator.writes() == []


@pytest.mark.parametrize(("mode", "expected_key"), [("override", "expected_budget"), ("additive", "expected_budget_keep_existing")])
def test_nightly_imports_every_linked_job_and_reports_every_blocked_one(demo_sample, emulator, airflow_home, mode, expected_key):
    emulator.reset()
    manifest = demo_sample.manifest()
    run = run_dag(airflow_home, "spectrum_budget_nightly", {"merge_mode": mode, "dry_run": False, "company_codes": []})
    summary = read(run / "summary.json")
    assert summary["failed_jobs"] == []
    statuses = {(r["company_code"], r["job_number"]): (r["status"], r.get("reason")) for r in summary["results"]}
    # every job's report records the run as it ran: its mode and dry run, blocked jobs included
    assert {(r["mode"], r["dry_run"]) for r in summary["results"]} == {(mode, False)}
    for spec in manifest["jobs"]:
        key = (spec["company_code"], spec["job_number"])
        if spec["expected_status"] == "ready":
            assert statuses[key] == ("synced", None), key
            assert emulator.budget(spec["procore_project_id"]) == spec[expected_key], key
        elif (spec["in_spectrum"] and spec["status_code"] == "A") or spec["blocked_reason"] == "job_not_found":
            assert statuses[key] == ("blocked", spec["blocked_reason"]), key
            if spec["procore_project_id"]:
                assert emulator.budget(spec["procore_project_id"]) == spec["existing_procore_budget"], key

    emulator.clear_log()
    run_dag(airflow_home, "spectrum_budget_nightly", {"merge_mode": mode, "dry_run": False, "company_codes": []})
    assert emulator.writes() == [], "a nightly run with nothing changed in Spectrum must write nothing"


def test_a_night_with_more_jobs_than_airflow_maps_still_loads_every_job(demo_sample, emulator, airflow_home):
    """[core] max_map_length lowered to 2 (1,024 by default): the demo's linked jobs no longer fit one load
    task each, so consecutive jobs share load tasks, and every job still ends with the oracle's budget."""
    emulator.reset()
    manifest = demo_sample.manifest()
    ready = [j for j in manifest["jobs"] if j["expected_status"] == "ready"]
    assert len(ready) > 2, "the demo must have more ready jobs than the lowered limit"
    run = run_dag({**airflow_home, "AIRFLOW__CORE__MAX_MAP_LENGTH": "2"}, "spectrum_budget_nightly",
                  {"merge_mode": "override", "dry_run": False, "company_codes": []})
    summary = read(run / "summary.json")
    assert summary["failed_jobs"] == []
    statuses = {(r["company_code"], r["job_number"]): r["status"] for r in summary["results"]}
    for spec in ready:
        assert statuses[(spec["company_code"], spec["job_number"])] == "synced", spec["job_number"]
        assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"], spec["job_number"]
    log = (run / "dags_test.log").read_text(encoding="utf-8")
    assert "more than max_map_length (2)" in log, "the jobs were grouped because of the limit"
