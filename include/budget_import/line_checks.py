"""The load task's two small saved suites (procore_line_items, procore_reconciliation) run in pandas.

Why: importing Great Expectations costs a task process 3-4 s, and these suites look at a job's few
columns with one mask each. The saved suite files (include/gx/expectations/<suite>.json) stay the one
source of the rules: each expectation's type, kwargs and reason are read from them, and each type is
done here as GX's pandas engine does it, giving the same `quality.ExpectationResult` (rule, type,
kwargs, success, counts, failing rows). A type or kwarg not implemented here is an error, never a
silent pass. tests/unit/test_line_checks.py runs both paths on the same frames. No GX import here.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from include.budget_import.quality import (
    GX_PROJECT_ROOT,
    LINE_ITEMS_SUITE,
    RECONCILIATION_SUITE,
    SAMPLE_SIZE,
    ExpectationResult,
    _columns_of,
    _jsonable,
)

SUITES_DIR = GX_PROJECT_ROOT / "gx" / "expectations"
ID_COLUMN = "line_id"  # a failing row is named by its position in the frame, as quality._suite_by_line names it


class UnsupportedExpectationError(ValueError):
    """A saved suite uses an expectation type (or kwarg) this module does not implement."""


@dataclass(frozen=True)
class SavedExpectation:
    """One expectation of a saved suite file: what it checks and the reason code its failures get."""

    type: str
    kwargs: dict[str, Any]
    reason: str

    @property
    def columns(self) -> list[str]:
        return _columns_of(self.kwargs)


def _not_null(frame: pd.DataFrame, kwargs: dict[str, Any]) -> np.ndarray:
    """expect_column_values_to_not_be_null: a missing value (None, NaN) is unexpected."""
    missing: np.ndarray = frame[kwargs["column"]].isna().to_numpy(dtype=bool)
    return missing


def _compound_unique(frame: pd.DataFrame, kwargs: dict[str, Any]) -> np.ndarray:
    """expect_compound_columns_to_be_unique: every row of a repeated combination is unexpected; a row
    missing every column is skipped (GX's default ignore_row_if='all_values_are_missing')."""
    columns = frame[list(kwargs["column_list"])]
    kept = ~columns.isna().all(axis=1).to_numpy(dtype=bool)
    unexpected = np.zeros(len(frame), dtype=bool)
    unexpected[kept] = columns[kept].duplicated(keep=False).to_numpy(dtype=bool)
    return unexpected


def _pair_equal(frame: pd.DataFrame, kwargs: dict[str, Any]) -> np.ndarray:
    """expect_column_pair_values_to_be_equal: A == B per row; a row missing both is skipped (GX's
    default ignore_row_if='both_values_are_missing'), a row missing one is unexpected."""
    a, b = frame[kwargs["column_A"]], frame[kwargs["column_B"]]
    both_missing = (a.isna() & b.isna()).to_numpy(dtype=bool)
    equal = (a == b).to_numpy(dtype=bool)
    unexpected: np.ndarray = ~equal & ~both_missing
    return unexpected


# type -> (the mask of unexpected rows, the kwargs it reads: any other kwarg in the suite is refused)
CHECKS: dict[str, tuple[Callable[[pd.DataFrame, dict[str, Any]], np.ndarray], frozenset[str]]] = {
    "expect_column_values_to_not_be_null": (_not_null, frozenset({"column"})),
    "expect_compound_columns_to_be_unique": (_compound_unique, frozenset({"column_list"})),
    "expect_column_pair_values_to_be_equal": (_pair_equal, frozenset({"column_A", "column_B"})),
}


@cache
def saved_expectations(name: str) -> tuple[SavedExpectation, ...]:
    """The expectations of include/gx/expectations/<name>.json, in the suite's order, read once a process;
    an expectation this module cannot run exactly as GX does raises UnsupportedExpectationError."""
    path = SUITES_DIR / f"{name}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for config in suite["expectations"]:
        kind, kwargs = str(config["type"]), dict(config.get("kwargs") or {})
        if kind not in CHECKS:
            raise UnsupportedExpectationError(f"{path.name}: expectation type {kind!r} is not implemented in line_checks.py "
                                              f"(implemented: {', '.join(sorted(CHECKS))})")
        extra = sorted(set(kwargs) - CHECKS[kind][1])
        if extra:
            raise UnsupportedExpectationError(f"{path.name}: {kind} with kwargs {extra} is not implemented in line_checks.py")
        out.append(SavedExpectation(type=kind, kwargs=kwargs, reason=str(config["meta"]["reason"])))
    return tuple(out)


def _failing_rows(frame: pd.DataFrame, columns: list[str], positions: np.ndarray) -> list[dict[str, Any]]:
    """The first failing rows as {column: value, ..., line_id: position}, as quality._failing_rows gives them."""
    picked = positions[:SAMPLE_SIZE].tolist()
    if not picked:
        return []
    rows = frame[columns].take(picked).itertuples(index=False, name=None)
    return [_jsonable({**dict(zip(columns, row, strict=True)), ID_COLUMN: n}) for row, n in zip(rows, picked, strict=True)]


def run_saved_suite(frame: pd.DataFrame, name: str) -> list[ExpectationResult]:
    """The saved suite `name` over a small frame of lines; [] for no lines (as the GX path)."""
    if frame.empty:
        return []
    lines = frame.reset_index(drop=True)
    results = []
    for expectation in saved_expectations(name):
        check = CHECKS[expectation.type][0]
        positions = np.flatnonzero(check(lines, expectation.kwargs))
        results.append(ExpectationResult(
            rule=expectation.reason, expectation=expectation.type, kwargs=_jsonable(expectation.kwargs), success=not len(positions),
            unexpected_count=len(positions), element_count=len(lines), failing_rows=_failing_rows(lines, expectation.columns, positions),
        ))
    return results


def validate_line_items(line_items: pd.DataFrame) -> list[ExpectationResult]:
    """quality.validate_line_items without GX: every line mapped to a Procore cost code and line item
    type, no duplicate combination."""
    return run_saved_suite(line_items, LINE_ITEMS_SUITE)


def validate_reconciliation(reconciliation: pd.DataFrame) -> list[ExpectationResult]:
    """quality.validate_reconciliation without GX: Procore's amount equals Spectrum's on every checked line."""
    return run_saved_suite(reconciliation, RECONCILIATION_SUITE)
