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

import decimal
import logging
import unicodedata
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from include.budget_import.money import CENT
from include.budget_import.rules import ESTIMATE_LIMIT, KEY_FORBIDDEN_CATEGORIES, ROW_RULES

SAMPLE_SIZE = 20
# GX's COMPLETE format lists every failing row; with the row ids as the frame's (unnamed) index that list
# is the ids themselves. The index "query" GX would also build (a string of every id) is not wanted.
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False, "partial_unexpected_count": SAMPLE_SIZE}

# The saved GX file data context: include/gx (great_expectations.yml, expectations/<suite>.json,
# validation_definitions/<name>.json); docs/data-quality.md. Each suite has a validation definition of the
# same name over a whole-dataframe batch of the pandas data source `spectrum_budget_import`.
GX_PROJECT_ROOT = Path(__file__).resolve().parent.parent  # include/: the context is include/gx
ROW_SUITE = "spectrum_budget_lines"
JOB_FACTS_SUITE = "spectrum_job_facts"
LINE_ITEMS_SUITE = "procore_line_items"
RECONCILIATION_SUITE = "procore_reconciliation"
GX_RESULT_FILE = "validation.gx.json"  # GX's own result of a job's row suite, beside validation.json


@lru_cache(maxsize=1)
def _gx() -> Any:
    """Import GX once, quietly (it logs ~200 INFO lines per import under Airflow's logging)."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


@lru_cache(maxsize=1)
def gx_context() -> Any:
    """The project's GX file data context (include/gx), opened once per process."""
    return _gx().get_context(mode="file", project_root_dir=str(GX_PROJECT_ROOT))


@dataclass(frozen=True)
class SavedCheck:
    """One expectation of a saved suite, as the pipeline uses it: its id (GX's results carry it), the
    reason code a failing row gets (`meta.reason`) and the columns it reads."""

    id: str
    reason: str
    type: str
    columns: tuple[str, ...]  # what the report shows of a failing row
    reads: tuple[str, ...]  # what GX must be given (the columns, and those of its row condition)


@dataclass(frozen=True)
class SavedValidation:
    definition: Any  # gx.ValidationDefinition, loaded from include/gx/validation_definitions
    checks: tuple[SavedCheck, ...]  # in the suite's order (for the row suite: ROW_RULES order)

    @property
    def columns(self) -> list[str]:
        out: list[str] = []
        for check in self.checks:
            out += [c for c in check.reads if c not in out]
        return out


@cache
def saved_validation(name: str) -> SavedValidation:
    """The saved validation definition `name` and its suite's checks, read from include/gx once."""
    definition = gx_context().validation_definitions.get(name)
    checks = []
    for expectation in definition.suite.expectations:
        kwargs = expectation.configuration.kwargs
        columns = tuple(_columns_of(kwargs))
        extra = tuple(c for c in _condition_columns(kwargs.get("row_condition")) if c not in columns)
        checks.append(SavedCheck(id=str(expectation.id), reason=str(expectation.meta["reason"]), type=expectation.expectation_type,
                                 columns=columns, reads=columns + tuple(dict.fromkeys(extra))))
    return SavedValidation(definition=definition, checks=tuple(checks))


def _condition_columns(condition: Any) -> list[str]:
    """The columns a GX row condition (a Condition object: Column("x") == 0, and/or of them) reads."""
    if condition is None:
        return []
    column = getattr(condition, "column", None)
    if column is not None:
        return [str(column.name)]
    return [c for part in getattr(condition, "conditions", []) for c in _condition_columns(part)]


def _batch_definition() -> Any:
    """Opens the saved context and the row suite's validation definition (the benchmark's warm-up)."""
    return saved_validation(ROW_SUITE).definition.batch_definition


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
    """What GX said of one expectation: the failing rows' ids (in frame order) and its figures."""

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


def ge_outcomes(frame: pd.DataFrame, name: str, id_column: str = "row_id",
                parameters: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, list[CheckOutcome], Any]:
    """One run of the saved validation definition `name` over `frame`. GX gets only the columns the
    suite reads, indexed by `id_column` (unique ids), so its index list is the failing ids. Returns that
    frame (for samples), one CheckOutcome per expectation in the suite's order, and GX's own result
    (an ExpectationSuiteValidationResult)."""
    saved = saved_validation(name)
    lean = frame[saved.columns].set_axis(pd.Index(frame[id_column].to_numpy(), dtype="int64"), axis=0)
    validation = saved.definition.run(batch_parameters={"dataframe": lean}, expectation_parameters=dict(parameters or {}),
                                      result_format=RESULT_FORMAT)
    by_id = {str(outcome.expectation_config.id): outcome for outcome in validation.results}  # GX's order is not the suite's
    outcomes = []
    for check in saved.checks:
        outcome = by_id[check.id]
        detail = outcome.result or {}
        ids = [int(i) for i in detail.get("unexpected_index_list") or []]
        config = outcome.expectation_config
        kwargs = {k: v for k, v in config.to_json_dict().get("kwargs", {}).items() if k != "batch_id"}
        outcomes.append(
            CheckOutcome(
                rule=check.reason, expectation=check.type, kwargs=_jsonable(kwargs), success=bool(outcome.success),
                unexpected_count=int(detail.get("unexpected_count", len(ids)) or 0),
                element_count=int(detail.get("element_count", len(frame)) or 0), ids=ids, columns=list(check.columns),
            )
        )
    return lean, outcomes, validation


def _failing_rows(lean: pd.DataFrame, columns: list[str], ids: list[int], id_column: str) -> list[dict[str, Any]]:
    """The first failing rows as {column: value, ..., id_column: id}."""
    picked = ids[:SAMPLE_SIZE]
    if not picked:
        return []
    values = lean.loc[picked, columns]
    rows = zip(values.itertuples(index=False, name=None), picked, strict=True)
    return [_jsonable({**dict(zip(columns, row, strict=True)), id_column: shown}) for row, shown in rows]


def run_suite(frame: pd.DataFrame, name: str, id_column: str = "row_id") -> tuple[list[ExpectationResult], dict[str, set[int]]]:
    """Validate `frame` with the saved validation definition `name`; return results and failing row ids per reason."""
    lean, outcomes, _ = ge_outcomes(frame, name, id_column)
    results: list[ExpectationResult] = []
    failing: dict[str, set[int]] = {}
    for o in outcomes:
        failing.setdefault(o.rule, set()).update(o.ids)
        results.append(o.result(_failing_rows(lean, o.columns, o.ids, id_column)))
    return results, failing


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
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
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
    """Outcome of the row suite: the reason (or None) per row id, the report of every check, and GX's own
    result for these rows as GX serialises it (`ExpectationSuiteValidationResult.to_json_dict()`: what
    validation.gx.json holds; None for no rows)."""

    reasons: dict[int, str]
    results: list[ExpectationResult]
    gx_result: dict[str, Any] | None = None


def _keys_visible(value: Any) -> bool:
    """A blank key is `missing_key`'s business, its length the suite's; a present one is all visible."""
    if not isinstance(value, str):
        return True
    if value.isascii() and value.isprintable():  # the usual key: no character of a forbidden category
        return True
    return not any(unicodedata.category(ch) in KEY_FORBIDDEN_CATEGORIES for ch in value)


def _visible_keys(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A key column as a pandas Categorical (same values, None stays missing) and whether each row's key
    is all visible, both from one factorize: keys repeat across a job's lines, so the check runs once
    per distinct key, and GX hashes a categorical column's few categories, not every row, when it
    fingerprints the batch."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([_keys_visible(u) for u in uniques] + [True], dtype=bool)
    keys = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object)), index=values.index)
    return keys, table[codes]  # code -1 (missing) takes the last entry


# Amounts are compared under a context that signals nothing: an ordering comparison with NaN is then False
# (not an error), so a NaN or an infinity simply fails the masks it should fail, element by element in C.
_QUIET = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])


def _amount_helpers(estimates: pd.Series, jtds: pd.Series) -> dict[str, Any]:
    """The amount helper columns, as masks over the exact Decimals (no float anywhere); the digits beyond
    cents are spelled out only for the few amounts that have any."""
    est, jtd = estimates.to_numpy(dtype=object), jtds.to_numpy(dtype=object)
    infinity = Decimal("Infinity")
    with decimal.localcontext(_QUIET):
        finite = (est > -infinity) & (est < infinity) & (jtd > -infinity) & (jtd < infinity)  # False for NaN
        valid = finite & (est > -ESTIMATE_LIMIT) & (est < ESTIMATE_LIMIT)
        sign = (est > 0).astype("int64") - (est < 0).astype("int64")  # 0 for NaN
        has_any = (est != 0) | (jtd != 0)  # NaN != 0
        # x % 0.01 is exact at this precision; NaN (and an infinity's NaN remainder) is != 0, and its digits are ''
        est_off, jtd_off = est % CENT != 0, jtd % CENT != 0
    return {"amounts_valid": valid.astype(bool), "estimate_sign": sign, "has_estimate_or_cost": has_any.astype(bool),
            "original_estimate_beyond_cents": _beyond_cents_column(est, est_off), "jtd_cost_beyond_cents": _beyond_cents_column(jtd, jtd_off)}


def _beyond_cents_column(amounts: np.ndarray, off: np.ndarray) -> np.ndarray:
    out = np.full(len(amounts), "", dtype=object)
    at = np.flatnonzero(off)
    out[at] = [_beyond_cents(a) for a in amounts[at].tolist()]
    return out


def validation_frame(extracted: pd.DataFrame) -> pd.DataFrame:
    """The extracted rows (keys as categoricals) plus the helper columns of the rules the suite does not
    check on the real columns (each says why in its expectation's meta.helper_column): the keys' visible
    characters, and the amounts' checks, exact over the Decimals (no float)."""
    frame = extracted.copy()
    for column in ("company_code", "job_number"):
        frame[column] = _visible_keys(frame[column])[0]
    frame["phase_code"], phase_ok = _visible_keys(frame["phase_code"])
    frame["cost_type"], type_ok = _visible_keys(frame["cost_type"])
    frame["keys_visible"] = phase_ok & type_ok
    helpers = _amount_helpers(frame["original_estimate"], frame["jtd_cost"])
    frame["amounts_valid"] = helpers["amounts_valid"]
    frame["original_estimate_beyond_cents"] = pd.Series(helpers["original_estimate_beyond_cents"], index=frame.index, dtype=object)
    frame["jtd_cost_beyond_cents"] = pd.Series(helpers["jtd_cost_beyond_cents"], index=frame.index, dtype=object)
    frame["estimate_sign"] = helpers["estimate_sign"]
    frame["has_estimate_or_cost"] = helpers["has_estimate_or_cost"]
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
    """`validate_rows` for many jobs of one company (one set of known cost types) in one GX run.

    Each job gets exactly what validating it alone would give it: its rows' reasons by its own row ids,
    per expectation its own failing count, row count and failing rows, and its part of GX's result.
    The duplicate rule's key holds company and job, so no duplicate spans two jobs; every other rule
    looks at one row at a time."""
    out: dict[Hashable, RowValidation] = {key: RowValidation(reasons={}, results=[], gx_result=None) for key, f in frames.items() if f.empty}
    parts = [(key, f) for key, f in frames.items() if not f.empty]
    if not parts:
        return out
    together = pd.concat([f for _, f in parts], ignore_index=True) if len(parts) > 1 else parts[0][1].reset_index(drop=True)
    local_ids = together["row_id"].to_numpy(dtype="int64").copy()
    together["row_id"] = np.arange(len(together), dtype="int64")  # the batch's row id is the row's position
    starts = np.cumsum([0] + [len(f) for _, f in parts])
    checked = validation_frame(together)
    lean, outcomes, validation = ge_outcomes(checked, ROW_SUITE, parameters={"known_cost_types": sorted(known_cost_types)})
    _assert_precision_rule_agrees(checked, _reasons(outcomes))
    # each outcome's failing ids split by job (ids ascend with the frame, so each job's are one slice)
    per_job: list[list[CheckOutcome]] = [[] for _ in parts]
    samples: list[list[list[dict[str, Any]]]] = [[] for _ in parts]
    unexpected: list[list[list[Any]]] = [[] for _ in parts]  # per job and check, the sampled rows' values as GX lists them
    for o in outcomes:
        ids = np.sort(np.asarray(o.ids, dtype="int64"))
        cuts = np.searchsorted(ids, starts)
        slices = [ids[cuts[n] : cuts[n + 1]] for n in range(len(parts))]
        for n, (_, f) in enumerate(parts):
            job_ids = slices[n].tolist()
            per_job[n].append(CheckOutcome(o.rule, o.expectation, o.kwargs, not job_ids, len(job_ids), len(f), job_ids, o.columns))
        # every job's sample of failing rows in one lookup (the batch's ids are positions in `lean`)
        picked = [s[:SAMPLE_SIZE] for s in slices]
        flat = np.concatenate(picked)
        rows = list(lean[o.columns].take(flat).itertuples(index=False, name=None)) if len(flat) else []
        at = 0
        for n, ids_n in enumerate(picked):
            mine, at = rows[at : at + len(ids_n)], at + len(ids_n)
            samples[n].append([_jsonable({**dict(zip(o.columns, row, strict=True)), "row_id": int(local_ids[i])})
                               for i, row in zip(ids_n.tolist(), mine, strict=True)])
            unexpected[n].append([_jsonable(row[0] if len(o.columns) == 1 else dict(zip(o.columns, row, strict=True))) for row in mine])
    missing = _missing_counts(lean, validation, starts)
    template: dict[str, Any] | None = None  # GX's own serialisation of the first job's result: the others differ only in counts
    for n, (key, _) in enumerate(parts):
        reasons = _reasons(per_job[n])
        job_reasons = {int(local_ids[i]): reason for i, reason in reasons.items()}
        job = JobCut(per_job[n], unexpected[n], local_ids, int(starts[n + 1] - starts[n]), {k: int(v[n]) for k, v in missing.items()},
                     job_reasons, len(parts), len(lean))
        if template is None:
            template = gx_job_result(validation, job).to_json_dict()
            gx_json = template
        else:
            gx_json = gx_job_json(template, job)
        out[key] = RowValidation(reasons=job_reasons, results=[o.result(rows) for o, rows in zip(per_job[n], samples[n], strict=True)],
                                 gx_result=gx_json)
    return out


def _missing_counts(lean: pd.DataFrame, validation: Any, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Per expectation (by id) whose GX result counts missing values, that count per job: a missing
    value of its column (a row missing every column, for a multi-column one, as GX skips it)."""
    counted = {str(r.expectation_config.id) for r in validation.results if "missing_count" in (r.result or {})}
    out: dict[str, np.ndarray] = {}
    for check in saved_validation(ROW_SUITE).checks:
        if check.id in counted:
            missing = lean[list(check.columns)].isna().all(axis=1).to_numpy(dtype="int64")
            out[check.id] = np.add.reduceat(missing, starts[:-1])
    return out


@dataclass
class JobCut:
    """One job's part of a batch's GX run: its outcome per check (failing ids are batch positions), the
    sampled failing rows' values, its row ids, rows, missing values per check id, reasons, batch size."""

    outcomes: list[CheckOutcome]
    unexpected: list[list[Any]]
    local_ids: np.ndarray
    rows: int
    missing: dict[str, int]
    reasons: dict[int, str]
    batch_jobs: int
    batch_rows: int

    def detail(self, n: int, counts_missing: bool) -> dict[str, Any]:
        """Check n's `result` as GX's SUMMARY format gives it, for this job's rows alone."""
        rows, ids = self.rows, self.outcomes[n].ids
        check_id = saved_validation(ROW_SUITE).checks[n].id
        result: dict[str, Any] = {"element_count": rows, "unexpected_count": len(ids)}
        if counts_missing:
            miss = self.missing[check_id]
            nonmissing = rows - miss
            result.update({
                "missing_count": miss, "missing_percent": 100.0 * miss / rows if rows else None,
                "unexpected_percent": 100.0 * len(ids) / nonmissing if nonmissing else None,
                "unexpected_percent_total": 100.0 * len(ids) / rows if rows else None,
                "unexpected_percent_nonmissing": 100.0 * len(ids) / nonmissing if nonmissing else None,
            })
        else:
            result["unexpected_percent"] = 100.0 * len(ids) / rows if rows else None
        # GX's SUMMARY shape (its default format): a sample of the failing rows; every failing row and its
        # reason is in meta.budget_import.rows_by_reason (and rejects.csv). The complete lists cost GX's
        # serialiser ~1 s per million lines (a deep copy of every value), which the validate stage must not pay.
        result.update({"partial_unexpected_list": self.unexpected[n], "partial_unexpected_index_list": [int(self.local_ids[i]) for i in ids[:SAMPLE_SIZE]]})
        return result

    def statistics(self) -> dict[str, Any]:
        evaluated = len(self.outcomes)
        successful = sum(1 for o in self.outcomes if not o.ids)
        return {"evaluated_expectations": evaluated, "successful_expectations": successful, "unsuccessful_expectations": evaluated - successful,
                "success_percent": 100.0 * successful / evaluated if evaluated else None}

    def meta(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "row_id": "the job's own row ids (rejects.csv's row_id)", "batch_jobs": self.batch_jobs, "batch_rows": self.batch_rows,
            "note": "One GX run validated the batch's jobs together; this is its result cut to this job's rows.",
            # each reason's failing row ids, ascending, as one space-separated string: GX's serialiser deep-copies
            # every value of a result, and a string per reason costs it nothing (a dict per row: ~0.4 s a million lines)
            "rows_by_reason": _rows_by_reason(self.reasons),
        }


def gx_job_result(validation: Any, job: JobCut) -> Any:
    """GX's result of the batch, cut to one job: an ExpectationSuiteValidationResult whose expectation
    results have this job's counts and failing rows (by the job's own row ids), as GX would have given
    them for this job alone, and whose meta adds each failing row's reason (ROW_RULES precedence)."""
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult

    by_id = {str(r.expectation_config.id): r for r in validation.results}
    results = []
    for n, (check, o) in enumerate(zip(saved_validation(ROW_SUITE).checks, job.outcomes, strict=True)):
        batch_result = by_id[check.id]
        results.append(ExpectationValidationResult(success=not o.ids, expectation_config=batch_result.expectation_config,
                                                    result=job.detail(n, "missing_count" in (batch_result.result or {})),
                                                    meta={"reason": check.reason}, exception_info=batch_result.exception_info))
    statistics = job.statistics()
    return ExpectationSuiteValidationResult(
        success=statistics["successful_expectations"] == statistics["evaluated_expectations"], results=results, suite_name=validation.suite_name,
        suite_parameters=validation.suite_parameters, statistics=statistics, meta={**validation.meta, "budget_import": job.meta()},
    )


def gx_job_json(template: dict[str, Any], job: JobCut) -> dict[str, Any]:
    """`gx_job_result(validation, job).to_json_dict()` from another job's of the same batch: only the counts,
    samples, statistics and meta.budget_import differ, and GX's serialiser (a deep copy of everything, 4 ms a
    job) runs once a batch. tests/unit/test_validate_many.py checks it against GX's own for each job alone."""
    results = [{**done, "success": not o.ids, "result": job.detail(n, "missing_count" in done["result"])}
               for n, (done, o) in enumerate(zip(template["results"], job.outcomes, strict=True))]
    statistics = job.statistics()
    return {**template, "success": statistics["successful_expectations"] == statistics["evaluated_expectations"], "results": results,
            "statistics": statistics, "meta": {**template["meta"], "budget_import": job.meta()}}


def _rows_by_reason(reasons: dict[int, str]) -> dict[str, str]:
    grouped: dict[str, list[int]] = {}
    for row_id, reason in sorted(reasons.items()):
        grouped.setdefault(reason, []).append(row_id)
    return {reason: " ".join(map(str, ids)) for reason, ids in sorted(grouped.items())}


def rows_by_reason_of(gx_result: dict[str, Any]) -> dict[int, str]:
    """Each failing row id's reason, from a kept validation.gx.json (meta.budget_import.rows_by_reason)."""
    kept = ((gx_result.get("meta") or {}).get("budget_import") or {}).get("rows_by_reason") or {}
    return {int(row_id): reason for reason, ids in kept.items() for row_id in ids.split()}


def _assert_precision_rule_agrees(checked: pd.DataFrame, reasons: dict[int, str]) -> None:
    """Guard: no amount with digits beyond cents may pass the rules, whatever GX matched (reshape checks
    each line item's amount again, exactly, when it rounds it to cents)."""
    sub_cent = (checked["original_estimate_beyond_cents"] != "") | (checked["jtd_cost_beyond_cents"] != "")
    passed = ~checked["row_id"].isin(list(reasons))
    escaped = checked["row_id"][sub_cent & passed].tolist()
    if escaped:
        raise AssertionError(f"row {escaped[0]} has a sub-cent amount but passed the precision rule")


JOB_FACT_REASONS = ("estimates_not_posted", "budget_not_locked")


def job_facts_blocking(facts: list[tuple[bool, bool]]) -> list[str | None]:
    """Job-level suite (estimates posted, budget locked) over many jobs' facts in one GX run (its fixed
    cost is paid per run, not per job); each job's blocking reason, or None."""
    if not facts:
        return []
    frame = pd.DataFrame({"row_id": range(len(facts)), "estimates_posted": [f[0] for f in facts], "budget_locked": [f[1] for f in facts]})
    _, failing = run_suite(frame, JOB_FACTS_SUITE)
    return [next((r for r in JOB_FACT_REASONS if n in failing.get(r, ())), None) for n in range(len(facts))]


def _suite_by_line(frame: pd.DataFrame, name: str) -> list[ExpectationResult]:
    """A saved suite over a small frame of lines, failing rows named by their position (line_id)."""
    if frame.empty:
        return []
    lines = frame.reset_index(drop=True).copy()
    lines["line_id"] = range(len(lines))
    results, _ = run_suite(lines, name, id_column="line_id")
    return results


def validate_line_items(line_items: pd.DataFrame) -> list[ExpectationResult]:
    """Suite on the reshaped line items: every line mapped to a Procore cost code and line item type,
    no duplicate combination. Failures here are bugs or Procore-side gaps, so they block the job."""
    return _suite_by_line(line_items, LINE_ITEMS_SUITE)


def validate_reconciliation(reconciliation: pd.DataFrame) -> list[ExpectationResult]:
    """After the load: for every line that was loaded, Procore's amount equals Spectrum's (as text)."""
    return _suite_by_line(reconciliation, RECONCILIATION_SUITE)
