"""What the DAGs' tasks do, as plain functions: the DAG files and the shared task group
(`import_tasks`) stay thin wiring. Both import DAGs run the same tasks: where they start (one job, or
discovery), then prepare_batch -> ready_jobs -> load_job (mapped, one per job) -> summarise. Imported
inside task bodies only, so parsing a DAG never loads pandas or GE.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.budget_import import job_status_store, pipeline, totals
from include.budget_import.artifacts import RunFolder, read_json
from include.budget_import.connections import procore_hook, spectrum_connection
from include.budget_import.job_keys import job_key
from include.budget_import.job_reports import blocked_result, job_result, now_iso
from include.budget_import.prerequisites import JobBlockedError
from include.budget_import.procore.errors import ProcoreError, ProcorePermissionError
from include.budget_import.project_lock import project_lock
from include.budget_import.spectrum_source import (
    SpectrumDataError,
    list_jobs,
    spectrum_errors,
)
from include.budget_import.task_values import Batch, BatchOutcome, JobToImport, PreparedJob

log = logging.getLogger(__name__)


@contextmanager
def final_on_client_errors(what: str) -> Iterator[None]:
    """An error a retry will not heal (its type says: `retry_helps`, e.g. a 4xx from Procore, Spectrum
    data to fix first) fails the task at once with the reason instead of retrying it."""
    try:
        yield
    except (ProcoreError, SpectrumDataError) as exc:
        if exc.retry_helps:
            raise
        raise AirflowFailException(f"{what}: {exc}") from None
    except JobBlockedError as exc:  # a prerequisite a person must fix (a locked budget at a restore)
        raise AirflowFailException(f"{what}: {exc}") from None


@contextmanager
def spectrum_for(company_code: str, job_number: str, stage: str) -> Iterator[Any]:
    """Spectrum's connection for one job's stage. A refused connection fails the task (Airflow retries
    it) with an error that names the job and the stage, never a bare driver message."""
    with spectrum_errors(company_code, job_number, f"{stage}, connecting"):
        conn = spectrum_connection()
    with closing(conn):
        yield conn


def _run_choices(params: dict[str, Any]) -> dict[str, Any]:
    """The run's merge mode and dry run, as triggered: what every job's report records."""
    return {"merge_mode": str(params.get("merge_mode") or "override"), "dry_run": bool(params.get("dry_run", False))}


def _request(params: dict[str, Any], hook: Any) -> pipeline.JobRequest:
    company_code = str(params["company_code"]).strip()
    return pipeline.JobRequest(company_code=company_code, job_number=str(params["job_number"]).strip(),
                               procore_company_id=hook.company_id_for(company_code), **_run_choices(params))


# --- what each DAG starts from: the batches to import ---------------------------------------------
def one_job_batch(params: dict[str, Any], ti: Any = None) -> list[Batch]:
    """The manual DAG's job as a batch of one: the same path as the nightly from here on."""
    request = _request(params, procore_hook())
    job = JobToImport(company_code=request.company_code, job_number=request.job_number, procore_company_id=request.procore_company_id)
    if ti is not None:
        ti.xcom_push(key=BLOCKED_KEY, value=[])  # (discovery's blocked jobs: none here)
    return job_batches([job], 1)


JOBS_PER_BATCH = 100  # default of the nightly DAG's jobs_per_batch param


def discover_jobs(params: dict[str, Any], run_id: str, ti: Any = None, *, instant: Any = None, run_type: str | None = None) -> list[Batch]:
    """Active Spectrum jobs that are linked to a Procore project, in the batches they are prepared in
    (one company's jobs, `jobs_per_batch` at most). Unlinked ones get a 'not linked' result (so they
    show on the Budgets page), as do projects naming a job Spectrum lacks ('job not found'): those
    results are the task's XCom `blocked`, which the run's summary reads.
    Only the companies due at the run's logical date (`instant`) in a scheduled run (sync frequency,
    discovery.companies_to_sync; param `sync`); what the run made of each company is the XCom `companies`."""
    from include.budget_import.discovery import companies_to_sync, discover
    from include.budget_import.sync_schedule import SyncSettingError

    hook = procore_hook()
    codes = [str(c) for c in (params.get("company_codes") or hook.spectrum_company_codes())]
    if not codes:
        raise AirflowFailException("No Spectrum company to import: set the company_codes param or extra.companies on the procore_api connection")
    try:
        codes, companies = companies_to_sync(codes, str(params.get("sync") or "auto"), instant, run_type)
    except (SyncSettingError, ValueError) as exc:
        raise AirflowFailException(f"Sync frequency: {exc}") from None
    for skipped in companies["skipped_by_schedule"]:
        log.info("company %s skipped by its schedule (%s)", skipped["company_code"], skipped["schedule"])
    if ti is not None:
        ti.xcom_push(key=COMPANIES_KEY, value=companies)
    if not codes:  # nothing due this hour: no connection to Spectrum or Procore at all
        log.info("no company due at %s (schedules: %s)", companies["instant"], companies["schedules"])
        if ti is not None:
            ti.xcom_push(key=BLOCKED_KEY, value=[])
        return []
    api = hook.get_api()
    jobs: list[JobToImport] = []
    blocked: list[dict[str, Any]] = []
    run = RunFolder(run_id)
    with closing(spectrum_connection()) as spectrum, final_on_client_errors("Discovering linked jobs"):
        for code in codes:
            company_id = hook.company_id_for(code)
            found = discover(code, company_id, list_jobs(spectrum, code), api.projects(company_id))
            jobs += [JobToImport(company_code=r.company_code, job_number=r.job_number, procore_company_id=r.procore_company_id) for r in found.linked]
            blocked += [_record_blocked(run, code, job, company_id, "not_linked", params) for job in found.not_linked]
            blocked += [_record_blocked(run, code, job, company_id, "job_not_found", params) for job in found.orphans]
    batches = job_batches(jobs, int(params.get("jobs_per_batch") or JOBS_PER_BATCH))
    log.info("%d linked active jobs to import across companies %s, in %d batches", len(jobs), codes, len(batches))
    if ti is not None:
        ti.xcom_push(key=BLOCKED_KEY, value=blocked)
    return batches


BLOCKED_KEY = "blocked"  # the XCom of a start task with the results of jobs it found blocked
COMPANIES_KEY = "companies"  # the scheduled sync's XCom: the companies due, not due and skipped by their schedule


def job_batches(jobs: list[JobToImport], size: int) -> list[Batch]:
    """Consecutive jobs of one company, `size` at most, each batch labelled for the UI."""
    if size < 1:
        raise AirflowFailException(f"jobs_per_batch must be at least 1, not {size}")
    keys: dict[str, JobToImport] = {}
    for job in jobs:  # one folder, status and lock per job: two jobs with one key would share them
        key = job_key(job["company_code"], job["job_number"])
        if key in keys:
            raise AirflowFailException(f"jobs {keys[key]['company_code']}/{keys[key]['job_number']!r} and {job['company_code']}/{job['job_number']!r} "
                                       f"would share the report folder, status and lock {key!r}: refusing both")
        keys[key] = job
    by_company: dict[str, list[JobToImport]] = {}
    for job in jobs:
        by_company.setdefault(job["company_code"], []).append(job)
    batches: list[Batch] = []
    for company, members in by_company.items():
        for start in range(0, len(members), size):
            part = members[start : start + size]
            batches.append(Batch(company_code=company, label=f"{company} {_job_span(part)}", jobs=part))
    return batches


def _job_span(jobs: list[JobToImport]) -> str:
    """'jobs 10.00..19.50' (or 'job 10.00'): a batch's jobs, as a label names them."""
    first, last = jobs[0]["job_number"], jobs[-1]["job_number"]
    return f"jobs {first}..{last}" if len(jobs) > 1 else f"job {first}"


def _record_blocked(run: RunFolder, company_code: str, job_number: str, company_id: int, reason: str, params: dict[str, Any]) -> dict[str, Any]:
    request = pipeline.JobRequest(company_code, job_number, company_id, **_run_choices(params))
    return blocked_result(request, pipeline.JobBlockedError(reason), run.job(company_code, job_number))


# --- the import, the same tasks in both DAGs ------------------------------------------------------
def prepare_batch(batch: Batch, params: dict[str, Any], run_id: str) -> BatchOutcome:
    """Prerequisites, extraction, validation and reshaping of a batch of jobs (prepare.prepare_jobs).
    Returns the jobs ready to load and the results of those blocked. A job that fails alone is reported
    failed and left out; an error that may pass fails the task (its retry prepares the batch again:
    nothing was written to Procore)."""
    from include.budget_import.prepare import prepare_jobs

    requests = [
        pipeline.JobRequest(company_code=j["company_code"], job_number=j["job_number"], procore_company_id=int(j["procore_company_id"]), **_run_choices(params))
        for j in batch["jobs"]
    ]
    try:
        with spectrum_for(batch["company_code"], _job_span(batch["jobs"]), "prepare_batch") as spectrum, final_on_client_errors(f"Batch {batch['label']}"):
            prepared = prepare_jobs(spectrum, procore_hook().get_api(), requests, RunFolder(run_id))
    except Exception as exc:
        run = RunFolder(run_id)
        for request in requests:
            if run.job(request.company_code, request.job_number).file("result.json").is_file():
                continue  # blocked before the error: its status says why
            write_failed_status(run_id, request.company_code, request.job_number, f"Preparing batch {batch['label']} failed: {exc}")
        raise
    for request, error in prepared.failed:
        label = f"{request.company_code}/{request.job_number}"
        write_failed_status(run_id, request.company_code, request.job_number, f"Spectrum budget import failed for job {label}: {error}")
    log.info("batch %s: %d ready to load, %d blocked, %d failed", batch["label"], len(prepared.prepared), len(prepared.blocked), len(prepared.failed))
    return BatchOutcome(ready=prepared.prepared, blocked=prepared.blocked)


def ready_jobs(prepared_batches: Any, max_map_length: int | None = None) -> list[list[PreparedJob]]:
    """Every prepared job of the batches that succeeded, in the groups the load is mapped over: one job
    per load task (its own retries, named company/job), unless there are more jobs than Airflow maps
    (`[core] max_map_length`, 1,024 by default): then consecutive jobs share a load task, as few per task
    as that allows, so a night of any size is loaded."""
    jobs = [job for batch in prepared_batches if batch for job in batch["ready"]]
    limit = max_map_length if max_map_length is not None else _max_map_length()
    size = max(1, -(-len(jobs) // max(limit, 1)))
    if size > 1:
        log.warning("%d jobs to load, more than max_map_length (%d): %d jobs per load task", len(jobs), limit, size)
    return [jobs[start : start + size] for start in range(0, len(jobs), size)]


def _max_map_length() -> int:
    from airflow.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def plan_review(groups: list[list[PreparedJob]], params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """What each choice would do to the job's Procore budget as it stands, for the person who decides
    (no write); whether to ask one. No job ready (it was blocked): nothing to ask."""
    from include.budget_import.handoff import read_load_input
    from include.budget_import.job_reports import now_iso
    from include.budget_import.load import BudgetLoader
    from include.budget_import.plan import plan_merge
    from include.budget_import.review import asks_a_person, review_body, snapshot_link
    from include.budget_import.snapshot import (
        snapshot_label,
        snapshot_payload,
        write_snapshot,
    )

    jobs = [job for group in groups for job in group]
    if not jobs:
        return {"ask": False, "review_body": ""}
    prepared = jobs[0]
    ready = prepared["ready"]
    review = str(params.get("review") or "auto")
    name = ready.get("procore_project_name") or ready["procore_project_id"]
    if not asks_a_person(review, 1, bool(params.get("dry_run", False))):  # `never`, or a dry run: nobody is asked, nothing to read
        return {"ask": False, "review_body": "", "project": f"{name}"}  # (the load checks its input's identity itself)
    folder = RunFolder(run_id).job(ready["company_code"], ready["job_number"])
    load_input = read_load_input(prepared["load_input"])
    load_input.check_identity(ready)
    loader = BudgetLoader(procore_hook().get_api(), pipeline.project_target(ready), pipeline.RunCompanyFacts(folder.run, int(ready["procore_company_id"])))
    with final_on_client_errors(f"Job {ready['company_code']}/{ready['job_number']}"):
        try:
            existing = loader.existing_lines()
            desired = load_input.desired()
            override, additive = (plan_merge(desired, existing, mode, load_input.rejected) for mode in ("override", "additive"))
            changes = override.write_count > 0 or additive.write_count > 0
            ask = asks_a_person(review, len(existing), bool(params.get("dry_run", False))) and (changes or review == "always")
            if ask and changes:  # never ask a person about an import the article's prerequisites refuse
                loader.require_write_permission()
        except (JobBlockedError, ProcorePermissionError) as exc:  # nobody to ask: load_job reports the job as blocked
            log.warning("%s/%s: not asking for a review: %s", ready["company_code"], ready["job_number"], exc)
            return {"ask": False, "review_body": ""}
    counts = {"existing_lines": len(existing), "plans": {"override": override.counts(), "additive": additive.counts()}, "project": f"{name}"}
    if not ask:  # no person reads it: no review snapshot (the load takes its own before an override writes)
        return {**counts, "ask": False, "review_body": ""}
    url = None
    if existing:
        write_snapshot(folder.path, snapshot_payload(snapshot_label(ready, folder.run.run_id), existing, now_iso(), plan=override,
                                                     names=load_input.names())
                       | {"stage": "review"})
        url = snapshot_link(folder.run.path.name, folder.path.name)
    body = review_body(f"Procore project {name} (Spectrum job {ready['company_code']}/{ready['job_number']})", existing, override, additive, url)
    folder.write_json("review.json", {"override": override.as_dict(), "additive": additive.as_dict(), "existing_lines": len(existing)})
    return {**counts, "ask": ask, "review_body": body}


REVIEW_CHOICES = {"Override": "override", "Keep existing and add": "additive"}  # the review's options -> merge mode
CANCEL = "Cancel"


def load_group_label(group: list[PreparedJob]) -> str:
    """A load task's name in the UI: its job ('01/19.50'), or its jobs' span ('01/10.00..01/19.50')."""
    labels = [f"{p['request']['company_code']}/{p['request']['job_number']}" for p in group]
    return labels[0] if len(labels) == 1 else f"{labels[0]}..{labels[-1]} ({len(labels)} jobs)"


def load_jobs(group: list[PreparedJob], run_id: str, review_choice: str | None = None) -> list[dict[str, Any]]:
    """The load task: each job of its group (one, unless the night has more jobs than Airflow maps).
    A lone job's error fails the task (Airflow retries it). In a shared task a job's error is that job's
    failed result and the others go on (a retry would repeat them all); the run's summary fails the run."""
    if len(group) == 1:
        return [load_job(group[0], run_id, review_choice)]
    results = []
    for prepared in group:
        request = prepared["request"]
        try:
            results.append(load_job(prepared, run_id, review_choice))
        except Exception as exc:
            message = f"Spectrum budget import failed for job {request['company_code']}/{request['job_number']}: {exc}"
            log.error("%s", message)
            write_failed_status(run_id, request["company_code"], request["job_number"], message)
            results.append({"company_code": request["company_code"], "job_number": request["job_number"], "status": "failed",
                            "reason": "import_failed", "message": message, "run_id": run_id})
    return results


def load_job(prepared: PreparedJob, run_id: str, review_choice: str | None = None) -> dict[str, Any]:
    """Plan and write one prepared job's budget, and its result.
    The merge mode is the run's; a person's choice at review sets it instead, and approves the override."""
    request = prepared["request"]
    label = f"Job {request['company_code']}/{request['job_number']}"
    folder = RunFolder(run_id).job(request["company_code"], request["job_number"])
    mode = REVIEW_CHOICES.get(review_choice or "")
    with final_on_client_errors(label):
        result = pipeline.load_prepared(procore_hook().get_api(), prepared, folder, mode=mode, review_approved=mode is not None)
    log.info("%s: %s %s", label, result["status"], result.get("reason") or "")
    return {**result, "procore_company_id": request["procore_company_id"]}


def cancel_import(groups: list[list[PreparedJob]], params: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """The person chose Cancel: nothing is written; the job's result says so (who answered is in the
    review task's Required Action)."""
    results = []
    for prepared in (job for group in groups for job in group):
        request, ready = pipeline.JobRequest(**prepared["request"]), prepared["ready"]
        folder = RunFolder(run_id).job(request.company_code, request.job_number)
        result = job_result(request, "cancelled", reason="cancelled_at_review", message="cancelled at review: nothing was written",
                            mode=request.merge_mode, dry_run=request.dry_run, procore_project_id=ready["procore_project_id"], run_id=run_id)
        folder.write_json("result.json", result)
        results.append(result)
    return results


def summarise_run(batches: list[Batch], blocked: Any, prepared: Any, loaded: Any, cancelled: Any, run_id: str, *,
                  fail_on_held: bool, dag_id: str = "", companies: Any = None) -> dict[str, Any]:
    """The run's report, from what its tasks returned: discovery's blocked jobs, each batch's blocked
    jobs, each load's result. Fails the run when a job has no result (its batch or its load failed),
    so a partial refresh is never presented as complete; the manual DAG (`fail_on_held`) also fails
    when its job is blocked or held for review."""
    results = list(blocked or [])
    results += [r for batch in (prepared or []) if batch for r in batch["blocked"]]
    results += [r for group in (loaded or []) if group for r in group]
    results += [r for group in (cancelled or []) if group for r in (group if isinstance(group, list) else [group])]
    jobs = [job for batch in batches or [] for job in batch["jobs"]]
    done = {(r["company_code"], r["job_number"]) for r in results}
    failed = {(r["company_code"], r["job_number"]) for r in results if r["status"] == "failed"}
    missing = [f"{j['company_code']}/{j['job_number']}" for j in jobs if (j["company_code"], j["job_number"]) not in done - failed]
    summary = {**summarise(results), "failed_jobs": missing}
    if companies:  # the scheduled sync: which companies were due, and those skipped by their schedule
        summary["companies"] = companies
    run = RunFolder(run_id)
    run.write_summary(summary)
    for line in summary_lines(summary):
        log.info("%s", line)
    from include.budget_import.retention import prune_runs

    prune_runs(run.root, current_run=run_id)  # (BUDGET_IMPORT_KEEP_DAYS / _KEEP_RUNS)
    _notify(results, [j for j in jobs if f"{j['company_code']}/{j['job_number']}" in missing], run_id, dag_id, run.root)
    if missing:
        raise AirflowFailException(f"{len(missing)} job(s) failed to import (see their task logs): {', '.join(missing)}")
    # (superseded: a newer run imported this job meanwhile; its status is the job's truth, nothing is held)
    held = [r for r in results if r["status"] in ("blocked", "needs_review", "failed_reconciliation") and r.get("reason") != "superseded"] \
        if fail_on_held else []
    if held:
        raise AirflowFailException("; ".join(f"Job {r['company_code']}/{r['job_number']} is {r['status'].replace('_', ' ')}"
                                             f"{' (' + r['reason'] + ')' if r.get('reason') else ''}: {r.get('message') or 'see its report'}" for r in held))
    return {k: summary[k] for k in ("jobs", "by_status")}


def _notify(results: list[dict[str, Any]], missing: list[JobToImport], run_id: str, dag_id: str, root: Any) -> None:
    """Tell the configured notifiers (BUDGET_IMPORT_NOTIFY) of the run's failed, blocked and held jobs;
    a job without a result is told with the error its status holds. Never fails the run."""
    from include.budget_import import notify

    if not notify.configured():
        return
    failed = []
    for job in missing:
        try:
            status = job_status_store.read_status(job["company_code"], job["job_number"], root=root)
        except Exception:  # (the message still names the job)
            status = {}
        failed.append({"company_code": job["company_code"], "job_number": job["job_number"],
                       "message": status.get("message") or "the job's task failed: see its log"})
    notify.notify_run(results, failed, run_id=run_id, dag_id=dag_id)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for result in results:
        by_status[result["status"]] = by_status.get(result["status"], 0) + 1
    return {"jobs": len(results), "by_status": by_status, "results": results}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Two readable lines per job: its state (a synced job with rejected rows is synced with
    exceptions), rows by outcome, writes in Procore; then the totals an accountant reconciles by."""
    from include.budget_import.job_states import state_label
    from include.budget_import.totals import money, signed_money

    lines = []
    for skipped in (summary.get("companies") or {}).get("skipped_by_schedule") or []:
        lines.append(f"company {skipped['company_code']:<6} SKIPPED  by its schedule ({skipped['schedule']}): not imported by the scheduled sync")
    for r in summary["results"]:
        label = f"{r['company_code']}/{r['job_number']}"
        state = state_label(r).upper()
        if r["status"] in ("blocked", "needs_review", "cancelled"):
            lines.append(f"{label:<14} {state:<8} {r['reason']}: {r['message']}")
            continue
        stages = r.get("stages", {})
        shape, plan = stages.get("reshape", {}), stages.get("load", {}).get("plan", {})
        reasons = stages.get("validate", {}).get("by_reason", {})
        lines.append(
            f"{label:<14} {state:<8} extracted {stages.get('extract', {}).get('extracted', 0)}, "
            f"line items {shape.get('line_items', 0)}, skipped {shape.get('skipped', 0)}, rejected {shape.get('rejected', 0)}"
            f"{' ' + str(reasons) if reasons else ''}; Procore: created {plan.get('create', 0)}, updated {plan.get('update', 0)}, "
            f"deleted {plan.get('delete', 0)}, kept {plan.get('keep', 0)}"
        )
        t = r.get("totals") or {}
        if t.get("spectrum") is not None:
            lines.append(
                f"{'':<14} Spectrum {money(t['spectrum'])} = imported {money(t.get('line_items'))} + skipped {money(t.get('skipped'))}"
                f" + rejected {money(t.get('rejected'))}; Procore {money(t.get('procore'))}, difference {signed_money(t.get('difference')) or 'n/a'}"
                + (f"; {r['reconciliation']}" if r.get("reconciliation") else "")
            )
    return lines


# --- restore DAG: put a pre-override snapshot back ----------------------------------------------
def restore_snapshot(params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Restore the snapshot an earlier override run took of one job's Procore budget. The budget as it
    stands is snapshotted first, so a restore can itself be undone."""
    from include.budget_import.handoff import prepared_at
    from include.budget_import.load import BudgetLoader, ProjectTarget
    from include.budget_import.snapshot import (
        SNAPSHOT_JSON,
        display_fields,
        line_names,
        restore,
        snapshot_payload,
        write_snapshot,
    )

    hook = procore_hook()
    company_code, job_number = str(params["company_code"]).strip(), str(params["job_number"]).strip()
    snapshot_run = str(params["snapshot_run_id"]).strip()
    source = RunFolder(snapshot_run).job(company_code, job_number)
    snapshot_file = source.file(SNAPSHOT_JSON)  # local, or on an object store
    if not snapshot_file.is_file():
        raise AirflowFailException(f"No snapshot for job {company_code}/{job_number} in run {snapshot_run!r} ({snapshot_file})")
    payload = read_json(snapshot_file)
    if (str(payload.get("company_code")), str(payload.get("job_number"))) != (company_code, job_number):
        found = f"{payload.get('company_code')}/{payload.get('job_number')}"
        raise AirflowFailException(f"The snapshot in {snapshot_file} is of job {found}, not {company_code}/{job_number}")
    target = ProjectTarget(company_code, job_number, int(payload["procore_company_id"]), int(payload["project_id"]))
    folder = RunFolder(run_id).job(company_code, job_number)
    started = prepared_at()
    loader = BudgetLoader(hook.get_api(), target, pipeline.RunCompanyFacts(folder.run, target.company_id))
    with final_on_client_errors(f"Restoring job {company_code}/{job_number}"), \
            project_lock(company_code, job_number, owner=f"restore run {run_id}", root=folder.run.root) as hold:
        if not folder.file(SNAPSHOT_JSON).is_file():  # a retry keeps the budget as it was before the first attempt
            label = {"company_code": company_code, "job_number": job_number, "procore_company_id": target.company_id, "project_id": target.project_id}
            label |= display_fields(payload) | {"run_id": run_id, "restore_of": snapshot_run}  # for people: the restored snapshot's names
            write_snapshot(folder.path, snapshot_payload(label, loader.existing_lines(), now_iso(), names=line_names(payload)))
        outcome = restore(loader, snapshot_file)
    restored_total = totals.exact_text(sum((line.amount for line in outcome.final_lines), start=Decimal(0)))
    result = {
        "company_code": company_code, "job_number": job_number, "status": "restored", "reason": None,
        "message": f"restored from the snapshot of run {snapshot_run} (taken {payload['taken_at']})",
        "finished_at": now_iso(), "run_id": run_id, "restored_from_run": snapshot_run, "mode": "restore", "dry_run": False, "prepared_at": started,
        "plan": outcome.plan.as_dict(), "procore_project_id": target.project_id,
        "stages": {"load": {"plan": outcome.plan.counts(), "procore_total": restored_total}},
        "totals": totals.job_totals(None, restored_total),  # Spectrum was not read: Procore's side only
        "lock": {"waited_s": round(hold.waited_s, 3), "acquired_at": hold.acquired_at, "released_at": hold.released_at},
    }
    folder.write_json("result.json", result)
    job_status_store.record_result(result, {k: v for k, v in result.items() if k != "plan"} | {"plan_counts": outcome.plan.counts()},
                                   root=folder.run.root)
    return {k: result[k] for k in ("company_code", "job_number", "status", "message")}


# --- assets and failure callbacks ----------------------------------------------------------------
def budget_asset_uri(company_id: int, project_id: int) -> str:
    return f"procore://companies/{company_id}/projects/{project_id}/budget"


def emit_loaded_asset(result: dict[str, Any], outlet_events: Any, alias: Any) -> None:
    """One asset event per job whose budget was written (synced, not a dry run), so downstream DAGs can react."""
    if result.get("status") != "synced" or not result.get("procore_project_id"):
        return
    from airflow.sdk import Asset

    asset = Asset(
        name=f"procore_budget_{job_key(str(result['company_code']), str(result['job_number']))}",
        uri=budget_asset_uri(int(result["procore_company_id"]), int(result["procore_project_id"])),
    )
    outlet_events[alias].add(asset, extra={k: result.get(k) for k in ("company_code", "job_number", "procore_project_id", "mode")})


def record_failure(context: dict[str, Any]) -> str:
    """Failure callback: name the job and the reason in the log and in the job's status (job_status_store)."""
    ti = context.get("task_instance") or context.get("ti")
    params = context.get("params") or {}
    label = getattr(ti, "rendered_map_index", None) or ""
    company, _, job = label.partition("/") if "/" in label else (params.get("company_code", "?"), "", params.get("job_number", "?"))
    error = context.get("exception")
    task_id = getattr(ti, "task_id", "?")
    if company == "?":  # not one job's task (a batch's, say): that task has written its jobs' statuses
        message = f"Spectrum budget import task {task_id} {label}".rstrip() + f" failed: {error}"
    else:
        message = f"Spectrum budget import failed for job {company}/{job} in task {task_id}: {error}"
    log.error("%s", message)
    run_id = context.get("run_id") or getattr(ti, "run_id", "unknown")
    if company and job and company != "?" and not _reported_by_this_run(str(run_id), str(company), str(job)):
        write_failed_status(str(run_id), str(company), str(job), message)
    return message


def _reported_by_this_run(run_id: str, company_code: str, job_number: str) -> bool:
    """The task failed on purpose after writing the job's result (blocked, held for review): that result
    is the job's status, not a generic 'import failed'."""
    result = RunFolder(run_id).job(company_code, job_number).file("result.json")
    try:
        return result.is_file() and read_json(result).get("status") in ("blocked", "needs_review", "failed_reconciliation", "cancelled")
    except (OSError, ValueError):
        return False


def write_failed_status(run_id: str, company_code: str, job_number: str, message: str) -> None:
    """The job's latest status and its run's history row: failed, with the error (the Budgets page shows it)."""
    job_status_store.record_status(
        {"company_code": company_code, "job_number": job_number, "status": "failed", "reason": "import_failed", "message": message,
         "finished_at": now_iso(), "run_id": run_id}, root=RunFolder(run_id).root,
    )
