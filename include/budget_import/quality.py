"""Data quality with Great Expectations: which extracted rows may become budget line items.

Each row rule of `rules.ROW_RULES` is one (or two) GE expectations over the extracted frame; the
rows GE reports as unexpected get that rule's outcome. Job-level expectations (posted, locked)
block the whole job. Results are kept as plain dicts for the per-run report.

Speed (docs/performance.md): GE sees only the columns its expectations read, indexed by row id, so
the failing rows' ids come straight from GE's index list (no per-row lookups), and helper columns are
computed once per distinct value where values repeat (keys). `validate_rows_many` validates many
jobs' rows in one GE call and gives each job the same result as `validate_rows` would.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from include.budget_import.rules import (
    COST_TYPE_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    ESTIMATE_LIMIT,
    KEY_FORBIDDEN_CATEGORIES,
    PHASE_CODE_MAX_LENGTH,
    ROW_RULES,
)

SAMPLE_SIZE = 20
# GE's COMPLETE format lists every failing row; with the row ids as the frame's (unnamed) index that list
# is the ids themselves. The index "query" GE would also build (a string of every id) is not wanted.
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False, "partial_unexpected_count": SAMPLE_SIZE}


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
    from great_expectations.execution_engine import pandas_execution_engine

    # GE fingerprints every pandas batch under 1 GB (an md5 of pandas' hash of every row) to label
    # results it would keep in its stores. This ephemeral context keeps none, and the hash was a third
    # of a million-row validation (docs/performance.md): frames of any size skip it, as GE's own
    # threshold already makes larger ones do.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0

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
            "failing_rows_sample": [{k: _sample_value(v) for k, v in row.items()} for row in self.failing_rows[:SAMPLE_SIZE]],
        }


SAMPLE_TEXT_LIMIT = 500  # characters of one field in a report's sample of failing rows (rejects.csv has the row)


def _sample_value(value: Any) -> Any:
    """A sample's field as the report shows it: a very long text cut, saying how long it was."""
    if isinstance(value, str) and len(value) > SAMPLE_TEXT_LIMIT:
        return f"{value[:SAMPLE_TEXT_LIMIT]}... [cut: {len(value):,} characters]"
    return value


@dataclass
class CheckOutcome:
    """What GE said of one expectation: the failing rows' ids (in frame order) and its figures."""

    rule: str
    expectation: str
    kwargs: dict[str, Any]
    success: bool
    unexpected_count: int
    element_count: int
    ids: list[int]
    columns: list[str]  # the columns the expectation reads (shown for each failing row)

    def result(self, failing_rows: list[dict[str, Any]]) -> ExpectationResult:
        """The report's form of this outcome, with a sample of its failing rows."""
        return ExpectationResult(rule=self.rule, expectation=self.expectation, kwargs=self.kwargs, success=self.success,
                                 unexpected_count=self.unexpected_count, element_count=self.element_count, failing_rows=failing_rows)


def _columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    return [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]


def ge_outcomes(frame: pd.DataFrame, checks: list[tuple[str, Any]], id_column: str = "row_id") -> tuple[pd.DataFrame, list[CheckOutcome]]:
    """One GE validation of `frame` with (rule, expectation) pairs. GE gets only the columns the
    expectations read, indexed by `id_column` (unique ids), so its index list is the failing ids.
    Returns that frame (for samples) and one CheckOutcome per check, in `checks` order."""
    gx = _gx()
    suite = gx.ExpectationSuite(name="checks", expectations=[expectation for _, expectation in checks])
    columns: list[str] = []
    for _, expectation in checks:
        columns += [c for c in _columns_of(expectation.configuration.kwargs) if c not in columns]
    lean = frame[columns].set_axis(pd.Index(frame[id_column].to_numpy(), dtype="int64"), axis=0)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": lean})
    validation = batch.validate(suite, result_format=RESULT_FORMAT)
    # GE does not return results in suite order: pair them back by type and arguments.
    by_config = {_config_key(outcome.expectation_config): outcome for outcome in validation.results}
    outcomes = []
    for rule, expectation in checks:
        outcome = by_config[_config_key(expectation.configuration)]
        detail = outcome.result or {}
        ids = [int(i) for i in detail.get("unexpected_index_list") or []]
        config = outcome.expectation_config.to_json_dict()
        kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
        outcomes.append(
            CheckOutcome(
                rule=rule, expectation=config["type"], kwargs=_jsonable(kwargs), success=bool(outcome.success),
                unexpected_count=int(detail.get("unexpected_count", len(ids)) or 0),
                element_count=int(detail.get("element_count", len(frame)) or 0), ids=ids, columns=_columns_of(kwargs),
            )
        )
    return lean, outcomes


def _failing_rows(lean: pd.DataFrame, columns: list[str], ids: list[int], id_column: str) -> list[dict[str, Any]]:
    """The first failing rows as {column: value, ..., id_column: id}."""
    picked = ids[:SAMPLE_SIZE]
    if not picked:
        return []
    values = lean.loc[picked, columns]
    rows = zip(values.itertuples(index=False, name=None), picked, strict=True)
    return [_jsonable({**dict(zip(columns, row, strict=True)), id_column: shown}) for row, shown in rows]


def run_suite(
    frame: pd.DataFrame, checks: list[tuple[str, Any]], id_column: str = "row_id"
) -> tuple[list[ExpectationResult], dict[str, set[int]]]:
    """Validate `frame` with (rule, expectation) pairs; return results and failing row ids per rule."""
    lean, outcomes = ge_outcomes(frame, checks, id_column)
    results: list[ExpectationResult] = []
    failing: dict[str, set[int]] = {}
    for o in outcomes:
        failing.setdefault(o.rule, set()).update(o.ids)
        results.append(o.result(_failing_rows(lean, o.columns, o.ids, id_column)))
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


def _beyond_cents(amount: Decimal) -> str:
    """The amount's digits beyond the cents, trailing zeros dropped: '' for 12.5000, '75' for 1234.5675."""
    text = str(amount)
    if "E" in text:
        text = format(amount, "f")
    dot = text.find(".")
    return text[dot + 3 :].rstrip("0") if dot >= 0 else ""


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
        ("amount_precision", ex.ExpectColumnValuesToBeInSet(column="original_estimate_beyond_cents", value_set=[""])),
        ("amount_precision", ex.ExpectColumnValuesToBeInSet(column="jtd_cost_beyond_cents", value_set=[""])),
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


def _per_value(values: pd.Series, fn: Callable[[Any], Any]) -> np.ndarray:
    """fn over a column, computed once per distinct value (keys repeat across a job's lines)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([fn(u) for u in uniques] + [fn(None)], dtype=object)
    return table[codes]  # code -1 (missing) takes the last entry


def _amount_helpers(estimates: pd.Series, jtds: pd.Series) -> dict[str, list[Any]]:
    """The amount helper columns in one pass over the exact Decimals (no float anywhere)."""
    valid, est_beyond, jtd_beyond, sign, has_any = [], [], [], [], []
    limit, beyond = ESTIMATE_LIMIT, _beyond_cents
    for e, j in zip(estimates.tolist(), jtds.tolist(), strict=True):
        finite = e.is_finite() and j.is_finite()
        valid.append(finite and abs(e) < limit)
        est_beyond.append(beyond(e))
        jtd_beyond.append(beyond(j))
        sign.append(0 if e.is_nan() else (e > 0) - (e < 0))
        has_any.append(bool(e) or bool(j))
    return {"amounts_valid": valid, "original_estimate_beyond_cents": est_beyond, "jtd_cost_beyond_cents": jtd_beyond,
            "estimate_sign": sign, "has_estimate_or_cost": has_any}


def validation_frame(extracted: pd.DataFrame) -> pd.DataFrame:
    """The extracted rows plus the exact, non-float helper columns the expectations read."""
    frame = extracted.copy()
    phase_ok = _per_value(frame["phase_code"], lambda v: _key_well_formed(v, PHASE_CODE_MAX_LENGTH))
    type_ok = _per_value(frame["cost_type"], lambda v: _key_well_formed(v, COST_TYPE_MAX_LENGTH))
    frame["keys_well_formed"] = (phase_ok & type_ok).astype(bool)
    helpers = _amount_helpers(frame["original_estimate"], frame["jtd_cost"])
    frame["amounts_valid"] = np.array(helpers["amounts_valid"], dtype=bool)
    frame["original_estimate_beyond_cents"] = pd.Series(helpers["original_estimate_beyond_cents"], index=frame.index, dtype=object)
    frame["jtd_cost_beyond_cents"] = pd.Series(helpers["jtd_cost_beyond_cents"], index=frame.index, dtype=object)
    frame["estimate_sign"] = np.array(helpers["estimate_sign"], dtype="int64")
    frame["has_estimate_or_cost"] = np.array(helpers["has_estimate_or_cost"], dtype=bool)
    return frame


def _reasons(outcomes: list[CheckOutcome]) -> dict[int, str]:
    """Each failing row's reason: the first rule it breaks, in ROW_RULES (precedence) order."""
    failing: dict[str, list[int]] = {}
    for o in outcomes:
        failing.setdefault(o.rule, []).extend(o.ids)
    reasons: dict[int, str] = {}
    for rule in ROW_RULES:
        for row_id in failing.get(rule.reason, ()):
            reasons.setdefault(row_id, rule.reason)
    return reasons


def validate_rows(extracted: pd.DataFrame, known_cost_types: list[str]) -> RowValidation:
    """Run the row suite and give each failing row the reason of the first rule it breaks."""
    return validate_rows_many({0: extracted}, known_cost_types)[0]


def validate_rows_many(frames: Mapping[Hashable, pd.DataFrame], known_cost_types: list[str]) -> dict[Hashable, RowValidation]:
    """`validate_rows` for many jobs of one company (one set of known cost types) in one GE call.

    Each job gets exactly what validating it alone would give it: its rows' reasons by its own row ids,
    and per expectation its own failing count, row count and failing rows. The duplicate rule's key
    holds company and job, so no duplicate spans two jobs; every other rule looks at one row at a time."""
    out: dict[Hashable, RowValidation] = {key: RowValidation(reasons={}, results=[]) for key, f in frames.items() if f.empty}
    parts = [(key, f) for key, f in frames.items() if not f.empty]
    if not parts:
        return out
    together = pd.concat([f for _, f in parts], ignore_index=True) if len(parts) > 1 else parts[0][1].reset_index(drop=True)
    local_ids = together["row_id"].to_numpy(dtype="int64").copy()
    together["row_id"] = np.arange(len(together), dtype="int64")  # the batch's row id is the row's position
    starts = np.cumsum([0] + [len(f) for _, f in parts])
    checked = validation_frame(together)
    lean, outcomes = ge_outcomes(checked, row_checks(known_cost_types))
    _assert_precision_rule_agrees(checked, _reasons(outcomes))
    # each outcome's failing ids split by job (ids ascend with the frame, so each job's are one slice)
    per_job: list[list[CheckOutcome]] = [[] for _ in parts]
    samples: list[list[list[dict[str, Any]]]] = [[] for _ in parts]
    for o in outcomes:
        ids = np.sort(np.asarray(o.ids, dtype="int64"))
        cuts = np.searchsorted(ids, starts)
        slices = [ids[cuts[n] : cuts[n + 1]] for n in range(len(parts))]
        for n, (_, f) in enumerate(parts):
            job_ids = slices[n].tolist()
            per_job[n].append(CheckOutcome(o.rule, o.expectation, o.kwargs, not job_ids, len(job_ids), len(f), job_ids, o.columns))
        # every job's sample of failing rows in one lookup (the batch's ids are positions in `lean`)
        picked = [s[:SAMPLE_SIZE] for s in slices]
        values = lean[o.columns].take(np.concatenate(picked)).itertuples(index=False, name=None) if any(len(p) for p in picked) else iter(())
        # `values` is one iterator for every job: each job takes its own len(ids_n) rows from it (the ids are
        # zipped first, so no row is taken too many), hence strict=False
        for n, ids_n in enumerate(picked):
            samples[n].append([
                _jsonable({**dict(zip(o.columns, row, strict=True)), "row_id": int(local_ids[i])}) for i, row in zip(ids_n.tolist(), values, strict=False)
            ])
    for n, (key, _) in enumerate(parts):
        reasons = _reasons(per_job[n])
        out[key] = RowValidation(
            reasons={int(local_ids[i]): reason for i, reason in reasons.items()},
            results=[o.result(rows) for o, rows in zip(per_job[n], samples[n], strict=True)],
        )
    return out


def _assert_precision_rule_agrees(checked: pd.DataFrame, reasons: dict[int, str]) -> None:
    """Guard: no amount with digits beyond cents may pass the rules, whatever GE matched (reshape checks
    each line item's amount again, exactly, when it rounds it to cents)."""
    sub_cent = (checked["original_estimate_beyond_cents"] != "") | (checked["jtd_cost_beyond_cents"] != "")
    passed = ~checked["row_id"].isin(list(reasons))
    escaped = checked["row_id"][sub_cent & passed].tolist()
    if escaped:
        raise AssertionError(f"row {escaped[0]} has a sub-cent amount but passed the precision rule")


def job_facts_blocking(facts: list[tuple[bool, bool]]) -> list[str | None]:
    """Job-level suite (estimates posted, budget locked) over many jobs' facts in one GE call (its fixed
    cost is paid per call, not per job); each job's blocking reason, or None."""
    if not facts:
        return []
    ex = _gx().expectations
    frame = pd.DataFrame({"row_id": range(len(facts)), "estimates_posted": [f[0] for f in facts], "budget_locked": [f[1] for f in facts]})
    _, failing = run_suite(
        frame,
        [
            ("estimates_not_posted", ex.ExpectColumnValuesToBeInSet(column="estimates_posted", value_set=[True])),
            ("budget_not_locked", ex.ExpectColumnValuesToBeInSet(column="budget_locked", value_set=[True])),
        ],
    )
    return [next((r for r in ("estimates_not_posted", "budget_not_locked") if n in failing.get(r, ())), None) for n in range(len(facts))]


def _suite_by_line(frame: pd.DataFrame, expectations: list[tuple[str, Any]]) -> list[ExpectationResult]:
    """A suite over a small frame of lines, failing rows named by their position (line_id)."""
    if frame.empty:
        return []
    lines = frame.reset_index(drop=True).copy()
    lines["line_id"] = range(len(lines))
    results, _ = run_suite(lines, expectations, id_column="line_id")
    return results


def validate_line_items(line_items: pd.DataFrame) -> list[ExpectationResult]:
    """Suite on the reshaped line items: every line mapped to a Procore cost code and line item type,
    no duplicate combination. Failures here are bugs or Procore-side gaps, so they block the job."""
    if line_items.empty:
        return []
    ex = _gx().expectations
    return _suite_by_line(line_items, [
        ("mapped_cost_code", ex.ExpectColumnValuesToNotBeNull(column="cost_code_id")),
        ("mapped_line_item_type", ex.ExpectColumnValuesToNotBeNull(column="line_item_type_id")),
        ("unique_combination", ex.ExpectCompoundColumnsToBeUnique(column_list=["cost_code", "cost_type"])),
    ])


def validate_reconciliation(reconciliation: pd.DataFrame) -> list[ExpectationResult]:
    """After the load: for every line that was loaded, Procore's amount equals Spectrum's (as text)."""
    if reconciliation.empty:
        return []
    ex = _gx().expectations
    return _suite_by_line(reconciliation, [
        ("procore_equals_spectrum", ex.ExpectColumnPairValuesToBeEqual(column_A="spectrum_amount", column_B="procore_amount")),
    ])
