"""The manual DAG's review step on a real scheduler (LocalExecutor, PostgreSQL): the run waits for a
person when the Procore project already has budget lines; each of the three answers, given through
Airflow's REST API, ends as chosen. Budgets are checked against the sample's oracle manifest."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.executors.cluster import _terminal, airflow_cluster
from tests.executors.test_distributed import _base_env

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.slow]

DAG_ID = "spectrum_budget_import"
RUN_TIMEOUT = 240
REVIEW = "review_import"


def _job(demo_sample) -> dict:
    return next(j for j in demo_sample.manifest()["jobs"] if (j["company_code"], j["job_number"]) == ("01", "19.50"))


def _parked(cluster, run_id: str) -> bool:
    """The scheduler has heard from the executor that the review task's process ended (it parked the task
    in awaiting_input). Airflow 3.3.2 fails a HITL task whose answer arrives before that event: the
    resumed task is queued when the event of the parked process comes in ("state changed externally").
    A person answers long after it; this test waits for the event, not for a time."""
    log = cluster.processes.log_dir / "scheduler.log"
    key = f"task_id='{REVIEW}', run_id='{run_id}', try_number=1"
    return log.is_file() and any("Received executor event" in line and key in line for line in log.read_text(errors="replace").splitlines())


def _answer(cluster, run_id: str, choice: str) -> dict:
    api = cluster.api
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{REVIEW}/-1/hitlDetails"

    def waiting() -> dict | None:
        states = {t["task_id"]: t["state"] for t in api.task_instances(DAG_ID, run_id)}
        if _terminal(api.run(DAG_ID, run_id)):
            raise AssertionError(f"the run ended before asking: {states}")
        return api.call("GET", path) if states.get(REVIEW) == "awaiting_input" and _parked(cluster, run_id) else None

    detail = cluster.wait("the review task to wait for a person", waiting, timeout=RUN_TIMEOUT, interval=2.0)
    api.call("PATCH", path, json={"chosen_options": [choice], "params_input": {}})
    run = cluster.wait(f"run {run_id} to finish", lambda: _terminal(api.run(DAG_ID, run_id)), RUN_TIMEOUT, interval=2.0)
    return {"detail": detail, "run": run, "tis": {t["task_id"]: t["state"] for t in api.task_instances(DAG_ID, run_id)}}


def test_review_waits_for_a_person_and_each_choice_ends_as_chosen(postgres, demo_sample, fresh_emulator, tmp_path):
    spec = _job(demo_sample)
    project = spec["procore_project_id"]
    existing = spec["existing_procore_budget"]
    assert existing, "the sample's 01/19.50 project must already have budget lines"
    additive = {**spec["expected_budget"], **existing}  # Spectrum's lines added, every existing line as it was
    conf = {"company_code": "01", "job_number": "19.50", "merge_mode": "override", "dry_run": False, "review": "auto"}
    with airflow_cluster("LocalExecutor", _base_env(demo_sample, fresh_emulator, tmp_path), tmp_path) as cluster:
        cluster.wait_for_dag(DAG_ID)
        cluster.api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        cluster.api.ensure_pools(DAG_ID, 4)

        def trigger() -> str:
            run_id = f"review_test__{uuid.uuid4().hex[:8]}"
            cluster.api.trigger(DAG_ID, conf, run_id)
            return run_id

        cancel = _answer(cluster, trigger(), "Cancel")
        body = cancel["detail"]["body"]
        assert "already has" in body and "Override" in body and "snapshot.pdf" in body, body
        assert cancel["detail"]["options"] == ["Override", "Keep existing and add", "Cancel"]
        assert cancel["run"]["state"] == "success" and cancel["tis"]["cancel_import"] == "success", (cancel["tis"], cluster.task_logs())
        assert cancel["tis"]["load_job"] == "skipped"
        assert fresh_emulator.budget(project) == existing, "Cancel wrote to Procore"

        added = _answer(cluster, trigger(), "Keep existing and add")
        assert added["run"]["state"] == "success" and added["tis"]["load_job"] == "success", added["tis"]
        assert fresh_emulator.budget(project) == additive

        overridden = _answer(cluster, trigger(), "Override")
        assert overridden["run"]["state"] == "success" and overridden["tis"]["load_job"] == "success", overridden["tis"]
        assert fresh_emulator.budget(project) == spec["expected_budget"]
        runs = Path(cluster.env["BUDGET_IMPORT_REPORTS_DIR"]) / "runs"
        results = [json.loads(p.read_text()) for p in runs.glob("review_test__*/01_19.50/result.json")]
        assert sorted(r["status"] for r in results) == ["cancelled", "synced", "synced"]
        # the person's choice set the merge mode of the one load task (the run was triggered with override)
        assert sorted(r["mode"] for r in results if r["status"] == "synced") == ["additive", "override"]
