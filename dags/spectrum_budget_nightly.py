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
with the same rules as the manual DAG. `discover_jobs` finds the jobs and groups each company's into
batches; `prepare_batch` (one mapped task per batch) checks each job's prerequisites and extracts it, then
validates (one Great Expectations call) and reshapes the whole batch; `load_job_override` or
`load_job_additive` (one mapped task per job, named company/job) plans and writes each job's budget. A
blocked or failing job is reported with its reason and never stops the others.
Schedule: `SPECTRUM_BUDGET_NIGHTLY_SCHEDULE` (cron, default 02:30 UTC).

Params: **merge_mode** (`override` | `additive`), **dry_run**, **company_codes** (Spectrum companies;
default: the keys of `extra.companies` on the `procore_api` connection), **jobs_per_batch** (jobs prepared
per `prepare_batch` task, default 100).

Connections: `spectrum_db` (odbc) and `procore_api` (http). Pool: `procore_api` (env `SPECTRUM_BUDGET_PROCORE_POOL`)
bounds how many tasks call Procore at once. Each job loaded emits an event through the asset alias
`spectrum_budget_loaded` (asset `procore://companies/<id>/projects/<id>/budget`). A failed job's status
file names the job and the error. Reports: `budget_reports/runs/<run id>/summary.json` and one folder per
job; latest status per job in `budget_reports/status/`.
"""


def _label(text: str) -> None:
    """Name the mapped task instance in the UI: company/job for a load, the batch's jobs for a batch."""
    from airflow.sdk import get_current_context

    get_current_context()["task_label"] = text


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
        "jobs_per_batch": Param(100, type="integer", minimum=1, description="Jobs prepared (checked, extracted, validated, reshaped) per prepare_batch task"),
    },
)
def spectrum_budget_nightly():
    @task
    def discover_jobs(params=None, run_id=None) -> list:
        from include.budget_import import dag_tasks

        return dag_tasks.discover_jobs(params, run_id)

    @task(map_index_template="{{ task_label }}", pool=PROCORE_POOL)
    def prepare_batch(batch: dict, params=None, run_id=None) -> list:
        from include.budget_import import dag_tasks

        _label(batch["label"])
        return dag_tasks.prepare_batch(batch, params, run_id)

    @task(trigger_rule="all_done")
    def ready_jobs(prepared: list) -> list:
        """The prepared jobs of every batch that succeeded (a failed batch's jobs are reported failed)."""
        from include.budget_import import dag_tasks

        return dag_tasks.ready_jobs(prepared)

    @task.branch
    def choose_merge_mode(jobs: list, params=None) -> str:
        return "load_job_override" if params["merge_mode"] == "override" else "load_job_additive"

    @task(map_index_template="{{ task_label }}", pool=PROCORE_POOL, outlets=[LOADED])
    def load_job_override(job: dict, run_id=None, outlet_events=None) -> dict:
        from include.budget_import import dag_tasks

        _label(f"{job['request']['company_code']}/{job['request']['job_number']}")
        result = dag_tasks.load_job(job, run_id, "override")
        dag_tasks.emit_loaded_asset(result, outlet_events, LOADED)
        return result

    @task(map_index_template="{{ task_label }}", pool=PROCORE_POOL, outlets=[LOADED])
    def load_job_additive(job: dict, run_id=None, outlet_events=None) -> dict:
        from include.budget_import import dag_tasks

        _label(f"{job['request']['company_code']}/{job['request']['job_number']}")
        result = dag_tasks.load_job(job, run_id, "additive")
        dag_tasks.emit_loaded_asset(result, outlet_events, LOADED)
        return result

    @task(trigger_rule="all_done")
    def summarise(batches: list, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.summarise_run(batches, run_id)

    batches = discover_jobs()
    jobs = ready_jobs(prepare_batch.expand(batch=batches))
    branch = choose_merge_mode(jobs)
    overridden = load_job_override.expand(job=jobs)
    added = load_job_additive.expand(job=jobs)
    branch >> [overridden, added]
    [overridden, added] >> summarise(batches)


spectrum_budget_nightly()
