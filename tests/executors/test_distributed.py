"""The nightly DAG on Airflow's real executors, started as in production on this machine.

CeleryExecutor: PostgreSQL metadata DB, Redis broker, PostgreSQL result backend; scheduler, dag-processor,
api-server and two Celery workers as separate processes. LocalExecutor: PostgreSQL metadata DB; scheduler,
dag-processor, api-server. The run is triggered and watched through the REST API; budgets are checked
against the sample's oracle manifest, never against the pipeline's own output.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from scripts.local_airflow import airflow_env, procore_target_from_fixture, without_retries
from tests.executors.cluster import airflow_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.services]

DAG_ID = "spectrum_budget_nightly"
CONF = {"merge_mode": "override", "dry_run": False}
RUN_TIMEOUT = 900  # seconds, an upper bound; a run of the demo sample takes well under a minute here


def _base_env(demo_sample, emulator, workdir: Path) -> dict[str, str]:
    target = procore_target_from_fixture(emulator.url, demo_sample.fixture_path)
    env = airflow_env(workdir / "airflow_home", demo_sample.db_path, target, workdir / "budget_reports")
    without_retries(env)
    return env


def _assert_budgets_match_oracle(demo_sample, emulator, run, tis, cluster) -> list[dict]:
    failed = [f"{t['task_id']}[{t.get('rendered_map_index') or t['map_index']}]={t['state']}" for t in tis if t["state"] not in ("success", "skipped")]
    assert run["state"] == "success" and not failed, f"run {run['state']}, task instances not successful: {failed}\n{cluster.diagnostics()}"
    ready = [j for j in demo_sample.manifest()["jobs"] if j["expected_status"] == "ready"]
    assert ready, "the sample must have ready jobs"
    for spec in ready:
        assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"], (spec["company_code"], spec["job_number"])
    imported = [t for t in tis if t["task_id"] == "load_job" and t["state"] == "success"]
    assert len(imported) >= len(ready), f"{len(imported)} import task instances succeeded for {len(ready)} ready jobs"
    summary = json.loads(next(Path(cluster.env["BUDGET_IMPORT_REPORTS_DIR"]).glob(f"runs/*{run['dag_run_id']}*/summary.json")).read_text())
    assert summary["failed_jobs"] == []
    return imported


def _timeline(run: dict, tis: list[dict]) -> str:
    """Wall time of the run, and per task instance: seconds queued -> running and running -> done."""
    def at(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    ran = [t for t in tis if at(t.get("start_date")) and at(t.get("end_date"))]
    waits = [(at(t["start_date"]) - at(t["queued_when"])).total_seconds() for t in ran if at(t.get("queued_when"))]
    spans = [(at(t["end_date"]) - at(t["start_date"])).total_seconds() for t in ran]
    wall = (at(run["end_date"]) - at(run["start_date"])).total_seconds()
    return (f"run {wall:.1f}s for {len(ran)} task instances; per task instance: queued->running {sum(waits) / max(len(waits), 1):.1f}s, "
            f"running {sum(spans) / max(len(spans), 1):.1f}s mean, {max(spans, default=0):.1f}s max")


def _results_if_all_stored(cluster, expected: int) -> dict[str, int] | None:
    results = cluster.celery_results()
    return results if results.get("SUCCESS", 0) >= expected else None


def test_nightly_on_celery_executor_with_two_workers(postgres, redis_broker, demo_sample, fresh_emulator, tmp_path):
    with airflow_cluster("CeleryExecutor", _base_env(demo_sample, fresh_emulator, tmp_path), tmp_path, workers=2, worker_concurrency=2) as cluster:
        run, tis = cluster.run_dag(DAG_ID, CONF, timeout=RUN_TIMEOUT)
        imported = _assert_budgets_match_oracle(demo_sample, fresh_emulator, run, tis, cluster)
        hosts = {t["hostname"].split("@", 1)[0] for t in tis if t.get("hostname")}
        assert hosts == set(cluster.worker_names), f"task instances ran on {sorted(hosts)}, expected every one of {cluster.worker_names}"
        per_worker = {w: sum(1 for t in imported if t["hostname"].startswith(w + "@")) for w in cluster.worker_names}
        assert all(per_worker.values()), f"mapped import tasks per worker: {per_worker}"
        # A task instance is final in the API a moment before its Celery task returns: wait for the results.
        ran = [t for t in tis if t.get("hostname")]
        results = cluster.wait("Celery's results in PostgreSQL", lambda: _results_if_all_stored(cluster, len(ran)), timeout=60)
        assert results.get("SUCCESS", 0) >= len(ran), f"Celery result backend (PostgreSQL) holds {results} for {len(ran)} task instances run"
        print(f"[CeleryExecutor] {_timeline(run, tis)}; mapped imports per worker: {per_worker}")


def test_nightly_on_local_executor(postgres, demo_sample, fresh_emulator, tmp_path):
    with airflow_cluster("LocalExecutor", _base_env(demo_sample, fresh_emulator, tmp_path), tmp_path, workers=0) as cluster:
        run, tis = cluster.run_dag(DAG_ID, CONF, timeout=RUN_TIMEOUT)
        _assert_budgets_match_oracle(demo_sample, fresh_emulator, run, tis, cluster)
        print(f"[LocalExecutor] {_timeline(run, tis)}")
