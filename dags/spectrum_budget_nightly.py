"""Nightly refresh of every linked Spectrum job's budget in Procore (thin wiring only)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import AssetAlias, Param, dag, task

SCHEDULE = os.environ.get("SPECTRUM_BUDGET_NIGHTLY_SCHEDULE", "30 2 * * *")
# An Airflow pool bounds how many jobs talk to Procore at once (keep it under Procore's rate limits).
PROCORE_POOL = os.environ.get("SPECTRUM_BUDGET_PROCORE_POOL", "procore_api")
LOADED = AssetAlias("spectrum_budget_loaded")


def _on_failure(context) -> None:
    from include.budget_import import dag_tasks

    dag_tasks.record_failure(context)

DOC_MD = """
### Nightly Spectrum -> Procore budget refresh

Every active Spectrum job linked to a Procore project (project `origin_id` = `<company>|<job>`) is imported
with the same pipeline as the manual DAG, one mapped task per job: a blocked job is reported with its
reason and never stops the others. Schedule: `SPECTRUM_BUDGET_NIGHTLY_SCHEDULE` (cron, default 02:30 UTC).

Params: **merge_mode** (`override` | `additive`), **dry_run**, **company_codes** (Spectrum companies;
default: the keys of `extra.companies` on the `procore_api` connection).

Connections: `spectrum_db` (odbc) and `procore_api` (http). Pool: `procore_api` (env `SPECTRUM_BUDGET_PROCORE_POOL`)
bounds how many jobs call Procore at once. Each job loaded emits an event through the asset alias
`spectrum_budget_loaded` (asset `procore://companies/<id>/projects/<id>/budget`). A failed job's status
file names the job and the error (failure callback). Reports: `budget_reports/runs/<run id>/summary.json`
and one folder per job; latest status per job in `budget_reports/status/`.
"""


def _label(job: dict) -> None:
    """Name each mapped task instance after its job in the UI (company/job)."""
    from airflow.sdk import get_current_context

    get_current_context()["job_label"] = f"{job['company_code']}/{job['job_number']}"


@dag(
    dag_id="spectrum_budget_nightly",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=["spectrum", "procore", "budget"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
        "on_failure_callback": _on_failure,
    },
    params={
        "merge_mode": Param("override", enum=["override", "additive"], description="override: Procore becomes Spectrum; additive: only add missing lines"),
        "dry_run": Param(False, type="boolean", description="Compute and report plans, write nothing"),
        "company_codes": Param([], type="array", description="Spectrum company codes (default: all mapped on the procore_api connection)"),
    },
)
def spectrum_budget_nightly():
    @task
    def discover_jobs(params=None, run_id=None) -> list:
        from include.budget_import import dag_tasks

        return dag_tasks.discover_jobs(params, run_id)

    @task.branch
    def choose_merge_mode(jobs: list, params=None) -> str:
        return "import_job_override" if params["merge_mode"] == "override" else "import_job_additive"

    @task(map_index_template="{{ job_label }}", pool=PROCORE_POOL, outlets=[LOADED])
    def import_job_override(job: dict, params=None, run_id=None, outlet_events=None) -> dict:
        from include.budget_import import dag_tasks

        _label(job)
        result = dag_tasks.import_job(job, params, run_id, "override")
        dag_tasks.emit_loaded_asset(result, outlet_events, LOADED)
        return result

    @task(map_index_template="{{ job_label }}", pool=PROCORE_POOL, outlets=[LOADED])
    def import_job_additive(job: dict, params=None, run_id=None, outlet_events=None) -> dict:
        from include.budget_import import dag_tasks

        _label(job)
        result = dag_tasks.import_job(job, params, run_id, "additive")
        dag_tasks.emit_loaded_asset(result, outlet_events, LOADED)
        return result

    @task(trigger_rule="all_done")
    def summarise(jobs: list, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.summarise_run(jobs, run_id)

    jobs = discover_jobs()
    branch = choose_merge_mode(jobs)
    overridden = import_job_override.expand(job=jobs)
    added = import_job_additive.expand(job=jobs)
    branch >> [overridden, added]
    [overridden, added] >> summarise(jobs)


spectrum_budget_nightly()
