"""Manual import of one Spectrum job's budget into its Procore project (thin wiring only)."""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from include.budget_import.import_tasks import TAGS, default_args, import_budgets

DOC_MD = """
### Import one Spectrum budget into Procore

Trigger with the form: **company_code** (Spectrum company, e.g. `01`), **job_number** (as people write
it, without Spectrum's padding, e.g. `19.50`), **merge_mode** and **dry_run**.

- `override`: Procore's budget becomes Spectrum's (lines created, amounts updated, lines Spectrum lacks
  deleted; the existing budget is snapshotted first).
- `additive`: existing Procore lines are kept; only cost code / cost type combinations Procore lacks are added.
- `dry_run`: everything is computed and reported, nothing is written to Procore.

The job runs the nightly's tasks as a batch of one: `prepare_batch` (prerequisites: posted, locked,
linked; extract; validate with Great Expectations; reshape) -> `ready_jobs` -> `plan_review` ->
(`review_import`) -> `load_job` -> `summarise`. Budget tool active and Procore budget unlocked are asked
before the first write (a job whose budget already equals Spectrum's writes nothing and needs neither).
A blocked job, or one held for review, fails the run at `summarise` with its reason.

**Review** (param `review`): as Procore's own import does, when the project already has budget lines the
run waits at `review_import` for a person, who reads what Override and Keep existing and add would do
(amounts, and a PDF of the existing lines) in the task's Required Actions and chooses **Override**,
**Keep existing and add** (either runs `load_job` in that mode) or **Cancel** (`cancel_import`). `always` asks every time, `never`
runs unattended. Unattended, an override that would delete every line, or more than half of the lines or
of the budget's value, is held as "needs review" and writes nothing.

Notifications (`BUDGET_IMPORT_NOTIFY`: Airflow's SMTP or Slack notifiers): a blocked, failed or held job
at `summarise`, with its reason and what to do; the review waiting for a person at `review_import`.

Connections: `spectrum_db` (odbc) and `procore_api` (http); pool `procore_api` for the load. A job loaded
emits an event on the asset alias `spectrum_budget_loaded`. The nightly and this DAG never write the
same project at once (a per-job lock; the second waits). Reports: `budget_reports/runs/<run id>/` under
`$AIRFLOW_HOME` (or `BUDGET_IMPORT_REPORTS_DIR`): `result.json`, `validation.json`, `plan.json`, `rejects.csv`.
"""


@dag(
    dag_id="spectrum_budget_import",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=TAGS,
    default_args=default_args(retry_delay=timedelta(seconds=30)),
    params={
        "company_code": Param("01", type="string", pattern="^[A-Za-z0-9]{1,3}$", description="Spectrum company code (1-3 letters or digits)"),
        "job_number": Param("", type="string", minLength=1, maxLength=10, description="Spectrum job number, without padding"),
        "merge_mode": Param("override", enum=["override", "additive"], description="override: Procore becomes Spectrum; additive: only add missing lines"),
        "dry_run": Param(False, type="boolean", description="Compute and report the plan, write nothing"),
        "review": Param("auto", enum=["auto", "always", "never"],
                        description="auto: a person chooses when Procore already has budget lines; always; never (unattended)"),
    },
)
def spectrum_budget_import():
    @task
    def one_job(params=None, ti=None) -> list:
        """The job of the form as a batch of one; the rest is the nightly's path."""
        from include.budget_import import dag_tasks

        return dag_tasks.one_job_batch(params, ti)

    import_budgets(one_job(), review=True)


spectrum_budget_import()
