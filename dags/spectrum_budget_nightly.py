"""Nightly refresh of every linked Spectrum job's budget in Procore (thin wiring only)."""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from include.budget_import.import_tasks import PROCORE_POOL, TAGS, default_args, import_budgets
from include.budget_import.settings import nightly_schedule

SCHEDULE = nightly_schedule()


DOC_MD = """
### Nightly Spectrum -> Procore budget refresh

Every active Spectrum job linked to a Procore project (project `origin_id` = `<company>|<job>`) is imported
with the same rules as the manual DAG. `discover_jobs` finds the jobs and groups each company's into
batches; `prepare_batch` (one mapped task per batch) checks each job's prerequisites and extracts it, then
validates (one Great Expectations call) and reshapes the whole batch; `load_job` (one mapped task per
job, named company/job, in the run's merge mode) plans and writes each job's budget; `summarise` writes
the run's report. The manual DAG runs these same tasks for one job. A blocked or failing job is reported
with its reason and never stops the others.
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


@dag(
    dag_id="spectrum_budget_nightly",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=TAGS,
    default_args=default_args(retry_delay=timedelta(minutes=1), max_retry_delay=timedelta(minutes=15)),
    params={
        "merge_mode": Param("override", enum=["override", "additive"], description="override: Procore becomes Spectrum; additive: only add missing lines"),
        "dry_run": Param(False, type="boolean", description="Compute and report plans, write nothing"),
        "company_codes": Param([], type="array", description="Spectrum company codes (default: all mapped on the procore_api connection)"),
        "jobs_per_batch": Param(100, type="integer", minimum=1, description="Jobs prepared (checked, extracted, validated, reshaped) per prepare_batch task"),
    },
)
def spectrum_budget_nightly():
    @task(pool=PROCORE_POOL)
    def discover_jobs(params=None, run_id=None, ti=None) -> list:
        from include.budget_import import dag_tasks

        return dag_tasks.discover_jobs(params, run_id, ti)

    import_budgets(discover_jobs(), review=False)


spectrum_budget_nightly()
