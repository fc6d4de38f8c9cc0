"""The scheduled sync of every linked Spectrum job's budget in Procore, each company at its own sync
frequency (thin wiring only). The DAG id is still `spectrum_budget_nightly`."""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task
from airflow.sdk.definitions.callback import AsyncCallback  # (airflow.sdk.AsyncCallback, DeadlineAlert, DeadlineReference:
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference  # lazy names mypy does not see there)

from include.budget_import.import_tasks import PROCORE_POOL, TAGS, default_args, import_budgets
from include.budget_import.settings import nightly_schedule, sync_deadline

SCHEDULE = nightly_schedule()
DEADLINE_MINUTES = sync_deadline()
# A run not finished this long after its logical date: the triggerer runs notify.deadline_missed, which
# tells BUDGET_IMPORT_NOTIFY's notifiers (Airflow's deadline alerts).
DEADLINE = DeadlineAlert(
    reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
    interval=timedelta(minutes=DEADLINE_MINUTES),
    callback=AsyncCallback("include.budget_import.notify.deadline_missed",
                           kwargs={"dag_id": "spectrum_budget_nightly", "deadline_minutes": DEADLINE_MINUTES}),
    name="scheduled sync not finished",
) if DEADLINE_MINUTES else None


DOC_MD = """
### Scheduled Spectrum -> Procore budget sync (the DAG once called the nightly)

This is the scheduled sync, kept under its old id `spectrum_budget_nightly`. It runs **every hour** (at :30
UTC; `SPECTRUM_BUDGET_NIGHTLY_SCHEDULE` replaces that cron) and each run imports only the Spectrum
companies **due that hour** in their own time zone, as Procore's ERP sync offers it: `hourly`,
`every_4_hours`, `daily`, `never`, set per company in `BUDGET_IMPORT_SYNC`, e.g.
`01=daily@02:30 America/Chicago,02=every_4_hours America/Denver,03=never` (default: every company daily
at 02:30 UTC, the nightly as it was). A `never` company is listed in the run's report as skipped by its
schedule. A manual trigger imports every company (param **sync**: `auto`; `due` imports the companies
due at the run's logical date, `all` every company).

Every active Spectrum job linked to a Procore project (project `origin_id` = `<company>|<job>`) is imported
with the same rules as the manual DAG. `discover_jobs` finds the jobs and groups each company's into
batches; `prepare_batch` (one mapped task per batch) checks each job's prerequisites and extracts it, then
validates (one Great Expectations call) and reshapes the whole batch; `load_job` (one mapped task per
job, named company/job, in the run's merge mode) plans and writes each job's budget; `summarise` writes
the run's report. The manual DAG runs these same tasks for one job. A blocked or failing job is reported
with its reason and never stops the others.
Schedule: hourly at :30 UTC (`SPECTRUM_BUDGET_NIGHTLY_SCHEDULE`: a cron of your own; with it and no
`BUDGET_IMPORT_SYNC`, every run imports every company, as before).

Notifications (`BUDGET_IMPORT_NOTIFY`, Airflow notifiers: SMTP, Slack): failed, blocked and held jobs at
the end of each run; a run not finished `BUDGET_IMPORT_DEADLINE_MINUTES` (default 180) after its logical
date is a missed deadline (a deadline alert, run by the triggerer).

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
    deadline=DEADLINE,
    params={
        "merge_mode": Param("override", enum=["override", "additive"], description="override: Procore becomes Spectrum; additive: only add missing lines"),
        "dry_run": Param(False, type="boolean", description="Compute and report plans, write nothing"),
        "company_codes": Param([], type="array", description="Spectrum company codes (default: all mapped on the procore_api connection)"),
        "jobs_per_batch": Param(100, type="integer", minimum=1, description="Jobs prepared (checked, extracted, validated, reshaped) per prepare_batch task"),
        "sync": Param("auto", enum=["auto", "due", "all"],
                      description="auto: a scheduled run imports the companies due (BUDGET_IMPORT_SYNC), a manual one every company; "
                                  "due: the companies due at the logical date; all: every company"),
    },
)
def spectrum_budget_nightly():
    @task(pool=PROCORE_POOL)
    def discover_jobs(params=None, run_id=None, ti=None, dag_run=None, logical_date=None) -> list:
        from include.budget_import import dag_tasks

        run_type = getattr(dag_run, "run_type", None)
        return dag_tasks.discover_jobs(params, run_id, ti, instant=logical_date or getattr(dag_run, "run_after", None),
                                       run_type=str(getattr(run_type, "value", run_type) or ""))

    import_budgets(discover_jobs(), review=False)


spectrum_budget_nightly()
