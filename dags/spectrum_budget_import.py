"""Manual import of one Spectrum job's budget into its Procore project (thin wiring only)."""
from __future__ import annotations

import os
from datetime import timedelta

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
validate (Great Expectations) -> reshape -> merge-mode branch -> load -> report. A blocked job fails at
`check_prerequisites` with its reason.

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

    @task.branch
    def choose_merge_mode(reshaped: dict, params=None) -> str:
        return "load_override" if params["merge_mode"] == "override" else "load_additive"

    @task(pool=PROCORE_POOL)
    def load_override(ready: dict, params=None, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.load(ready, params, run_id, "override")

    @task(pool=PROCORE_POOL)
    def load_additive(ready: dict, params=None, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.load(ready, params, run_id, "additive")

    @task(trigger_rule="none_failed_min_one_success", outlets=[LOADED])
    def write_report(ready: dict, extracted: dict, validated: dict, reshaped: dict, loaded_override=None, loaded_additive=None, params=None, run_id=None, outlet_events=None) -> dict:
        from include.budget_import import dag_tasks

        stages = {"extract": extracted, "validate": validated, "reshape": reshaped, "load": loaded_override or loaded_additive}
        result = dag_tasks.report(ready, stages, params, run_id)
        dag_tasks.emit_loaded_asset({**result, "procore_company_id": ready["procore_company_id"]}, outlet_events, LOADED)
        return {k: result.get(k) for k in ("company_code", "job_number", "status", "procore_project_id")}

    ready = check_prerequisites()
    extracted = extract(ready)
    validated = validate(ready, extracted)
    reshaped = reshape(ready, validated)
    branch = choose_merge_mode(reshaped)
    overridden = load_override(ready)
    added = load_additive(ready)
    branch >> [overridden, added]
    write_report(ready, extracted, validated, reshaped, overridden, added)


spectrum_budget_import()
