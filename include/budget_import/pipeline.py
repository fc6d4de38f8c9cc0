"""The import of one Spectrum job into its Procore project, stage by stage.

The manual DAG runs each stage as its own task: each reads what the previous one left in the job's run
folder and returns a small JSON-able dict (what Airflow keeps in XCom). The nightly DAG prepares jobs in
batches (`prepare.prepare_jobs`: prerequisites and extraction job by job, then validation and reshaping
of the batch at once) and loads each job in its own mapped task (`load_prepared`); `import_job` is that
same path for one job.

Tasks hand data on through the job's run folder, exactly (`handoff`); docs/performance.md has the figures.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pandas as pd

from include.budget_import import quality
from include.budget_import.artifacts import JobFolder, RunFolder
from include.budget_import.handoff import LoadInput, read_exact_frame, read_load_input, rejected_keys, write_exact_frame, write_load_input
from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.money import money_text
from include.budget_import import totals
from include.budget_import.plan import MERGE_MODES, REJECTED_KEEP, ExistingLine, MergePlan, plan_merge
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import ProcorePermissionError
from include.budget_import.project_lock import project_lock
from include.budget_import.reshape import ReshapeResult, extracted_frame, reshape
from include.budget_import.review import needs_review
from include.budget_import.snapshot import SNAPSHOT_JSON, snapshot_label, snapshot_payload, write_snapshot
from include.budget_import.rules import JOB_RULES_BY_REASON
from include.budget_import.spectrum_source import DbConnection, JobReadinessFacts, SpectrumJob, cost_types, find_job, iter_budget_lines, readiness_facts, spectrum_errors

log = logging.getLogger(__name__)


class JobBlockedError(RuntimeError):
    """A prerequisite is not met; the job is skipped with this reason (and never fails the others)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        message = JOB_RULES_BY_REASON[reason].message
        super().__init__(f"{message}{' ' + detail if detail else ''}")


@dataclass(frozen=True)
class JobRequest:
    company_code: str
    job_number: str
    procore_company_id: int
    merge_mode: str = "override"
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}, not {self.merge_mode!r}")
        for name in ("company_code", "job_number"):
            value = getattr(self, name)
            # A NUL ends the string inside the ODBC driver ('19.50\x00x' would find job 19.50): refuse
            # any control character rather than import a job the request did not name.
            if not isinstance(value, str) or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise ValueError(f"{name} must be text without control characters, not {value!r}")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def origin_id(company_code: str, job_number: str) -> str:
    """How a Procore project names its Spectrum job (project.origin_id). One place to adapt it."""
    return f"{company_code}|{job_number}"


# --- stage 1: prerequisites ----------------------------------------------------------------------
def check_prerequisites(spectrum: DbConnection, api: ProcoreBudgetApi, request: JobRequest) -> dict[str, Any]:
    """Every prerequisite in Procore's article, Spectrum side then Procore side. Raises JobBlockedError."""
    job, facts = spectrum_prerequisites(spectrum, request)
    block_on_facts(facts, quality.job_facts_blocking([(facts.estimates_posted, facts.budget_locked)])[0])
    return procore_prerequisites(api, request, job)


def spectrum_prerequisites(spectrum: DbConnection, request: JobRequest) -> tuple[SpectrumJob, JobReadinessFacts]:
    """The job exists and is active in Spectrum; its estimate and budget facts (judged by `block_on_facts`)."""
    with spectrum_errors(request.company_code, request.job_number, "check_prerequisites"):
        job = find_job(spectrum, request.company_code, request.job_number)
    if job is None:
        from include.budget_import.spectrum_source import near_jobs

        with spectrum_errors(request.company_code, request.job_number, "check_prerequisites"):
            near = near_jobs(spectrum, request.company_code, request.job_number)
        detail = f"(company {request.company_code!r}, job {request.job_number!r})"
        if near:  # a mistyped company ('O1' for '01') or number ('19.5' for '19.50'): name what exists
            detail += ". Near matches: " + "; ".join(f"job {j.job_number} exists in company {j.company_code}" for j in near) + "."
        raise JobBlockedError("job_not_found", detail)
    if job.status_code == "C":
        raise JobBlockedError("job_closed")
    if job.status_code != "A":  # I, or a blank / unknown status: only active jobs import (as the nightly)
        raise JobBlockedError("job_inactive", "" if job.status_code == "I" else f"(Status_Code {job.status_code!r}, not 'A')")
    with spectrum_errors(job.company_code, job.job_number, "check_prerequisites"):
        return job, readiness_facts(spectrum, job)


def block_on_facts(facts: JobReadinessFacts, blocked: str | None) -> None:
    """Raise the job-facts suite's verdict (`quality.job_facts_blocking`) with the facts that explain it."""
    if blocked == "estimates_not_posted":
        raise JobBlockedError(blocked, f"({facts.unposted_estimate_entries} unposted estimate entries)")
    if blocked:
        raise JobBlockedError(blocked)


def procore_prerequisites(api: ProcoreBudgetApi, request: JobRequest, job: SpectrumJob) -> dict[str, Any]:
    """The job is linked to a Procore project whose Budget tool is active and unlocked, and these
    credentials may change it. Returns what the later stages need of the job and its project."""
    company_id = request.procore_company_id
    projects = api.projects(company_id, origin_id=origin_id(job.company_code, job.job_number))
    if not projects:
        raise JobBlockedError("not_linked", f"(no Procore project has origin_id {origin_id(job.company_code, job.job_number)!r})")
    project_id = int(projects[0]["id"])
    try:
        if not api.budget_tool_active(company_id, project_id):
            raise JobBlockedError("budget_tool_inactive", f"(project {project_id})")
        if api.budget_locked(company_id, project_id):
            raise JobBlockedError("procore_budget_locked", f"(project {project_id})")
    except ProcorePermissionError as exc:
        raise JobBlockedError("no_permission", f"({exc.detail})") from None
    return {
        "company_code": job.company_code,
        "job_number": job.job_number,
        "stored_job_number": job.stored_job_number,
        "job_description": job.description,
        "master_job": job.master_job,
        "procore_company_id": company_id,
        "procore_project_id": project_id,
        "procore_project_name": projects[0].get("name"),
        "procore_project_number": projects[0].get("project_number"),
    }


# --- reports -------------------------------------------------------------------------------------
def write_rejects(folder: JobFolder, left_out: pd.DataFrame, cost_types: dict[str, str] | None = None) -> None:
    """rejects.csv: every row left out with its reason, the cost type's name beside its code (pandas'
    to_csv costs a millisecond a file before the first row: a second a night)."""
    path = folder.file("rejects.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    names = cost_types or {}
    columns = list(left_out.columns)
    values = [left_out[c].tolist() for c in columns]
    if "cost_type" in columns:
        at = columns.index("cost_type") + 1
        columns.insert(at, "cost_type_name")
        values.insert(at, [names.get(code, "") if isinstance(code, str) else "" for code in values[at - 1]])
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*([_csv_value(v) for v in column] for column in values)))


# A spreadsheet cell holds 32,767 characters: a longer field is cut (saying how long it was) so every row
# still opens in its own row; Spectrum keeps the whole text.
CSV_FIELD_LIMIT = 32_000


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    """A missing value as an empty field (as pandas writes it); text a spreadsheet would run as a formula
    (`=HYPERLINK(...)`, `+cmd`, `@SUM`) behind a quote, so it opens as the text Spectrum holds; everything
    else as its text. A negative amount stays a number."""
    if value is None or value is pd.NA or (type(value) is float and value != value):
        return ""
    if isinstance(value, str):
        if len(value) > CSV_FIELD_LIMIT:
            value = f"{value[:CSV_FIELD_LIMIT]}... [cut: {len(value):,} characters in Spectrum]"
        if value.startswith(_FORMULA_START) and not _is_number(value):
            return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def write_report(folder: JobFolder, name: str, payload: dict[str, Any]) -> None:
    """A report with a line per budget line (plan, reconciliation), written atomically like every report,
    but compact: json indents through its pure-Python encoder (40 ms for a 1,000-line plan, seconds for
    a million lines); compact JSON goes through its C encoder."""
    path = folder.file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)


# --- stage 2: extract ----------------------------------------------------------------------------
def extract_lines(spectrum: DbConnection, job: SpectrumJob) -> pd.DataFrame:
    """The job's budget lines as a frame, exact Decimals, in memory."""
    with spectrum_errors(job.company_code, job.job_number, "extract"):
        return extracted_frame(iter_budget_lines(spectrum, job))


def company_cost_types(spectrum: DbConnection, job: SpectrumJob) -> dict[str, str]:
    with spectrum_errors(job.company_code, job.job_number, "extract"):
        return cost_types(spectrum, job.company_code)


def extract(spectrum: DbConnection, ready: dict[str, Any], folder: JobFolder) -> dict[str, Any]:
    """The manual DAG's extract task: the rows, handed to the validate task through the job's folder."""
    started = time.perf_counter()
    with spectrum_errors(ready["company_code"], ready["job_number"], "extract"):
        job = find_job(spectrum, ready["company_code"], ready["job_number"])  # (still there since the prerequisites task?)
    if job is None:
        raise JobBlockedError("job_not_found")
    frame = extract_lines(spectrum, job)
    write_exact_frame(folder, "extracted", frame)
    folder.write_json("cost_types.json", company_cost_types(spectrum, job))
    return {"extracted": len(frame), "seconds": round(time.perf_counter() - started, 3)}


# --- stage 3: validate ---------------------------------------------------------------------------
def validate(folder: JobFolder) -> dict[str, Any]:
    """The manual DAG's validate task: each row's reason (if any) handed to the reshape task."""
    started = time.perf_counter()
    frame = read_exact_frame(folder, "extracted", decimals=("original_estimate", "jtd_cost"))
    known = list(folder.read_json("cost_types.json"))
    result = quality.validate_rows(frame, known)
    folder.write_json("row_reasons.json", {str(k): v for k, v in result.reasons.items()})
    return validation_report(folder, len(frame), result, time.perf_counter() - started)


def validation_report(folder: JobFolder, rows: int, result: quality.RowValidation, seconds: float) -> dict[str, Any]:
    """validation.json (every expectation, its counts and failing rows) and the stage's figures."""
    write_report(folder, "validation.json", {
        "suite": "spectrum_budget_lines",
        "rows": rows,
        "success": all(r.success for r in result.results),
        "expectations": [r.as_dict() for r in result.results],
    })
    counts: dict[str, int] = {}
    for reason in result.reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    return {"rows": rows, "by_reason": counts, "seconds": round(seconds, 3)}


# --- stage 4: reshape ----------------------------------------------------------------------------
def reshape_stage(folder: JobFolder, ready: dict[str, Any]) -> dict[str, Any]:
    """The manual DAG's reshape task."""
    started = time.perf_counter()
    # reshape computes with the estimate only; the other amounts go on as exact text (rejects.csv prints
    # the same digits, and the load reads line_items' amounts back as Decimals)
    frame = read_exact_frame(folder, "extracted", decimals=("original_estimate",))
    reasons = {int(k): v for k, v in folder.read_json("row_reasons.json").items()}
    return reshape_report(folder, reshape(frame, reasons), folder.read_json("cost_types.json"), time.perf_counter() - started, ready)


def reshape_report(folder: JobFolder, result: ReshapeResult, cost_types: dict[str, str], seconds: float, ready: dict[str, Any]) -> dict[str, Any]:
    """What the load reads (one file, naming the job and project it is for, and the keys of rejected rows)
    and rejects.csv: every row left out, with its reason (every row's outcome is the extract plus its
    reason; the loaded ones are in plan.json)."""
    write_load_input(folder, result.line_items, result.cost_codes, cost_types, identity=ready, rejected=rejected_keys(result.left_out))
    write_rejects(folder, result.left_out, cost_types)
    counts = result.outcomes
    return {"line_items": counts["line_item"], "skipped": counts["skipped"], "rejected": counts["rejected"], "totals": result.totals.as_dict(),
            "seconds": round(seconds, 3)}


# --- stage 5: plan and load ----------------------------------------------------------------------
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
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, name: str) -> Any:
        return self._all().get(name)

    def put(self, name: str, value: Any) -> None:
        data = {**self._all(), name: value}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp_", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(tmp, self.path)  # atomic: a reader sees the old file or the new one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def project_target(ready: dict[str, Any]) -> ProjectTarget:
    return ProjectTarget(ready["company_code"], ready["job_number"], int(ready["procore_company_id"]), int(ready["procore_project_id"]))


def load(api: ProcoreBudgetApi, ready: dict[str, Any], folder: JobFolder, mode: str, dry_run: bool, *, review_approved: bool = False) -> dict[str, Any]:
    """Plan and write under the job's lock, so two runs never write one project's budget at once."""
    with project_lock(ready["company_code"], ready["job_number"], owner=f"run {folder.run.run_id}", root=folder.run.root) as hold:
        load_input = read_load_input(folder)
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
    return str(json.loads(path.read_text(encoding="utf-8")).get("stage") or "load")


def interrupted_run(folder: JobFolder) -> str | None:
    """The earlier run of this job whose import failed part-way, when it left a snapshot: that snapshot is
    the budget before anything was written, where this run's own may be of a half-written budget."""
    status = folder.read_status()
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
    status = folder.read_status()
    theirs = status.get("prepared_at")
    if not prepared or not theirs or status.get("run_id") == folder.run.run_id or status.get("status") not in ("synced", "restored"):
        return None
    if str(theirs) > str(prepared):
        return f"run {status.get('run_id')} {status.get('status')} this job from data of {theirs}, newer than this run's ({prepared})"
    return None


def _load(api: ProcoreBudgetApi, ready: dict[str, Any], folder: JobFolder, load_input: LoadInput, mode: str, dry_run: bool,
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
                                           "names": {"cost_codes": load_input.cost_codes, "cost_types": load_input.cost_types}})
        held = needs_review(plan, existing) if mode == "override" and not review_approved else None
        if held:
            raise JobBlockedError("needs_review", f"({held}; plan.json lists every line)")
        if not dry_run:
            created_types = loader.ensure_line_item_types(load_input.line_item_types())
            created_codes = loader.ensure_cost_codes(load_input.cost_codes)
        mapping = pd.DataFrame(loader.resolved_ids(desired, dry_run), columns=["cost_code", "cost_type", "cost_code_id", "line_item_type_id"])
        mapping_results = quality.validate_line_items(mapping)
        folder.write_json("line_item_validation.json", [r.as_dict() for r in mapping_results])
        if not all(r.success for r in mapping_results):
            raise JobBlockedError("failed_validation", "(a line item is not mapped to a Procore cost code and line item type)")
        if mode == "override" and (plan.updates or plan.deletes) and _snapshot_stage(folder) in (None, "review"):
            # the first attempt's snapshot is the budget before this run wrote anything: a retry after a
            # crash mid-load keeps it rather than snapshot the half-written state (the review's is
            # replaced: the budget may have changed while the run waited for a person)
            write_snapshot(folder.path, snapshot_payload(snapshot_label(ready, folder.run.run_id), existing, now_iso(), plan=plan,
                                                         names={"cost_codes": load_input.cost_codes, "cost_types": load_input.cost_types}))
        if dry_run:
            if plan.write_count:  # "ready to import" only when these credentials could write it
                loader.require_write_permission()
            final = existing
            rounds = ambiguous = 0
        else:
            outcome = loader.apply(desired, mode, existing=existing, rejected=load_input.rejected)
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
    """After the load, every line on either side, with what it was compared for and its outcome
    (`totals` names them): override answers for every Spectrum line item and every Procore line
    (a line Spectrum lacks must be gone, unless its Spectrum row was rejected); additive answers for
    the lines it created, and shows each kept line that differs from Spectrum as kept by choice. The
    compared lines are checked with GE; a dry run wrote nothing, so nothing is checked."""
    have = {line.key: line for line in final}
    override = plan.mode == "override"
    created = {c.key for c in plan.creates}
    rejected_keeps = {k.line.key for k in plan.keeps if k.note.startswith(REJECTED_KEEP)}
    rows = []
    for d in desired:
        procore = have.get(d.key)
        checked = not dry_run and (override or d.key in created)
        spectrum_amount, procore_amount = money_text(d.amount), (money_text(procore.amount) if procore else None)
        if dry_run:
            outcome = totals.NOT_CHECKED
        elif procore is None:
            outcome = totals.MISSING if checked else totals.NOT_CHECKED
        elif procore.amount == d.amount:
            outcome = totals.EQUAL
        else:
            outcome = totals.DIFFERS if checked else totals.KEPT_BY_CHOICE
        rows.append({"cost_code": d.cost_code, "cost_type": d.cost_type, "spectrum_amount": spectrum_amount, "procore_amount": procore_amount,
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
        procore_amount = money_text(line.amount)
        rows.append({"cost_code": line.cost_code, "cost_type": line.cost_type, "spectrum_amount": None, "procore_amount": procore_amount,
                     "checked": outcome == totals.NOT_DELETED, "outcome": outcome, "difference": totals.line_difference(None, procore_amount)})
    frame = pd.DataFrame([r for r in rows if r["checked"] and r["spectrum_amount"] is not None],
                         columns=["cost_code", "cost_type", "spectrum_amount", "procore_amount", "checked"])
    results = [] if dry_run else quality.validate_reconciliation(frame)
    differences = totals.difference_groups(rows)
    report = {
        "success": all(r.success for r in results) and not any(k in totals.FAILING for k in differences),
        "dry_run": dry_run,
        "mode": plan.mode,
        "compared": COMPARED[plan.mode],
        "checked_lines": sum(1 for r in rows if r["checked"]),
        "differences": differences,
        "lines": rows,
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
def job_result(request: JobRequest, status: str, **fields: Any) -> dict[str, Any]:
    return {"company_code": request.company_code, "job_number": request.job_number, "status": status, "finished_at": now_iso(), **fields}


def blocked_result(request: JobRequest, exc: JobBlockedError, folder: JobFolder, stages: dict[str, Any] | None = None) -> dict[str, Any]:
    """A blocked (or held) job's result and status, as run (mode, dry run), with Spectrum's figures when
    the job got as far as reading them (a job held for review)."""
    status = "needs_review" if exc.reason == "needs_review" else "blocked"
    fields: dict[str, Any] = {"stages": stages, "totals": spectrum_side(stages)} if stages else {}
    result = job_result(request, status, reason=exc.reason, message=str(exc), mode=request.merge_mode, dry_run=request.dry_run,
                        run_id=folder.run.run_id, **fields)
    folder.write_json("result.json", result)
    if exc.reason != "superseded":  # the newer run's status is the truth of this job
        folder.write_status(result)
    return result


def spectrum_side(stages: dict[str, Any]) -> dict[str, Any]:
    """The job's totals before anything is written: Spectrum's side only."""
    return totals.job_totals((stages.get("reshape") or {}).get("totals"), None)


def finished_result(request: JobRequest, ready: dict[str, Any], stages: dict[str, Any], folder: JobFolder) -> dict[str, Any]:
    loaded = stages["load"]
    status = "dry_run" if request.dry_run else ("synced" if loaded["reconciled"] else "failed_reconciliation")
    result = job_result(
        request, status, reason=None, message="", mode=request.merge_mode, dry_run=request.dry_run,
        procore_project_id=ready["procore_project_id"], procore_project_name=ready.get("procore_project_name"),
        job_description=ready.get("job_description"), stages=stages, run_id=folder.run.run_id,
        prepared_at=loaded.get("prepared_at"),
        totals=totals.job_totals((stages.get("reshape") or {}).get("totals"), loaded.get("procore_total")),
        reconciliation=loaded.get("reconciliation"),
    )
    folder.write_json("result.json", result)
    if not request.dry_run:
        folder.write_status(result)
    elif sum(loaded["plan"][k] for k in ("create", "update", "delete")) or folder.read_status().get("status") != "synced":
        # A dry run fills the "Ready to Import" list: status `ready` with the plan it would apply
        # (a synced job with nothing to change stays synced).
        folder.write_status({**result, "status": "ready"})
    return result


def load_prepared(api: ProcoreBudgetApi, prepared: dict[str, Any], folder: JobFolder, mode: str) -> dict[str, Any]:
    """The load of a job `prepare.prepare_jobs` prepared into `folder`, and the job's result (the
    nightly's mapped task)."""
    request = JobRequest(**{**prepared["request"], "merge_mode": mode})
    ready = prepared["ready"]
    try:
        loaded = load(api, ready, folder, request.merge_mode, request.dry_run)
    except JobBlockedError as exc:
        log.warning("%s/%s blocked: %s", request.company_code, request.job_number, exc)
        return blocked_result(request, exc, folder, prepared["stages"])
    return finished_result(request, ready, {**prepared["stages"], "load": loaded}, folder)


def import_job(spectrum: DbConnection, api: ProcoreBudgetApi, request: JobRequest, folder: JobFolder) -> dict[str, Any]:
    """All stages for one job: the nightly's path for a batch of one. A blocked job returns its reason;
    real failures raise."""
    from include.budget_import.prepare import prepare_jobs

    batch = prepare_jobs(spectrum, api, [request], folder.run)
    for _, error in batch.failed:
        raise error
    if batch.blocked:
        return batch.blocked[0]
    return load_prepared(api, batch.prepared[0], folder, request.merge_mode)
