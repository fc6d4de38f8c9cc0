"""Manual import of one Spectrum job's budget into its Procore project (thin wiring only)."""
from __future__ import annotations

import os
from datetime import timedelta

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import AssetAlias, Param, dag, task

PROCORE_POOL = os.environ.get("SPECTRUM_BUDGET_PROCORE_POOL", "procore_api")
LOADED = AssetAlias("spectrum_budget_loaded")


def _on_failure(context) -> None:
    from include.budget_import import dag_tasks

    dag_tasks.record_failure(context)

DOC_MD = """
### Import one Spectrum budget into Procore

Trigger with the form: **company_code** (Spectrum company, e.g. `01`), **job_number** (as people write
it, without Spectrum's padding, e.g. `19.50`), **merge_mode** and **dry_run**.

- `override`: Procore's budget becomes Spectrum's (lines created, amounts updated, lines Spectrum lacks
  deleted; the existing budget is snapshotted first).
- `additive`: existing Procore lines are kept; only cost code / cost type combinations Procore lacks are added.
- `dry_run`: everything is computed and reported, nothing is written to Procore.

Stages: prerequisites (posted, locked, linked, Budget tool active, Procore budget unlocked) -> extract ->
validate (Great Expectations) -> reshape -> plan -> (review) -> load -> report. A blocked job fails at
`check_prerequisites` with its reason.

**Review** (param `review`): as Procore's own import does, when the project already has budget lines the
run waits at `review_import` for a person, who reads what Override and Keep existing and add would do
(amounts, and a PDF of the existing lines) in the task's Required Actions and chooses **Override**,
**Keep existing and add** or **Cancel**; the choice drives the branch. `always` asks every time, `never`
runs unattended. Unattended, an override that would delete every line, or more than half of the lines or
of the budget's value, is held as "needs review" and writes nothing.

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
    tags=["spectrum", "procore", "budget"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True, "on_failure_callback": _on_failure},
    params={
        "company_code": Param("01", type="string", pattern="^[A-Za-z0-9]{1,3}$", description="Spectrum company code (1-3 letters or digits)"),
        "job_number": Param("", type="string", minLength=1, maxLength=10, description="Spectrum job number, without padding"),
        "merge_mode": Param("override", enum=["override", "additive"], description="override: Procore becomes Spectrum; additive: only add missing lines"),
        "dry_run": Param(False, type="boolean", description="Compute and report the plan, write nothing"),
        "review": Param("auto", enum=["auto", "always", "never"], description="auto: a person chooses when Procore already has budget lines; always; never (unattended)"),
    },
)
def spectrum_budget_import():
    @task
    def check_prerequisites(params=None, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.prerequisites(params, run_id)

    @task
    def extract(ready: dict, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.extract(ready, run_id)

    @task
    def validate(ready: dict, extracted: dict, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.validate(ready, run_id)

    @task
    def reshape(ready: dict, validated: dict, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.reshape(ready, run_id)

    @task
    def plan_import(ready: dict, reshaped: dict, params=None, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.plan_import(ready, params, run_id)

    @task.branch
    def choose_route(planned: dict, params=None) -> str:
        if planned["ask"]:
            return "review_import"
        return "load_override" if params["merge_mode"] == "override" else "load_additive"

    review = HITLBranchOperator(
        task_id="review_import",
        subject="Import Spectrum job {{ params.company_code }}/{{ params.job_number }} into its Procore project?",
        body="{{ ti.xcom_pull(task_ids='plan_import')['review_body'] }}",
        options=["Override", "Keep existing and add", "Cancel"],
        options_mapping={"Override": "load_override", "Keep existing and add": "load_additive", "Cancel": "cancel_import"},
        retries=0,
    )

    def _approved(ti, task_id: str) -> bool:
        return task_id in (ti.xcom_pull(task_ids="review_import") or [])

    @task(pool=PROCORE_POOL, trigger_rule="none_failed_min_one_success")
    def load_override(ready: dict, params=None, run_id=None, ti=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.load(ready, params, run_id, "override", review_approved=_approved(ti, "load_override"))

    @task(pool=PROCORE_POOL, trigger_rule="none_failed_min_one_success")
    def load_additive(ready: dict, params=None, run_id=None, ti=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.load(ready, params, run_id, "additive", review_approved=_approved(ti, "load_additive"))

    @task
    def cancel_import(ready: dict, params=None, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.cancel_import(ready, params, run_id)

    @task(trigger_rule="none_failed_min_one_success", outlets=[LOADED])
    def write_report(ready: dict, extracted: dict, validated: dict, reshaped: dict, loaded_override=None, loaded_additive=None, cancelled=None, params=None, run_id=None, outlet_events=None) -> dict:
        from include.budget_import import dag_tasks

        if cancelled:
            return {k: cancelled.get(k) for k in ("company_code", "job_number", "status", "procore_project_id")}
        stages = {"extract": extracted, "validate": validated, "reshape": reshaped, "load": loaded_override or loaded_additive}
        result = dag_tasks.report(ready, stages, params, run_id)
        dag_tasks.emit_loaded_asset({**result, "procore_company_id": ready["procore_company_id"]}, outlet_events, LOADED)
        return {k: result.get(k) for k in ("company_code", "job_number", "status", "procore_project_id")}

    ready = check_prerequisites()
    extracted = extract(ready)
    validated = validate(ready, extracted)
    reshaped = reshape(ready, validated)
    planned = plan_import(ready, reshaped)
    route = choose_route(planned)
    overridden = load_override(ready)
    added = load_additive(ready)
    cancelled = cancel_import(ready)
    route >> [review, overridden, added]
    review >> [overridden, added, cancelled]
    write_report(ready, extracted, validated, reshaped, overridden, added, cancelled)


spectrum_budget_import()
