"""The import rules, each with the code reports use, its outcome and the words an accountant reads.

Row rules decide what happens to one extracted budget line; job rules block a whole job. The order
of ROW_RULES is the precedence: a row that breaks several is reported under the first.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Outcome = Literal["line_item", "skipped", "rejected"]

DESCRIPTION_MAX_LENGTH = 25  # Spectrum's JC_PHASE_MASTER_MC.Description is varchar(25)
PHASE_CODE_MAX_LENGTH = 20  # JC_PHASE_MASTER_MC.Phase_Code is varchar(20)
COST_TYPE_MAX_LENGTH = 3  # JC_PHASE_MASTER_MC.Cost_Type is varchar(3)
# Original_Est_Cost is DECIMAL(15,4): at most 99,999,999,999.9999. A larger estimate did not come from
# Spectrum's column (a damaged or hand-built source), and would be refused by Procore mid-load.
ESTIMATE_LIMIT = Decimal(10) ** 11
# Unicode categories a key must not contain: control, format (zero-width), line/paragraph separators,
# private use, surrogates, unassigned. Such a code would become a Procore cost code that looks like
# another one, or cannot be typed.
KEY_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


@dataclass(frozen=True)
class RowRule:
    reason: str
    outcome: Outcome
    message: str


ROW_RULES: tuple[RowRule, ...] = (
    RowRule("missing_key", "rejected", "Phase code or cost type is blank."),
    RowRule(
        "malformed_key",
        "rejected",
        f"The phase code or cost type is longer than Spectrum's columns ({PHASE_CODE_MAX_LENGTH} / {COST_TYPE_MAX_LENGTH} "
        "characters) or contains control or invisible characters.",
    ),
    RowRule("duplicate_key", "rejected", "This company/job/phase/cost type appears more than once in Spectrum."),
    RowRule("unknown_cost_type", "rejected", "The cost type is not defined for this company (JC_COST_TYPE_MASTER_MC)."),
    RowRule(
        "amount_invalid",
        "rejected",
        "The original estimate or job-to-date cost is not a finite number, or the estimate is beyond what "
        "Spectrum's DECIMAL(15,4) column holds (100 billion or more).",
    ),
    RowRule("amount_precision", "rejected", "The original estimate or job-to-date cost has digits beyond cents."),
    RowRule(
        "description_too_long",
        "rejected",
        f"The description is longer than {DESCRIPTION_MAX_LENGTH} characters.",
    ),
    RowRule("negative_estimate", "rejected", "The original estimate is negative."),
    RowRule(
        "no_estimate_or_cost",
        "skipped",
        "Neither an original estimate nor a job-to-date cost: Procore imports only items with one or both.",
    ),
    RowRule(
        "estimate_not_positive",
        "skipped",
        "The original estimate is not greater than $0: the cost code is synced for its job-to-date cost, "
        "but Procore creates no budget line item for it.",
    ),
)
ROW_RULES_BY_REASON = {rule.reason: rule for rule in ROW_RULES}


@dataclass(frozen=True)
class JobRule:
    reason: str
    message: str


JOB_RULES: tuple[JobRule, ...] = (
    JobRule("job_not_found", "The job does not exist in this Spectrum company."),
    JobRule("job_closed", "The job is closed in Spectrum."),
    JobRule("job_inactive", "The job is inactive in Spectrum."),
    JobRule("estimates_not_posted", "Estimate entries are not posted in Spectrum: post them, then import."),
    JobRule("budget_not_locked", "The budget is not finalized and locked in Spectrum: lock it, then import."),
    JobRule("not_linked", "The Spectrum job is not added and synced (linked) to a Procore project."),
    JobRule("budget_tool_inactive", "The Budget tool is not an active tool on the Procore project."),
    JobRule("procore_budget_locked", "The Procore budget is locked: unlock it first, then import."),
    JobRule("no_permission", "The Procore credentials lack permission to change this project's budget."),
    JobRule("failed_validation", "The extracted budget failed a job-level data-quality check."),
    JobRule("superseded", "A newer import or restore of this job finished while this run waited for the job's lock: nothing was written."),
    JobRule(
        "needs_review",
        "The override would delete more of Procore's budget than an unattended run may: held for a person to review its plan; nothing was written.",
    ),
)
JOB_RULES_BY_REASON = {rule.reason: rule for rule in JOB_RULES}
