"""The reports a job leaves for people (rejects.csv, the validation and reshape figures, its result and
status), written atomically. The Budgets page and the run summary read them."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from include.budget_import import job_status_store, quality, storage, totals
from include.budget_import.artifacts import JobFolder
from include.budget_import.handoff import rejected_keys, write_load_input
from include.budget_import.prerequisites import JobBlockedError, JobRequest
from include.budget_import.reshape import ReshapeResult
from include.budget_import.task_values import LoadInputRef


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_rejects(folder: JobFolder, left_out: pd.DataFrame, cost_types: dict[str, str] | None = None) -> None:
    """rejects.csv: every row left out with its reason, the cost type's name beside its code (pandas'
    to_csv costs a millisecond a file before the first row: a second a night)."""
    names = cost_types or {}
    columns = list(left_out.columns)
    values = [left_out[c].tolist() for c in columns]
    if "cost_type" in columns:
        at = columns.index("cost_type") + 1
        columns.insert(at, "cost_type_name")
        values.insert(at, [names.get(code, "") if isinstance(code, str) else "" for code in values[at - 1]])
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*([_csv_value(v) for v in column] for column in values), strict=True))
    storage.write_text(folder.file("rejects.csv"), out.getvalue())  # atomic, local or on an object store


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
    storage.write_json(folder.file(name), payload, compact=True)


def validation_report(folder: JobFolder, rows: int, result: quality.RowValidation, seconds: float) -> dict[str, Any]:
    """validation.json (every expectation, its counts and failing rows), beside it GX's own result of the
    job's rows (validation.gx.json: `ExpectationSuiteValidationResult.to_json_dict()`, every failing row's
    id and each row's reason; docs/data-quality.md), and the stage's figures."""
    if result.gx_result is not None:
        write_report(folder, quality.GX_RESULT_FILE, result.gx_result)
    write_report(folder, "validation.json", {
        "suite": quality.ROW_SUITE,
        "rows": rows,
        "success": all(r.success for r in result.results),
        "expectations": [r.as_dict() for r in result.results],
    })
    counts: dict[str, int] = {}
    for reason in result.reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    passed = sum(1 for r in result.results if r.success)
    return {"rows": rows, "by_reason": counts, "expectations_passed": passed, "expectations_failed": len(result.results) - passed,
            "seconds": round(seconds, 3)}


def reshape_report(folder: JobFolder, result: ReshapeResult, cost_types: dict[str, str], seconds: float,
                   ready: Mapping[str, Any]) -> tuple[dict[str, Any], LoadInputRef]:
    """rejects.csv (every row left out, with its reason; the loaded ones are in plan.json) and what the
    load reads (handoff.LoadInput: naming the job and project it is for, and the keys of rejected rows).
    Returns the stage's figures and the hand-off's reference, which the load task is given."""
    ref = write_load_input(folder, result.line_items, result.cost_codes, cost_types, identity=ready, rejected=rejected_keys(result.left_out))
    write_rejects(folder, result.left_out, cost_types)
    counts = result.outcomes
    figures = {"line_items": counts["line_item"], "skipped": counts["skipped"], "rejected": counts["rejected"], "totals": result.totals.as_dict(),
               "seconds": round(seconds, 3)}
    return figures, ref


def job_result(request: JobRequest, status: str, **fields: Any) -> dict[str, Any]:
    return {"company_code": request.company_code, "job_number": request.job_number, "status": status, "finished_at": now_iso(), **fields}


def blocked_result(request: JobRequest, exc: JobBlockedError, folder: JobFolder, stages: dict[str, Any] | None = None) -> dict[str, Any]:
    """A blocked (or held) job's result and status, as run (mode, dry run), with Spectrum's figures when
    the job got as far as reading them (a job held for review)."""
    status = "needs_review" if exc.reason == "needs_review" else "blocked"
    fields: dict[str, Any] = {"stages": stages, "totals": stage_totals(stages, None)} if stages else {}
    result = job_result(request, status, reason=exc.reason, message=str(exc), mode=request.merge_mode, dry_run=request.dry_run,
                        run_id=folder.run.run_id, **fields)
    folder.write_json("result.json", result)
    # the run's history row always; the job's status unless superseded (the newer run's status is the truth of this job)
    job_status_store.record_result(result, None if exc.reason == "superseded" else result, root=folder.run.root)
    return result


def stage_totals(stages: dict[str, Any], procore_total: Any) -> dict[str, Any]:
    """The job's totals from its reshape stage's figures and Procore's total (None before a load)."""
    return totals.job_totals((stages.get("reshape") or {}).get("totals"), procore_total)


def finished_result(request: JobRequest, ready: Mapping[str, Any], stages: dict[str, Any], folder: JobFolder) -> dict[str, Any]:
    loaded = stages["load"]
    status = "dry_run" if request.dry_run else ("synced" if loaded["reconciled"] else "failed_reconciliation")
    result = job_result(
        request, status, reason=None, message="", mode=request.merge_mode, dry_run=request.dry_run,
        procore_project_id=ready["procore_project_id"], procore_project_name=ready.get("procore_project_name"),
        job_description=ready.get("job_description"), stages=stages, run_id=folder.run.run_id,
        prepared_at=loaded.get("prepared_at"),
        totals=stage_totals(stages, loaded.get("procore_total")),
        reconciliation=loaded.get("reconciliation"),
    )
    folder.write_json("result.json", result)
    root = folder.run.root
    latest: dict[str, Any] | None = result
    if request.dry_run:
        # A dry run fills the "Ready to Import" list: status `ready` with the plan it would apply
        # (a synced job with nothing to change stays synced).
        changes = sum(loaded["plan"][k] for k in ("create", "update", "delete"))
        synced = job_status_store.read_status(request.company_code, request.job_number, root=root).get("status") == "synced"
        latest = {**result, "status": "ready"} if changes or not synced else None
    job_status_store.record_result(result, latest, root=root)
    return result
