"""When an override would destroy more than a night should decide alone: the plan is held for a person.

Procore's own import warns when a project already has budget lines. The nightly never applies an
override that deletes every line, nor one that deletes more than a share of the lines or of the budget's
value; such a job is held as `needs_review` with its plan, and nothing is written. Shares are settings:
BUDGET_IMPORT_MAX_DELETE_SHARE and BUDGET_IMPORT_MAX_DELETE_VALUE_SHARE (default 0.5 each, 0 to 1).
"""
from __future__ import annotations

from decimal import Decimal

from include.budget_import.money import money_text
from include.budget_import.plan import REJECTED_KEEP, ExistingLine, MergePlan
from include.budget_import.settings import max_delete_share


def needs_review(plan: MergePlan, existing: list[ExistingLine]) -> str | None:
    """Why this plan must wait for a person, or None when it may be applied unattended."""
    if not plan.deletes or not existing:
        return None
    lines = len(plan.deletes)
    value = sum((abs(line.amount) for line in plan.deletes), Decimal(0))
    total = sum((abs(line.amount) for line in existing), Decimal(0))
    if lines == len(existing):
        return f"the override would delete all {lines} budget lines (${money_text(value)}): Spectrum gave no line for any of them"
    max_lines, max_value = max_delete_share("BUDGET_IMPORT_MAX_DELETE_SHARE"), max_delete_share("BUDGET_IMPORT_MAX_DELETE_VALUE_SHARE")
    if Decimal(lines) > max_lines * len(existing):
        return f"the override would delete {lines} of {len(existing)} budget lines, more than {max_lines:%} of them"
    if total and value > max_value * total:
        return f"the override would delete ${money_text(value)} of ${money_text(total)} of budget, more than {max_value:%} of it"
    return None


REVIEW_MODES = ("auto", "always", "never")  # the manual DAG's `review` param
UI_PREFIX = "/spectrum-budgets"  # where the reports plugin serves files (plugins/spectrum_budget_reports)
SHOWN_LINES = 25


def asks_a_person(review: str, existing_lines: int, dry_run: bool) -> bool:
    """Procore's import asks before touching a project that already has budget lines: `auto` does the
    same, `always` asks every time, `never` runs unattended (the mass-delete hold still applies)."""
    if review not in REVIEW_MODES:
        raise ValueError(f"review must be one of {REVIEW_MODES}, not {review!r}")
    if dry_run or review == "never":
        return False
    return review == "always" or existing_lines > 0


def _table(rows: list[dict[str, object]]) -> list[str]:
    lines = ["| action | cost code | cost type | before | after |", "|---|---|---|---:|---:|"]
    for row in rows[:SHOWN_LINES]:
        lines.append(f"| {row['action']} | {row['cost_code']} | {row['cost_type']} | {row.get('amount_before') or ''} | {row.get('amount_after') or ''} |")
    if len(rows) > SHOWN_LINES:
        lines.append(f"| ... and {len(rows) - SHOWN_LINES} more (plan.json) | | | | |")
    return lines


def review_body(label: str, existing: list[ExistingLine], override: MergePlan, additive: MergePlan, snapshot_url: str | None) -> str:
    """What a person reads before choosing, in the Airflow UI (Markdown): the budget as it is, and what
    each choice would write."""
    total = sum((line.amount for line in existing), Decimal(0))
    o = override.as_dict()  # its changes (plan.json's form); the keeps are read from the plans, as plan.json lists few of them
    changes = [{"action": action, **row} for action in ("create", "update", "delete") for row in o[action]]
    parts = [
        f"**{label}** already has **{len(existing)} budget lines, ${money_text(total)}** in Procore.",
        "",
        (f"**Override** makes Procore's budget Spectrum's: {len(override.creates)} created, {len(override.updates)} updated, "
         f"{len(override.deletes)} deleted, {len(override.keeps)} kept."),
        "",
        *_table(changes),
        "",
        (f"**Keep existing and add** leaves every existing line as it is and creates {len(additive.creates)} lines "
         f"(${money_text(sum((c.amount for c in additive.creates), Decimal(0)))})."),
        "",
        "**Cancel** writes nothing.",
    ]
    if additive.keeps and any(k.note.startswith(REJECTED_KEEP) for k in override.keeps):
        parts += ["", "Lines whose Spectrum rows were rejected are kept in both choices (see rejects.csv)."]
    if snapshot_url:
        parts += ["", f"The existing lines as a PDF: [snapshot.pdf]({snapshot_url})"]
    return "\n".join(parts)


def snapshot_link(run_folder_name: str, job_key: str) -> str:
    return f"{UI_PREFIX}/runs/{run_folder_name}/jobs/{job_key}/files/snapshot.pdf"
