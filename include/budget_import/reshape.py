"""Reshape validated Spectrum rows into Procore budget line items with pandas.

Spectrum phase -> Procore cost code; Spectrum cost type -> Procore line item type ("category");
Original_Est_Cost -> original_budget_amount. Every extracted row leaves here with an outcome.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from include.budget_import.money import to_cents
from include.budget_import.rules import ROW_RULES_BY_REASON
from include.budget_import.spectrum_source import EXTRACT_COLUMNS

LINE_ITEM_COLUMNS = ["cost_code", "cost_type", "description", "amount", "uom", "quantity", "unit_cost"]


def extracted_frame(chunks: Iterable[Sequence[tuple[Any, ...]]]) -> pd.DataFrame:
    """Frame of normalised extract rows with a stable row_id (the row's position in the extract)."""
    rows = [row for chunk in chunks for row in chunk]
    frame = pd.DataFrame.from_records(rows, columns=list(EXTRACT_COLUMNS)) if rows else pd.DataFrame(columns=list(EXTRACT_COLUMNS))
    frame.insert(0, "row_id", pd.RangeIndex(len(frame)).astype("int64"))
    return frame


@dataclass
class ReshapeResult:
    classified: pd.DataFrame  # every extracted row with outcome / reason / message
    line_items: pd.DataFrame  # LINE_ITEM_COLUMNS, one per cost code + cost type
    cost_codes: pd.DataFrame  # cost_code, description: codes Procore needs (line items and JTD-only rows)


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
    classified = classify(extracted, reasons)
    loadable = classified[classified["outcome"] == "line_item"]
    line_items = pd.DataFrame(
        {
            "cost_code": loadable["phase_code"],
            "cost_type": loadable["cost_type"],
            "description": loadable["description"].where(loadable["description"].notna(), loadable["phase_code"]),
            "amount": pd.Series(_line_amounts(loadable["original_estimate"].tolist()), index=loadable.index, dtype=object),
            "uom": loadable["unit_of_measure"],
            "quantity": loadable["est_quantity"],
            "unit_cost": loadable["est_unit_cost"],
        },
        columns=LINE_ITEM_COLUMNS,
    ).sort_values(["cost_code", "cost_type"], kind="stable").reset_index(drop=True)
    # JTD-only rows still need their cost code in Procore, so job costs have somewhere to land.
    needs_code = classified[(classified["outcome"] == "line_item") | (classified["reason"] == "estimate_not_positive")]
    cost_codes = (
        pd.DataFrame(
            {
                "cost_code": needs_code["phase_code"],
                "description": needs_code["description"].where(needs_code["description"].notna(), needs_code["phase_code"]),
            }
        )
        .drop_duplicates("cost_code")
        .sort_values("cost_code", kind="stable")
        .reset_index(drop=True)
    )
    return ReshapeResult(classified=classified, line_items=line_items, cost_codes=cost_codes)
