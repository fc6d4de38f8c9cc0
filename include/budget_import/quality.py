"""Data quality with Great Expectations: which extracted rows may become budget line items.

Each row rule of `rules.ROW_RULES` is one (or two) GE expectations over the extracted frame; the
rows GE reports as unexpected get that rule's outcome. Job-level expectations (posted, locked)
block the whole job. Results are kept as plain dicts for the per-run report.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pandas as pd

from include.budget_import.money import has_sub_cent_digits
from include.budget_import.rules import (
    COST_TYPE_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    ESTIMATE_LIMIT,
    KEY_FORBIDDEN_CATEGORIES,
    PHASE_CODE_MAX_LENGTH,
    ROW_RULES,
)

# Two decimals at most, trailing zeros allowed (amounts arrive at the database scale, e.g. 12.5000).
CENTS_PATTERN = r"^-?\d+(?:\.\d{1,2}0*)?$"
SAMPLE_SIZE = 20


@lru_cache(maxsize=1)
def _gx() -> Any:
    """Import GE once, quietly (it logs ~200 INFO lines per import under Airflow's logging)."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


@lru_cache(maxsize=1)
def _batch_definition() -> Any:
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("budget_import").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


@dataclass
class ExpectationResult:
    rule: str
    expectation: str
    kwargs: dict[str, Any]
    success: bool
    unexpected_count: int
    element_count: int
    failing_rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "expectation": self.expectation,
            "kwargs": self.kwargs,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "failing_rows_sample": self.failing_rows[:SAMPLE_SIZE],
        }


def run_suite(
    frame: pd.DataFrame, checks: list[tuple[str, Any]], id_column: str = "row_id"
) -> tuple[list[ExpectationResult], dict[str, set[int]]]:
    """Validate `frame` with (rule, expectation) pairs; return results and failing row ids per rule."""
    gx = _gx()
    suite = gx.ExpectationSuite(name="checks", expectations=[expectation for _, expectation in checks])
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    validation = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]}
    )
    results: list[ExpectationResult] = []
    failing: dict[str, set[int]] = {}
    # GE does not return results in suite order: pair them back by type and arguments.
    by_config = {_config_key(outcome.expectation_config): outcome for outcome in validation.results}
    for rule, expectation in checks:
        outcome = by_config[_config_key(expectation.configuration)]
        detail = outcome.result or {}
        index_list = detail.get("unexpected_index_list") or []
        ids = {int(item[id_column]) for item in index_list if isinstance(item, dict) and id_column in item}
        failing.setdefault(rule, set()).update(ids)
        config = outcome.expectation_config.to_json_dict()
        kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
        results.append(
            ExpectationResult(
                rule=rule,
                expectation=config["type"],
                kwargs=_jsonable(kwargs),
                success=bool(outcome.success),
                unexpected_count=int(detail.get("unexpected_count", len(ids)) or 0),
                element_count=int(detail.get("element_count", len(frame)) or 0),
                failing_rows=[_jsonable(item) for item in index_list[:SAMPLE_SIZE]],
            )
        )
    return results, failing


def _config_key(config: Any) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return f"{config.type}:{json.dumps(kwargs, sort_keys=True, default=str)}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN from pandas for a missing value
        return None
    return value


def _amount_text(amount: Decimal) -> str:
    return f"{amount:f}"


@dataclass
class RowValidation:
    """Outcome of the row suite: the reason (or None) per row id, and the report of every check."""

    reasons: dict[int, str]
    results: list[ExpectationResult]


def row_checks(known_cost_types: list[str]) -> list[tuple[str, Any]]:
    """The row suite, in ROW_RULES order. Helper columns are added by `validation_frame`."""
    ex = _gx().expectations
    return [
        ("missing_key", ex.ExpectColumnValuesToNotBeNull(column="phase_code")),
        ("missing_key", ex.ExpectColumnValuesToNotBeNull(column="cost_type")),
        ("malformed_key", ex.ExpectColumnValuesToBeInSet(column="keys_well_formed", value_set=[True])),
        ("duplicate_key", ex.ExpectCompoundColumnsToBeUnique(column_list=["company_code", "job_number", "phase_code", "cost_type"])),
        ("unknown_cost_type", ex.ExpectColumnValuesToBeInSet(column="cost_type", value_set=sorted(known_cost_types))),
        ("amount_invalid", ex.ExpectColumnValuesToBeInSet(column="amounts_valid", value_set=[True])),
        ("amount_precision", ex.ExpectColumnValuesToMatchRegex(column="original_estimate_text", regex=CENTS_PATTERN)),
        ("amount_precision", ex.ExpectColumnValuesToMatchRegex(column="jtd_cost_text", regex=CENTS_PATTERN)),
        ("description_too_long", ex.ExpectColumnValueLengthsToBeBetween(column="description", max_value=DESCRIPTION_MAX_LENGTH)),
        ("negative_estimate", ex.ExpectColumnValuesToBeBetween(column="estimate_sign", min_value=0)),
        ("no_estimate_or_cost", ex.ExpectColumnValuesToBeInSet(column="has_estimate_or_cost", value_set=[True])),
        ("estimate_not_positive", ex.ExpectColumnValuesToBeBetween(column="estimate_sign", min_value=0, strict_min=True)),
    ]


def _key_well_formed(value: Any, max_length: int) -> bool:
    """A blank key is `missing_key`'s business; a present one fits Spectrum's width, all visible."""
    if not isinstance(value, str):
        return True
    return len(value) <= max_length and not any(unicodedata.category(ch) in KEY_FORBIDDEN_CATEGORIES for ch in value)


def _amounts_valid(estimate: Decimal, jtd: Decimal) -> bool:
    """Finite amounts (extraction turns an unreadable one into NaN), the estimate within DECIMAL(15,4)."""
    return estimate.is_finite() and jtd.is_finite() and abs(estimate) < ESTIMATE_LIMIT


def _sign(amount: Decimal) -> int:
    return 0 if amount.is_nan() else (amount > 0) - (amount < 0)


def validation_frame(extracted: pd.DataFrame) -> pd.DataFrame:
    """The extracted rows plus the exact, non-float helper columns the expectations read."""
    frame = extracted.copy()
    frame["keys_well_formed"] = [
        _key_well_formed(p, PHASE_CODE_MAX_LENGTH) and _key_well_formed(t, COST_TYPE_MAX_LENGTH)
        for p, t in zip(frame["phase_code"], frame["cost_type"])
    ]
    frame["amounts_valid"] = [_amounts_valid(e, j) for e, j in zip(frame["original_estimate"], frame["jtd_cost"])]
    frame["original_estimate_text"] = frame["original_estimate"].map(_amount_text)
    frame["jtd_cost_text"] = frame["jtd_cost"].map(_amount_text)
    frame["estimate_sign"] = frame["original_estimate"].map(_sign).astype("int64")
    frame["has_estimate_or_cost"] = [bool(e) or bool(j) for e, j in zip(frame["original_estimate"], frame["jtd_cost"])]
    return frame


def validate_rows(extracted: pd.DataFrame, known_cost_types: list[str]) -> RowValidation:
    """Run the row suite and give each failing row the reason of the first rule it breaks."""
    if extracted.empty:
        return RowValidation(reasons={}, results=[])
    results, failing = run_suite(validation_frame(extracted), row_checks(known_cost_types))
    reasons: dict[int, str] = {}
    for rule in ROW_RULES:  # precedence order
        for row_id in failing.get(rule.reason, ()):
            reasons.setdefault(row_id, rule.reason)
    _assert_precision_rule_agrees(extracted, reasons)
    return RowValidation(reasons=reasons, results=results)


def _assert_precision_rule_agrees(extracted: pd.DataFrame, reasons: dict[int, str]) -> None:
    """Guard: no sub-cent amount may reach a line item, whatever the regex matched."""
    for row_id, estimate, jtd in zip(extracted["row_id"], extracted["original_estimate"], extracted["jtd_cost"]):
        if (has_sub_cent_digits(estimate) or has_sub_cent_digits(jtd)) and int(row_id) not in reasons:
            raise AssertionError(f"row {row_id} has a sub-cent amount but passed the precision rule")


def validate_job_facts(estimates_posted: bool, budget_locked: bool) -> tuple[str | None, list[ExpectationResult]]:
    """Job-level suite (posted, locked) on a one-row frame; returns the blocking reason, if any."""
    ex = _gx().expectations
    frame = pd.DataFrame({"row_id": [0], "estimates_posted": [estimates_posted], "budget_locked": [budget_locked]})
    results, failing = run_suite(
        frame,
        [
            ("estimates_not_posted", ex.ExpectColumnValuesToBeInSet(column="estimates_posted", value_set=[True])),
            ("budget_not_locked", ex.ExpectColumnValuesToBeInSet(column="budget_locked", value_set=[True])),
        ],
    )
    for reason in ("estimates_not_posted", "budget_not_locked"):
        if failing.get(reason):
            return reason, results
    return None, results


def validate_line_items(line_items: pd.DataFrame) -> list[ExpectationResult]:
    """Suite on the reshaped line items: every line mapped to a Procore cost code and line item type,
    no duplicate combination. Failures here are bugs or Procore-side gaps, so they block the job."""
    if line_items.empty:
        return []
    ex = _gx().expectations
    frame = line_items.reset_index(drop=True).copy()
    frame["line_id"] = range(len(frame))
    results, _ = run_suite(
        frame,
        [
            ("mapped_cost_code", ex.ExpectColumnValuesToNotBeNull(column="cost_code_id")),
            ("mapped_line_item_type", ex.ExpectColumnValuesToNotBeNull(column="line_item_type_id")),
            ("unique_combination", ex.ExpectCompoundColumnsToBeUnique(column_list=["cost_code", "cost_type"])),
        ],
        id_column="line_id",
    )
    return results


def validate_reconciliation(reconciliation: pd.DataFrame) -> list[ExpectationResult]:
    """After the load: for every line that was loaded, Procore's amount equals Spectrum's (as text)."""
    if reconciliation.empty:
        return []
    ex = _gx().expectations
    frame = reconciliation.reset_index(drop=True).copy()
    frame["line_id"] = range(len(frame))
    results, _ = run_suite(
        frame,
        [("procore_equals_spectrum", ex.ExpectColumnPairValuesToBeEqual(column_A="spectrum_amount", column_B="procore_amount"))],
        id_column="line_id",
    )
    return results
