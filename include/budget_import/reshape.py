"""Reshape validated Spectrum rows into Procore budget line items with pandas.

Spectrum phase -> Procore cost code; Spectrum cost type -> Procore line item type ("category");
Original_Est_Cost -> original_budget_amount. Every extracted row leaves here with an outcome.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from include.budget_import.money import to_cents
from include.budget_import.rules import ROW_RULES_BY_REASON
from include.budget_import.spectrum_source import EXTRACT_COLUMNS
from include.budget_import.totals import SpectrumTotals

# What a Procore budget line item gets from Spectrum (Procore's original_budget_amount is the estimate;
# Spectrum's unit of measure, quantity and unit cost are not imported, as in Procore's own import).
LINE_ITEM_COLUMNS = ["cost_code", "cost_type", "description", "amount"]


def extracted_frame(chunks: Iterable[Sequence[tuple[Any, ...]]]) -> pd.DataFrame:
    """Frame of normalised extract rows with a stable row_id (the row's position in the extract)."""
    rows = [row for chunk in chunks for row in chunk]
    frame = pd.DataFrame.from_records(rows, columns=list(EXTRACT_COLUMNS)) if rows else pd.DataFrame(columns=list(EXTRACT_COLUMNS))
    frame.insert(0, "row_id", pd.RangeIndex(len(frame)).astype("int64"))
    return frame


OUTCOMES = ("line_item", "skipped", "rejected")
# What rejects.csv shows of each row left out: the row as extracted, its outcome and the rule's words.
LEFT_OUT_COLUMNS = [
    "row_id", "company_code", "job_number", "phase_code", "cost_type", "description", "original_estimate", "jtd_cost", "outcome", "reason", "message",
]


@dataclass
class ReshapeResult:
    line_items: pd.DataFrame  # LINE_ITEM_COLUMNS, one per cost code + cost type
    cost_codes: pd.DataFrame  # cost_code, description: codes Procore needs (line items and JTD-only rows)
    left_out: pd.DataFrame  # LEFT_OUT_COLUMNS: every extracted row that is not a line item, with its reason
    outcomes: dict[str, int]  # extracted rows per outcome (OUTCOMES): they add up to the extract
    totals: SpectrumTotals  # the original estimate of every extracted row, by outcome


def classify(extracted: pd.DataFrame, reasons: dict[int, str]) -> pd.DataFrame:
    """Attach each row's outcome: a rule's outcome where it broke one, else a budget line item."""
    frame = extracted.copy()
    # Vectorised lookups (a million rows): reason by row id, then outcome and message by reason.
    by_id = pd.Series(list(reasons.values()), index=pd.Index(list(reasons), dtype="int64"), dtype=object)
    reason = pd.Series(by_id.reindex(frame["row_id"].to_numpy(dtype="int64")).to_numpy(dtype=object), index=frame.index).astype("str")
    frame["reason"] = reason
    frame["outcome"] = reason.map({r: rule.outcome for r, rule in ROW_RULES_BY_REASON.items()}).fillna("line_item")
    frame["message"] = reason.map({r: rule.message for r, rule in ROW_RULES_BY_REASON.items()}).fillna("")
    return frame


def _line_amounts(estimates: Iterable[Decimal]) -> list[Decimal]:
    """Each estimate at exactly two decimals; one with digits beyond cents cannot get here (validation
    rejects it), and this exact check makes sure none ever reaches Procore."""
    out = []
    for amount in estimates:
        cents = to_cents(amount)
        if cents != amount:
            raise AssertionError(f"estimate {amount} has digits beyond cents but was not rejected")
        out.append(cents)
    return out


def reshape(extracted: pd.DataFrame, reasons: dict[int, str]) -> ReshapeResult:
    return reshape_many([extracted], [reasons])[0]


def reshape_many(frames: Sequence[pd.DataFrame], reasons: Sequence[dict[int, str]]) -> list[ReshapeResult]:
    """`reshape` for many jobs' extracts in one pandas pass (the nightly prepares jobs in batches: a
    pass per job costs ~10 ms of pandas overhead, 10 s a night at 1,000 jobs). Each job gets exactly
    what reshaping it alone gives. `reasons[n]` is job n's {row_id: reason}; a row_id is the row's
    position in its job's extract (`extracted_frame`)."""
    lengths = [len(f) for f in frames]
    starts = np.cumsum([0, *lengths])
    present = [f for f in frames if len(f)] or list(frames[:1])  # (an empty extract has no column types to concatenate)
    together = pd.concat(present, ignore_index=True) if len(present) > 1 else present[0].reset_index(drop=True)
    job = np.repeat(np.arange(len(frames)), lengths)
    position = np.arange(len(together), dtype="int64")
    local_ids = together["row_id"].to_numpy(dtype="int64") if len(together) else position
    if (local_ids != position - starts[job]).any():
        raise ValueError("row_id must be each row's position in its job's extract (reshape.extracted_frame)")
    batch_reasons = {int(starts[n]) + row_id: reason for n, job_reasons in enumerate(reasons) for row_id, reason in job_reasons.items()}
    classified = classify(together.assign(row_id=position), batch_reasons)
    classified["row_id"] = local_ids
    is_item = (classified["outcome"] == "line_item").to_numpy()
    loadable = classified[is_item]
    line_items = pd.DataFrame(
        {
            "_job": job[is_item],
            "cost_code": loadable["phase_code"],
            "cost_type": loadable["cost_type"],
            "description": loadable["description"].where(loadable["description"].notna(), loadable["phase_code"]),
            "amount": pd.Series(_line_amounts(loadable["original_estimate"].tolist()), index=loadable.index, dtype=object),
        },
        columns=["_job", *LINE_ITEM_COLUMNS],
    ).sort_values(["_job", "cost_code", "cost_type"], kind="stable")
    # JTD-only rows still need their cost code in Procore, so job costs have somewhere to land.
    needs_code = is_item | (classified["reason"] == "estimate_not_positive").to_numpy()
    coded = classified[needs_code]
    cost_codes = (
        pd.DataFrame(
            {
                "_job": job[needs_code],
                "cost_code": coded["phase_code"],
                "description": coded["description"].where(coded["description"].notna(), coded["phase_code"]),
            }
        )
        .drop_duplicates(["_job", "cost_code"])
        .sort_values(["_job", "cost_code"], kind="stable")
    )
    left_out = classified.loc[~is_item, LEFT_OUT_COLUMNS]
    outcome_codes = np.where(is_item, 0, np.where((classified["outcome"] == "skipped").to_numpy(), 1, 2))  # OUTCOMES order
    counts = np.bincount(job * len(OUTCOMES) + outcome_codes, minlength=len(frames) * len(OUTCOMES)).reshape(-1, len(OUTCOMES))
    jobs = np.arange(len(frames) + 1)
    item_cuts = np.searchsorted(line_items["_job"].to_numpy(), jobs)
    code_cuts = np.searchsorted(cost_codes["_job"].to_numpy(), jobs)
    left_cuts = np.searchsorted(job[~is_item], jobs)
    line_items, cost_codes = line_items.drop(columns="_job"), cost_codes.drop(columns="_job")
    estimates, outcomes = classified["original_estimate"].tolist(), classified["outcome"].tolist()
    return [
        ReshapeResult(
            line_items=line_items.iloc[item_cuts[n] : item_cuts[n + 1]].reset_index(drop=True),
            cost_codes=cost_codes.iloc[code_cuts[n] : code_cuts[n + 1]].reset_index(drop=True),
            left_out=left_out.iloc[left_cuts[n] : left_cuts[n + 1]].reset_index(drop=True),
            outcomes={outcome: int(counts[n, k]) for k, outcome in enumerate(OUTCOMES)},
            totals=SpectrumTotals.of(estimates[starts[n] : starts[n + 1]], outcomes[starts[n] : starts[n + 1]]),
        )
        for n in range(len(frames))
    ]
