"""DAG integrity: both DAGs import cleanly, with no database, network, pandas or GE at parse time."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PARSE_PROBE = r"""
import json, socket, sys, warnings
warnings.simplefilter("always")
opened = []
real_connect = socket.socket.connect
def guarded(self, address):
    opened.append(str(address))
    raise RuntimeError(f"network access at parse time: {address}")
socket.socket.connect = guarded
import pyodbc
real_pyodbc_connect = pyodbc.connect
def no_odbc(*a, **k):
    opened.append("odbc")
    raise RuntimeError("database access at parse time")
pyodbc.connect = no_odbc
from airflow.dag_processing.dagbag import DagBag
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    bag = DagBag(dag_folder=sys.argv[1])
ours = [str(w.message) for w in caught if "/dags/" in (w.filename or "")]
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dag_ids),
    "heavy": sorted(m for m in ("pandas", "great_expectations", "include.budget_import.pipeline") if m in sys.modules),
    "opened": opened,
    "warnings": ours,
    "docs": {d: bool(bag.dags[d].doc_md) for d in bag.dag_ids},
    "params": {d: sorted(bag.dags[d].params.keys()) for d in bag.dag_ids},
}))
"""


def parse_dags() -> dict:
    env_home = ROOT / "var" / "test-parse"
    env_home.mkdir(parents=True, exist_ok=True)
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(env_home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(ROOT)})
    out = subprocess.run([sys.executable, "-c", PARSE_PROBE, str(ROOT / "dags")], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dags_import_without_errors_warnings_or_heavy_work():
    result = parse_dags()
    assert result["errors"] == {}
    assert result["dags"] == ["spectrum_budget_import", "spectrum_budget_nightly", "spectrum_budget_preflight", "spectrum_budget_restore"]
    assert result["heavy"] == [], "pandas / great_expectations / pipeline must be imported inside tasks only"
    assert result["opened"] == [], "no database or network access at parse time"
    assert result["warnings"] == []
    assert all(result["docs"].values())
    assert result["params"]["spectrum_budget_import"] == ["company_code", "dry_run", "job_number", "merge_mode", "review"]
    assert result["params"]["spectrum_budget_nightly"] == ["company_codes", "dry_run", "jobs_per_batch", "merge_mode", "sync"]


def test_nightly_dag_is_scheduled_without_catchup_and_one_run_at_a_time():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.standard.operators.hitl import HITLBranchOperator

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    nightly = bag.dags["spectrum_budget_nightly"]
    assert nightly.catchup is False
    assert nightly.max_active_runs == 1
    # the scheduled sync runs hourly; each run imports the companies due that hour (BUDGET_IMPORT_SYNC)
    assert nightly.schedule == "30 * * * *"
    (alert,) = nightly.deadline  # a run not finished in time is a deadline alert, notified by the triggerer
    assert alert.callback.path == "include.budget_import.notify.deadline_missed"
    assert alert.interval.total_seconds() == 180 * 60
    # one import path: both DAGs run the same tasks (prepare_batch -> ready_jobs -> load_job -> summarise)
    shared = ("prepare_batch", "ready_jobs", "load_job", "summarise")
    manual = bag.dags["spectrum_budget_import"]
    assert manual.schedule is None
    for dag in (nightly, manual):
        assert set(shared) <= set(dag.task_dict), dag.dag_id
        assert dag.task_dict["prepare_batch"].downstream_task_ids >= {"ready_jobs"}
        assert "load_job" in dag.task_dict["ready_jobs"].downstream_task_ids
        assert {dag.task_dict[t].pool for t in ("prepare_batch", "load_job")} == {"procore_api"}
        assert dag.task_dict["ready_jobs"].trigger_rule == "all_done", "a failed batch must not stop the other batches' loads"
        assert dag.task_dict["summarise"].trigger_rule == "all_done"
        assert not [t for t in dag.task_ids if "override" in t or "additive" in t], "no twin load tasks per merge mode"
    assert set(nightly.task_ids) == {"discover_jobs", *shared}, "the nightly is discovery + the shared tasks"
    assert set(manual.task_ids) == {"one_job", *shared, "plan_review", "choose_route", "review_import", "cancel_import"}
    route = manual.task_dict["choose_route"]
    assert set(route.downstream_task_ids) == {"review_import", "load_job"}
    review = manual.task_dict["review_import"]  # a person's choice is the one branch: load (in the chosen mode) or cancel
    assert isinstance(review, HITLBranchOperator)
    assert set(review.downstream_task_ids) == {"load_job", "cancel_import"}
    assert review.options == ["Override", "Keep existing and add", "Cancel"]
    restore = bag.dags["spectrum_budget_restore"].task_dict["restore_snapshot"]
    assert restore.pool == "procore_api" and restore.retries == 2 and restore.on_failure_callback, "restore is a writer like any other"
    preflight = bag.dags["spectrum_budget_preflight"]  # checks first-day readiness; its one write (a link) is explicit
    assert preflight.schedule is None and sorted(preflight.params.keys()) == ["company_codes", "link"]
    assert preflight.task_dict["link_project"].downstream_task_ids == {"run_preflight"}
    assert {t.pool for t in preflight.tasks} == {"procore_api"} and preflight.task_dict["link_project"].on_failure_callback


def test_production_code_never_imports_the_stand_ins():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("include", "dags", "plugins")
        for path in (ROOT / folder).rglob("*.py")
        if "standins" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
