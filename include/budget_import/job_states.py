"""What a job's latest result means to a person: one state per job, its label, and the labels of the
reasons a job or row was left out. Shared by the run's summary (the log a demo prints) and the UI plugin,
so both say the same thing. Stdlib only: the plugin is imported by every Airflow process."""
from __future__ import annotations

from typing import Any

from include.budget_import.rules import JOB_RULES_BY_REASON, ROW_RULES_BY_REASON

STATE_LABELS: dict[str, str] = {
    "ready": "Ready to Import",
    "synced": "Synced",
    "synced_exceptions": "Synced with exceptions",
    "dry_run": "Dry run",
    "blocked": "Blocked",
    "needs_review": "Needs review",
    "cancelled": "Cancelled",
    "failed_validation": "Failed validation",
    "failed_reconciliation": "Failed reconciliation",
    "failed": "Import failed",
    "restored": "Restored",
    "incomplete": "No result",
}

# Reasons a job or a row is left out, in the words the UI shows (the rules' own reasons come from rules.py).
_EXTRA_REASONS: dict[str, str] = {
    "job_not_found": "Job not found",
    "job_closed": "Job closed",
    "job_inactive": "Job inactive",
    "estimates_not_posted": "Estimates not posted",
    "budget_not_locked": "Budget not locked",
    "not_linked": "Not linked to a Procore project",
    "budget_tool_inactive": "Budget tool inactive",
    "procore_budget_locked": "Procore budget locked",
    "no_permission": "No permission",
    "failed_validation": "Failed validation",
    "needs_review": "Held for review",
    "superseded": "Superseded by a newer run",
    "cancelled_at_review": "Cancelled at review",
    "import_failed": "Import failed",
    "missing_key": "Missing phase or cost type",
    "malformed_key": "Malformed phase or cost type",
    "duplicate_key": "Duplicate phase / cost type",
    "unknown_cost_type": "Unknown cost type",
    "amount_invalid": "Amount is not a number",
    "amount_precision": "Amount beyond cents",
    "description_too_long": "Description too long",
    "negative_estimate": "Negative estimate",
    "no_estimate_or_cost": "No estimate or cost",
    "estimate_not_positive": "Estimate not above $0",
}


def _default_label(reason: str) -> str:
    return reason.replace("_", " ").capitalize()


REASON_LABELS: dict[str, str] = {
    **{r: _default_label(r) for r in (*JOB_RULES_BY_REASON, *ROW_RULES_BY_REASON)},
    **_EXTRA_REASONS,
}


def reason_label(reason: Any) -> str:
    if not reason:
        return ""
    return REASON_LABELS.get(str(reason), _default_label(str(reason)))


def rejected_rows(result: dict[str, Any]) -> int:
    reshape = (result.get("stages") or {}).get("reshape") or {}
    try:
        return int(reshape.get("rejected") or 0)
    except (TypeError, ValueError):
        return 0


def state_of(result: dict[str, Any]) -> str:
    """The state of a job's result or status file: a synced job with quarantined Spectrum rows is
    'synced_exceptions' (Procore has the rest), never plain synced."""
    status = result.get("status")
    if status == "synced":
        return "synced_exceptions" if rejected_rows(result) else "synced"
    if status in ("ready", "dry_run", "failed_reconciliation", "failed", "restored", "needs_review", "cancelled"):
        return str(status)
    if status == "blocked":
        return "failed_validation" if result.get("reason") == "failed_validation" else "blocked"
    return "incomplete"


def state_label(result: dict[str, Any]) -> str:
    state = state_of(result)
    return STATE_LABELS.get(state, state)
