"""Plan and load one prepared job into its Procore project, and the job's result.

Both DAGs run the same path: `prepare.prepare_jobs` readies a batch of jobs (prerequisites, extract,
validate, reshape), then each job is loaded by `load_prepared` in its own task; `import_job` is that path
for a batch of one, outside Airflow (tests, tools).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from decimal import Decimal
from typing import Any

import pandas as pd

from include.budget_import import job_status_store, line_checks, storage, totals
from include.budget_import.artifacts import JobFolder, RunFolder
from include.budget_import.handoff import LoadInput, read_load_input
from include.budget_import.job_reports import (
    blocked_result,
    finished_result,
    now_iso,
    write_report,
)
from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.money import money_text
from include.budget_import.plan import (
    REJECTED_KEEP,
    ExistingLine,
    MergePlan,
    plan_merge,
)
from include.budget_import.prepare import prepare_jobs
from include.budget_import.prerequisites import JobBlockedError, JobRequest
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import ProcorePermissionError
from include.budget_import.project_lock import project_lock
from include.budget_import.review import needs_review
from include.budget_import.snapshot import (
    SNAPSHOT_JSON,
    snapshot_label,
    snapshot_payload,
    write_snapshot,
)
from include.budget_import.spectrum_source import DbConnection
from include.budget_import.task_values import LoadInputRef, PreparedJob, ReadyJob

__all__ = ["JobBlockedError", "JobRequest", "import_job", "load_prepared", "reconcile"]

log = logging.getLogger(__name__)


class RunCompanyFacts:
    """What every job of one run shares about a Procore company (its line item types, its budget view
    id), in a file of the run folder that every task of the run can read, whatever process it runs in:
    a run of 1,000 jobs reads them once per company instead of 1,000 times. A type missing from it is
    asked of Procore before being created (load.BudgetLoader), so a stale entry costs a read, never a
    duplicate. Concurrent writers may lose each other's update: the next job then reads Procore again."""

    def __init__(self, run: RunFolder, company_id: int) -> None:
        self.path = run.path / ".procore_cache" / f"company_{int(company_id)}.json"

    def _all(self) -> dict[str, Any]:
        try:
            data = storage.read_json(self.path)
        except (OSError, ValueError):  # FileNotFoundError is an OSError, on an object store too
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, name: str) -> Any:
        return self._all().get(name)

    def put(self, name: str, value: Any) -> None:
        data = {**self._all(), name: value}
        storage.write_json(self.path, data, compact=True)  # atomic: a reader sees the old file or the new one


def project_target(ready: ReadyJob) -> ProjectTarget:
    return ProjectTarget(ready["company_code"], ready["job_number"], int(ready["procore_company_id"]), int(ready["procore_project_id"]))


def load(api: ProcoreBudgetApi, ready: ReadyJob, folder: JobFolder, load_input_ref: LoadInputRef, mode: str, dry_run: bool, *,
         review_approved: bool = False) -> dict[str, Any]:
    """Plan and write under the job's lock, so two runs never write one project's budget at once."""
    with project_lock(ready["company_code"], ready["job_number"], owner=f"run {folder.run.run_id}", root=folder.run.root) as hold:
        load_input = read_load_input(load_input_ref)
        newer = newer_write(folder, load_input.identity.get("prepared_at"))
        if newer and not dry_run:
            raise JobBlockedError("superseded", f"({newer})")
        result = _load(api, ready, folder, load_input, mode, dry_run, review_approved)
    result["lock"] = {"waited_s": round(hold.waited_s, 3), "acquired_at": hold.acquired_at, "released_at": hold.released_at}
    return result


def _snapshot_stage(folder: JobFolder) -> str | None:
    """None when this run has no snapshot yet, else the stage that took it ('review' or 'load')."""
    path = folder.file(SNAPSHOT_JSON)
    if not path.is_file():
        return None
    return str(storage.read_json(path).get("stage") or "load")


def interrupted_run(folder: JobFolder) -> str | None:
    """The earlier run of this job whose import failed part-way, when it left a snapshot: that snapshot is
    the budget before anything was written, where this run's own may be of a half-written budget."""
    status = job_status_store.read_status(folder.company_code, folder.job_number, root=folder.run.root)
    run_id = status.get("run_id")
    if status.get("status") != "failed" or not run_id:
        return None
    earlier = RunFolder(str(run_id), root=folder.run.root)
    if earlier.path == folder.run.path or not earlier.job(folder.company_code, folder.job_number).file(SNAPSHOT_JSON).is_file():
        return None
    return earlier.path.name


def newer_write(folder: JobFolder, prepared: str | None) -> str | None:
    """Another run's write of this job from Spectrum data newer than ours (an import prepared later, or a
    restore started later) that finished while this load waited: writing ours would put back older data."""
    status = job_status_store.read_status(folder.company_code, folder.job_number, root=folder.run.root)
    theirs = status.get("prepared_at")
    if not prepared or not theirs or status.get("run_id") == folder.run.run_id or status.get("status") not in ("synced", "restored"):
        return None
    if str(theirs) > str(prepared):
        return f"run {status.get('run_id')} {status.get('status')} this job from data of {theirs}, newer than this run's ({prepared})"
    return None


def _load(api: ProcoreBudgetApi, ready: ReadyJob, folder: JobFolder, load_input: LoadInput, mode: str, dry_run: bool,
          review_approved: bool) -> dict[str, Any]:
    """Plan (and unless dry_run, write) the job's budget; snapshot first when an override changes lines.
    Nothing is written when the input is not this job's, nor when an override would destroy more than an
    unattended run may decide (held for review, unless a person approved this run's override)."""
    started = time.perf_counter()
    loader = BudgetLoader(api, project_target(ready), RunCompanyFacts(folder.run, int(ready["procore_company_id"])))
    load_input.check_identity(ready)
    interrupted = interrupted_run(folder)
    desired = load_input.desired()
    created_types: list[str] = []
    created_codes: list[str] = []
    try:
        existing = loader.existing_lines()
        plan = plan_merge(desired, existing, mode, load_input.rejected)
        write_report(folder, "plan.json", {**plan.as_dict(), "dry_run": dry_run, "project_id": ready["procore_project_id"],
                                           "names": load_input.names()})
        held = needs_review(plan, existing) if mode == "override" and not review_approved else None
        if held:
            raise JobBlockedError("needs_review", f"({held}; plan.json lists every change)")
        if not dry_run and plan.write_count:  # an unchanged job needs no code or type made sure of: no call
            created_types = loader.ensure_line_item_types(load_input.line_item_types())
            created_codes = loader.ensure_cost_codes(load_input.cost_codes)
        mapping = pd.DataFrame(loader.resolved_ids(desired, dry_run), columns=["cost_code", "cost_type", "cost_code_id", "line_item_type_id"])
        mapping_results = line_checks.validate_line_items(mapping)  # no GX in the load task (line_checks.py)
        folder.write_json("line_item_validation.json", [r.as_dict() for r in mapping_results])
        if not all(r.success for r in mapping_results):
            raise JobBlockedError("failed_validation", "(a line item is not mapped to a Procore cost code and line item type)")
        if mode == "override" and (plan.updates or plan.deletes) and _snapshot_stage(folder) in (None, "review"):
            # the first attempt's snapshot is the budget before this run wrote anything: a retry after a
            # crash mid-load keeps it rather than snapshot the half-written state (the review's is
            # replaced: the budget may have changed while the run waited for a person)
            write_snapshot(folder.path, snapshot_payload(snapshot_label(ready, folder.run.run_id), existing, now_iso(), plan=plan,
                                                         names=load_input.names()))
        if dry_run:
            if plan.write_count:  # "ready to import" only when these credentials could write it
                loader.require_write_permission()
            final = existing
            rounds = ambiguous = 0
        else:
            outcome = loader.apply(desired, mode, existing=existing, rejected=load_input.rejected, plan=plan)
            final, rounds, ambiguous = outcome.final_lines, outcome.rounds, outcome.ambiguous_writes
    except ProcorePermissionError as exc:
        raise JobBlockedError("no_permission", f"({exc.detail})") from None
    reconciliation = reconcile(desired, final, plan, dry_run)
    write_report(folder, "reconciliation.json", reconciliation)
    return {
        "mode": mode,
        "dry_run": dry_run,
        "prepared_at": load_input.identity.get("prepared_at"),
        "interrupted_run_snapshot": interrupted,
        "plan": plan.counts(),
        "created_cost_codes": created_codes,
        "created_line_item_types": created_types,
        "write_rounds": rounds,
        "ambiguous_writes": ambiguous,
        "reconciled": reconciliation["success"],
        "procore_total": reconciliation["procore_total"],
        "imported_total": reconciliation["imported_total"],
        "reconciliation": reconciliation["headline"],
        "differences": reconciliation["differences"],
        "api": api.client.stats.as_dict(),
        "seconds": round(time.perf_counter() - started, 3),
    }


def reconcile(desired: list[Any], final: list[ExistingLine], plan: MergePlan, dry_run: bool) -> dict[str, Any]:
    """After the load, every line on either side is compared and given its outcome (`totals` names them):
    override answers for every Spectrum line item and every Procore line (a line Spectrum lacks must be
    gone, unless its Spectrum row was rejected); additive answers for the lines it created, and shows
    each kept line that differs from Spectrum as kept by choice. The compared lines are checked with the
    saved procore_reconciliation suite (line_checks: no GX in the load task); a dry run wrote nothing,
    so nothing is checked.

    The report lists only the lines that say something (`lines`: every outcome but equal) and counts the
    rest (`line_count`, `equal_lines`; a dry run's line whose Procore amount already is Spectrum's counts
    as equal): an unchanged 50,000-line job is a small file. `by_cost_type` has each cost type's
    Spectrum and Procore totals over every line, as exact text (the UI's chart)."""
    have = {line.key: line for line in final}
    override = plan.mode == "override"
    created = {c.key for c in plan.creates}
    rejected_keeps = {k.line.key for k in plan.keeps if k.note.startswith(REJECTED_KEEP)}
    listed: list[dict[str, Any]] = []
    checked_lines = equal_lines = 0
    compared: dict[str, list[Any]] = {"cost_code": [], "cost_type": [], "spectrum_amount": [], "procore_amount": []}  # the suite's frame
    by_type: dict[str, list[Any]] = {}  # cost type -> [Spectrum total, Procore total, lines]; None: no amount on that side

    def add(cost_type: str, spectrum: Decimal | None, procore: Decimal | None) -> None:
        sums = by_type.setdefault(cost_type, [None, None, 0])
        if spectrum is not None:
            sums[0] = spectrum if sums[0] is None else sums[0] + spectrum
        if procore is not None:
            sums[1] = procore if sums[1] is None else sums[1] + procore
        sums[2] += 1

    for d in desired:
        procore = have.get(d.key)
        checked = not dry_run and (override or d.key in created)
        add(d.cost_type, d.amount, procore.amount if procore else None)
        equal = procore is not None and procore.amount == d.amount
        if dry_run:
            outcome = totals.NOT_CHECKED
        elif procore is None:
            outcome = totals.MISSING if checked else totals.NOT_CHECKED
        elif equal:
            outcome = totals.EQUAL
        else:
            outcome = totals.DIFFERS if checked else totals.KEPT_BY_CHOICE
        checked_lines += checked
        spectrum_amount = money_text(d.amount)
        procore_amount = money_text(procore.amount) if procore else None
        if checked:
            for column, value in zip(compared, (d.cost_code, d.cost_type, spectrum_amount, procore_amount), strict=True):
                compared[column].append(value)
        if equal:  # equal (a dry run's too: Procore already has Spectrum's amount): counted, not listed
            equal_lines += 1
            continue
        listed.append({"cost_code": d.cost_code, "cost_type": d.cost_type, "spectrum_amount": spectrum_amount, "procore_amount": procore_amount,
                       "checked": checked, "outcome": outcome, "difference": totals.line_difference(spectrum_amount, procore_amount)})
    wanted = {d.key for d in desired}
    for line in final:
        if line.key in wanted:
            continue
        if dry_run:
            outcome = totals.NOT_CHECKED
        elif not override:
            outcome = totals.PROCORE_ONLY
        else:
            outcome = totals.KEPT_REJECTED if line.key in rejected_keeps else totals.NOT_DELETED
        add(line.cost_type, None, line.amount)
        checked_lines += outcome == totals.NOT_DELETED
        procore_amount = money_text(line.amount)
        listed.append({"cost_code": line.cost_code, "cost_type": line.cost_type, "spectrum_amount": None, "procore_amount": procore_amount,
                       "checked": outcome == totals.NOT_DELETED, "outcome": outcome, "difference": totals.line_difference(None, procore_amount)})
    results = [] if dry_run else line_checks.validate_reconciliation(pd.DataFrame(compared))
    differences = totals.difference_groups(listed)  # an equal line is in no group: the listed lines are every difference
    report = {
        "success": all(r.success for r in results) and not any(k in totals.FAILING for k in differences),
        "dry_run": dry_run,
        "mode": plan.mode,
        "compared": COMPARED[plan.mode],
        "checked_lines": checked_lines,
        "line_count": equal_lines + len(listed),  # every line on either side: the equal ones and those listed
        "equal_lines": equal_lines,
        "differences": differences,
        "by_cost_type": {ct: {"spectrum": totals.exact_text(s) if s is not None else None, "procore": totals.exact_text(p) if p is not None else None,
                              "lines": n} for ct, (s, p, n) in sorted(by_type.items())},
        "lines": listed,
        "expectations": [r.as_dict() for r in results],
        "imported_total": money_text(sum((d.amount for d in desired), start=Decimal(0))),
        "procore_total": money_text(sum((line.amount for line in final), start=Decimal(0))),
    }
    report["headline"] = totals.reconciliation_headline(report)
    return report


COMPARED = {
    "override": "every Spectrum line item with Procore's line of the same cost code and cost type, and every Procore line "
                "Spectrum has not (it must be gone, unless its Spectrum row was rejected)",
    "additive": "the lines this run created with Spectrum's amounts; Procore's existing lines are kept by choice, "
                "and each one that differs from Spectrum is shown with its difference",
}


# --- the whole job, for the nightly DAG ----------------------------------------------------------
def load_prepared(api: ProcoreBudgetApi, prepared: PreparedJob, folder: JobFolder, *, mode: str | None = None,
                  review_approved: bool = False) -> dict[str, Any]:
    """The load of a job `prepare.prepare_jobs` prepared, and the job's result (each DAG's mapped
    `load_job` task). The merge mode is the request's, unless a person chose one at review."""
    request = JobRequest(**prepared["request"])
    if mode:
        request = dataclasses.replace(request, merge_mode=mode)
    ready = prepared["ready"]
    try:
        loaded = load(api, ready, folder, prepared["load_input"], request.merge_mode, request.dry_run, review_approved=review_approved)
    except JobBlockedError as exc:
        log.warning("%s/%s blocked: %s", request.company_code, request.job_number, exc)
        return blocked_result(request, exc, folder, prepared["stages"])
    return finished_result(request, ready, {**prepared["stages"], "load": loaded}, folder)


def import_job(spectrum: DbConnection, api: ProcoreBudgetApi, request: JobRequest, folder: JobFolder) -> dict[str, Any]:
    """All stages for one job: the nightly's path for a batch of one. A blocked job returns its reason;
    real failures raise."""
    batch = prepare_jobs(spectrum, api, [request], folder.run)
    for _, error in batch.failed:
        raise error
    if batch.blocked:
        return batch.blocked[0]
    return load_prepared(api, batch.prepared[0], folder)
