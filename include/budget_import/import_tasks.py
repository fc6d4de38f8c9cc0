"""The import as one TaskFlow group, used by both DAGs: prepare each batch -> the jobs ready to load ->
load each job (mapped, named company/job) -> summarise. The manual DAG is a batch of one, with a person's
review before the load when the project already has budget lines; the nightly is discovery + this group.

Thin wiring, imported at parse time: only Airflow's SDK here; the work is in `dag_tasks`, imported inside
each task. Task arguments are XCom values, typed `Any` here (TaskFlow's call signatures take XComArgs);
their shapes are `task_values`, which `dag_tasks` declares and mypy checks.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import AssetAlias, TaskGroup, XComArg, get_current_context, task
from airflow.sdk.definitions.xcom_arg import PlainXComArg

from include.budget_import import log_safety
from include.budget_import.notify import ReviewWaitingNotifier
from include.budget_import.settings import procore_pool, task_retries

log_safety.install()  # before any task of these DAGs reads a connection (see log_safety)

PROCORE_POOL = procore_pool()  # bounds the tasks calling Procore at once
LOADED = AssetAlias("spectrum_budget_loaded")  # one event per job whose budget was written
REVIEW_TASK = "review_import"
BLOCKED_KEY = "blocked"  # (dag_tasks.BLOCKED_KEY: the start task's XCom of the jobs it found blocked)
COMPANIES_KEY = "companies"  # (dag_tasks.COMPANIES_KEY: the scheduled sync's companies due / skipped by their schedule)
REVIEW_OPTIONS = ["Override", "Keep existing and add", "Cancel"]


TAGS = ["spectrum", "procore", "budget"]


def record_failure(context: Any) -> None:
    """Every writer's failure callback: name the job and the error in its status (dag_tasks.record_failure)."""
    from include.budget_import import dag_tasks

    dag_tasks.record_failure(context)


def default_args(retry_delay: timedelta, **more: Any) -> dict[str, Any]:
    """What every task of these DAGs gets: retries with exponential backoff, the failure callback."""
    return {"retries": task_retries(), "retry_delay": retry_delay, "retry_exponential_backoff": True, "on_failure_callback": record_failure, **more}


def _label(text: str) -> None:
    """Name the mapped task instance in the UI: company/job for a load, the batch's jobs for a batch."""
    get_current_context()["task_label"] = text  # type: ignore[typeddict-unknown-key]  # (read by map_index_template)


class ReviewImportOperator(HITLBranchOperator):
    """The person's choice drives the branch (Override and Keep existing and add -> load_job, Cancel ->
    cancel_import) and is kept as the XCom `choice`, which the load reads for its merge mode."""

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        chosen = (event or {}).get("chosen_options") or []
        context["ti"].xcom_push(key="choice", value=chosen[0] if chosen else None)
        return super().execute_complete(context, event)


def import_budgets(batches: PlainXComArg, *, review: bool) -> Any:
    """The shared tasks, after the task that says what to import: its return value, the batches, and its
    XCom `blocked`, the results of the jobs it found blocked (the nightly's unlinked jobs).
    `review`: the manual DAG's person's choice before the load (and a run that fails when its job is
    blocked or held); the nightly runs unattended."""
    with TaskGroup("import_budget", prefix_group_id=False):

        @task(map_index_template="{{ task_label }}", pool=PROCORE_POOL)
        def prepare_batch(batch: Any, params: Any = None, run_id: Any = None) -> Any:
            from include.budget_import import dag_tasks

            _label(batch["label"])
            return dag_tasks.prepare_batch(batch, params, run_id)

        @task(trigger_rule="all_done")
        def ready_jobs(prepared: Any) -> Any:
            """The prepared jobs of every batch that succeeded (a failed batch's jobs are reported failed)."""
            from include.budget_import import dag_tasks

            return dag_tasks.ready_jobs(prepared)

        @task(map_index_template="{{ task_label }}", pool=PROCORE_POOL, outlets=[LOADED], trigger_rule="none_failed_min_one_success")
        def load_job(jobs: Any, run_id: Any = None, outlet_events: Any = None, ti: Any = None) -> Any:
            """One job (or, past max_map_length, a few consecutive ones): see dag_tasks.load_jobs."""
            from include.budget_import import dag_tasks

            _label(dag_tasks.load_group_label(jobs))
            choice = ti.xcom_pull(task_ids=REVIEW_TASK, key="choice", map_indexes=-1) if review else None
            results = dag_tasks.load_jobs(jobs, run_id, choice)
            for result in results:
                dag_tasks.emit_loaded_asset(result, outlet_events, LOADED)
            return results

        @task(trigger_rule="all_done")
        def summarise(batches: Any, blocked: Any, prepared: Any, loaded: Any, cancelled: Any = None, companies: Any = None,
                      run_id: Any = None, dag: Any = None) -> Any:
            """The run's report; then the notifications of its failed, blocked and held jobs (notify.py)."""
            from include.budget_import import dag_tasks

            return dag_tasks.summarise_run(batches, blocked, prepared, loaded, cancelled, run_id, fail_on_held=review,
                                           dag_id=getattr(dag, "dag_id", ""), companies=companies)

        blocked = XComArg(batches.operator, key=BLOCKED_KEY)
        prepared = prepare_batch.expand(batch=batches)
        jobs = ready_jobs(prepared)
        loaded = load_job.expand(jobs=jobs)
        if not review:
            return summarise(batches, blocked, prepared, loaded, companies=XComArg(batches.operator, key=COMPANIES_KEY))

        @task(pool=PROCORE_POOL)
        def plan_review(jobs: Any, params: Any = None, run_id: Any = None) -> Any:
            from include.budget_import import dag_tasks

            return dag_tasks.plan_review(jobs, params, run_id)

        @task.branch
        def choose_route(planned: Any) -> str:
            return REVIEW_TASK if planned["ask"] else "load_job"

        reviewed = ReviewImportOperator(
            task_id=REVIEW_TASK,
            subject="Import Spectrum job {{ params.company_code }}/{{ params.job_number }} into its Procore project?",
            body="{{ ti.xcom_pull(task_ids='plan_review')['review_body'] }}",
            options=REVIEW_OPTIONS,
            options_mapping={"Override": "load_job", "Keep existing and add": "load_job", "Cancel": "cancel_import"},
            notifiers=[ReviewWaitingNotifier()],  # tells BUDGET_IMPORT_NOTIFY's notifiers a person is awaited
            retries=0,  # a person's answer is not retried: the run waits for it
        )

        @task
        def cancel_import(jobs: Any, params: Any = None, run_id: Any = None) -> Any:
            from include.budget_import import dag_tasks

            return dag_tasks.cancel_import(jobs, params, run_id)

        route = choose_route(plan_review(jobs))
        cancelled = cancel_import(jobs)
        route >> [reviewed, loaded]
        reviewed >> [loaded, cancelled]
        return summarise(batches, blocked, prepared, loaded, cancelled)
