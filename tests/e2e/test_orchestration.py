"""Orchestration: one asset event per job loaded, failure reporting, and one writer per project."""
from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from scripts.local_airflow import AIRFLOW, ROOT, airflow_env, migrate, procore_target_from_fixture, without_retries
from tests.e2e.conftest import read, run_dag

pytestmark = pytest.mark.e2e


def asset_events(env: dict[str, str]) -> list[tuple[str, dict]]:
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute("SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id ORDER BY e.id").fetchall()
    return [(uri, json.loads(extra) if extra else {}) for uri, extra in rows]


def test_nightly_emits_one_asset_event_per_job_loaded(demo_sample, emulator, airflow_home):
    emulator.reset()
    before = len(asset_events(airflow_home))
    run = run_dag(airflow_home, "spectrum_budget_nightly", {"merge_mode": "override", "dry_run": False, "company_codes": []})
    synced = [r for r in read(run / "summary.json")["results"] if r["status"] == "synced"]
    events = asset_events(airflow_home)[before:]
    assert sorted(uri for uri, _ in events) == sorted(
        f"procore://companies/{1001 if r['company_code'] == '01' else 1002}/projects/{r['procore_project_id']}/budget" for r in synced)
    assert {(e["company_code"], e["job_number"]) for _, e in events} == {(r["company_code"], r["job_number"]) for r in synced}


def test_nightly_and_manual_started_together_never_write_one_project_at_once(demo_sample, emulator, airflow_home, tmp_path):
    """Two Airflow installations (own metadata DBs) share the reports folder and the emulator, as two
    DAGs on one deployment share workers' files: their loads of 01/19.50 must not overlap in time."""
    emulator.reset()
    reports = Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"])
    target = procore_target_from_fixture(emulator.url, demo_sample.fixture_path)
    envs = []
    for name in ("a", "b"):
        env = airflow_env(tmp_path / name, demo_sample.db_path, target, reports)
        without_retries(env)
        migrate(env)
        envs.append(env)
    runs = reports / "runs"
    before = set(runs.glob("*"))
    manual = subprocess.Popen([AIRFLOW, "dags", "test", "spectrum_budget_import", "-c",
                               json.dumps({"company_code": "01", "job_number": "19.50", "merge_mode": "override", "dry_run": False, "review": "never"})],
                              env=envs[0], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nightly = subprocess.Popen([AIRFLOW, "dags", "test", "spectrum_budget_nightly", "-c",
                                json.dumps({"merge_mode": "override", "dry_run": False, "company_codes": ["01"]})],
                               env=envs[1], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = [p.communicate(timeout=600)[0] for p in (manual, nightly)]
    assert manual.returncode == 0 and nightly.returncode == 0, "\n".join(o[-2000:] for o in outputs)
    new = sorted(set(runs.glob("*")) - before)
    results = [read(run / "01_19.50" / "result.json") for run in new]
    assert len(results) == 2
    # Both runs wrote in turn; or the one whose Spectrum data was older waited for the other's lock and,
    # finding a newer import finished, wrote nothing ('superseded': its run still succeeds).
    loads = [r["stages"]["load"]["lock"] for r in results if r["status"] == "synced"]
    superseded = [r for r in results if r["status"] != "synced"]
    assert all((r["status"], r["reason"]) == ("blocked", "superseded") for r in superseded), superseded
    assert loads, "one of them imported the job"
    if len(loads) == 2:
        first, second = sorted(loads, key=lambda hold: hold["acquired_at"])
        assert first["released_at"] <= second["acquired_at"], f"overlapping writes: {loads}"
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["company_code"] == "01" and j["job_number"] == "19.50")
    assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"]
