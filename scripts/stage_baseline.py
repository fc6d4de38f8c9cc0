"""The hand-written baseline of validate, reshape and plan (issue 19: each stage <= 1.1x this).

The same three stages as the pipeline's, from the same inputs, written the plainest fast way: numpy
masks over the batch's columns, plain dicts, no Great Expectations, no reports, nothing per line
beyond what the result holds. Money stays exact: the amounts are the frame's Decimals, compared and
rounded under a decimal context, never as floats. `scripts/benchmark.py --stages-only` runs it beside
the pipeline, batch by batch, and refuses figures unless both give the same result (`assert_same`).

- `validate`: the jobs' extracted frames (`prepare.ExtractedJob.frame`) and the company's cost types
  -> each job's {row_id: reason}, first rule of `rules.ROW_RULES` that a row breaks, as
  `quality.validate_rows_many` gives it.
- `reshape`: the frames and those reasons -> each job's line items, cost codes, rows left out, counts
  per outcome and Spectrum totals, as `reshape.reshape_many`.
- `plan`: a job's line items as the load reads them (`handoff.LoadInput.line_items`) against Procore's
  lines -> the counts of `plan.plan_merge(...).counts()`.
"""
from __future__ import annotations

import decimal
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from include.budget_import import quality, storage
from include.budget_import.artifacts import JobFolder
from include.budget_import.handoff import LoadInput
from include.budget_import.rules import (
    COST_TYPE_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    ESTIMATE_LIMIT,
    KEY_FORBIDDEN_CATEGORIES,
    PHASE_CODE_MAX_LENGTH,
    ROW_RULES,
)
from include.budget_import.totals import SpectrumTotals

CENT = Decimal("0.01")
INFINITY = Decimal("Infinity")
ZERO = Decimal(0)
OUTCOMES = ("line_item", "skipped", "rejected")  # reshape.OUTCOMES
LEFT_OUT_COLUMNS = ["row_id", "company_code", "job_number", "phase_code", "cost_type", "description", "original_estimate", "jtd_cost",
                    "outcome", "reason", "message"]  # reshape.LEFT_OUT_COLUMNS
# Validation compares amounts under a context that signals nothing: an ordering comparison with NaN is
# False instead of raising, so NaN and infinities fall out of the masks (they are amount_invalid) and no
# amount needs a test of its own first. The precision is unbounded so `x % CENT` is exact for any size.
QUIET = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])
# Reshape rounds each line's estimate to cents under a context that raises if that changes its value:
# validation rejected every sub-cent amount, and this makes sure none is ever rounded silently.
EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                        traps=[decimal.Inexact, decimal.InvalidOperation])
REASONS = [rule.reason for rule in ROW_RULES]  # code k (1..) is REASONS[k - 1]; 0 is no reason (a line item)
_REASON_NAMES = np.array(["", *REASONS], dtype=object)
_OUTCOME_OF_CODE = np.array([0] + [OUTCOMES.index(rule.outcome) for rule in ROW_RULES], dtype=np.int64)
_MESSAGE_NAMES = np.array(["", *(rule.message for rule in ROW_RULES)], dtype=object)


class BaselineDisagrees(AssertionError):
    """The baseline's result differs from the pipeline's: it does other work, so its time measures nothing."""


def _column(frames: Sequence[pd.DataFrame], name: str) -> np.ndarray:
    """One column of every frame, end to end (what pd.concat does, without its index and type work)."""
    parts = [f[name].to_numpy() for f in frames if len(f)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)


def _starts(frames: Sequence[pd.DataFrame]) -> np.ndarray:
    return np.cumsum([0, *(len(f) for f in frames)])


# --------------------------------------------------------------------------- validate
def _visible(key: str) -> bool:
    """No character of a forbidden Unicode category; printable ASCII (the usual key) has none."""
    return (key.isascii() and key.isprintable()) or not any(unicodedata.category(ch) in KEY_FORBIDDEN_CATEGORIES for ch in key)


def _key_codes(values: np.ndarray, max_length: int) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """A key column's codes (-1: missing), its distinct keys, and per row whether its key is malformed
    (too long, or not all visible): checked once per distinct key, as a job's keys repeat."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = uniques.tolist()
    bad = np.array([isinstance(u, str) and (len(u) > max_length or not _visible(u)) for u in keys] + [False], dtype=bool)
    return codes, keys, bad[codes]  # code -1 (missing) takes the last entry


def _failing(frames: Sequence[pd.DataFrame], known_cost_types: Iterable[str]) -> np.ndarray:
    """The batch's rows, each with the code of the first rule it breaks (0: none), in ROW_RULES order."""
    phase, _, phase_bad = _key_codes(_column(frames, "phase_code"), PHASE_CODE_MAX_LENGTH)
    ctype, types, type_bad = _key_codes(_column(frames, "cost_type"), COST_TYPE_MAX_LENGTH)
    company = pd.factorize(_column(frames, "company_code"))[0]
    job = pd.factorize(_column(frames, "job_number"))[0]
    duplicate = pd.DataFrame({"c": company, "j": job, "p": phase, "t": ctype}, copy=False).duplicated(keep=False).to_numpy()
    known = set(known_cost_types)
    unknown = np.array([u not in known for u in types] + [False], dtype=bool)[ctype]
    estimate, jtd = _column(frames, "original_estimate"), _column(frames, "jtd_cost")
    description = _column(frames, "description")
    with decimal.localcontext(QUIET):
        valid = (estimate > -ESTIMATE_LIMIT) & (estimate < ESTIMATE_LIMIT) & (jtd > -INFINITY) & (jtd < INFINITY)
        beyond_cents = np.array([bool(e % CENT or j % CENT) for e, j in zip(estimate.tolist(), jtd.tolist(), strict=True)], dtype=bool)
        negative = estimate < ZERO
        estimate_zero = estimate == ZERO
        jtd_zero = jtd == ZERO
    too_long = np.array([type(d) is str and len(d) > DESCRIPTION_MAX_LENGTH for d in description.tolist()], dtype=bool)
    # a valid row's estimate is finite: after negative_estimate, "not positive" is zero
    breaks = {
        "missing_key": (phase < 0) | (ctype < 0),
        "malformed_key": phase_bad | type_bad,
        "duplicate_key": duplicate,
        "unknown_cost_type": unknown,
        "amount_invalid": ~valid,
        "amount_precision": beyond_cents,
        "description_too_long": too_long,
        "negative_estimate": negative,
        "no_estimate_or_cost": estimate_zero & jtd_zero,
        "estimate_not_positive": estimate_zero,
    }
    if list(breaks) != REASONS:
        raise AssertionError(f"the baseline's rules {list(breaks)} are not rules.ROW_RULES {REASONS}: write the new rule here too")
    code = np.zeros(len(phase), dtype=np.int8)
    for k in range(len(REASONS), 0, -1):  # the last rule first, so the first rule a row breaks is what stays
        code[breaks[REASONS[k - 1]]] = k
    return code


def validate(frames: Sequence[pd.DataFrame], known_cost_types: Iterable[str]) -> list[dict[int, str]]:
    """Each job's failing rows, {row_id: reason}, for frames[n] as `prepare.ExtractedJob.frame` holds them
    (one company's jobs, `known_cost_types` its cost types): `quality.validate_rows_many`'s reasons."""
    code = _failing(frames, known_cost_types)
    row_ids = _column(frames, "row_id").astype(np.int64, copy=False)
    at = np.flatnonzero(code)
    cuts = np.searchsorted(at, _starts(frames))
    out = []
    for n in range(len(frames)):
        mine = at[cuts[n] : cuts[n + 1]]
        out.append(dict(zip(row_ids[mine].tolist(), _REASON_NAMES[code[mine]].tolist(), strict=True)))
    return out


# --------------------------------------------------------------------------- reshape
@dataclass
class Reshaped:
    """One job's reshape, in the forms the load and the reports take: `lines` the line items' columns
    (sorted by cost code, cost type; amounts exact Decimals at cents), `cost_codes` code -> description
    (sorted), `left_out` every row that is not a line item (reshape.LEFT_OUT_COLUMNS, frame order),
    rows per outcome, and the original estimates' totals by outcome (`totals.SpectrumTotals`' figures)."""

    lines: dict[str, list[Any]]
    cost_codes: dict[str, str]
    left_out: pd.DataFrame
    outcomes: dict[str, int]
    totals: dict[str, Any]


def _described(descriptions: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """A line's description, or its phase code where Spectrum has none."""
    out = descriptions.copy()
    blank = pd.isna(out)
    out[blank] = phases[blank]
    return out


def reshape(frames: Sequence[pd.DataFrame], reasons: Sequence[Mapping[int, str]]) -> list[Reshaped]:
    """Each job's rows into its Procore budget: `reshape.reshape_many(frames, reasons)` by hand. A row_id
    is the row's position in its job's frame (`reshape.extracted_frame`)."""
    starts = _starts(frames)
    total = int(starts[-1])
    row_ids = _column(frames, "row_id").astype(np.int64, copy=False)
    job = np.repeat(np.arange(len(frames)), np.diff(starts))
    if (row_ids != np.arange(total) - starts[job]).any():
        raise ValueError("row_id must be each row's position in its job's extract (reshape.extracted_frame)")
    code = np.zeros(total, dtype=np.int8)
    number = {reason: k for k, reason in enumerate(REASONS, start=1)}
    for n, job_reasons in enumerate(reasons):
        if job_reasons:
            code[starts[n] + np.fromiter(job_reasons.keys(), np.int64, len(job_reasons))] = [number[r] for r in job_reasons.values()]
    outcome = _OUTCOME_OF_CODE[code]
    phase, ctype = _column(frames, "phase_code"), _column(frames, "cost_type")
    description, estimate = _column(frames, "description"), _column(frames, "original_estimate")

    # line items: the rows with no reason, sorted per job by cost code then cost type (unique: validated)
    items = np.flatnonzero(code == 0)
    code_rank = pd.factorize(phase[items], sort=True)[0]
    type_rank = pd.factorize(ctype[items], sort=True)[0]
    items_sorted = items[np.lexsort((type_rank, code_rank, job[items]))]
    with decimal.localcontext(EXACT):
        amounts = [e.quantize(CENT) for e in estimate[items_sorted].tolist()]
    item_codes, item_types = phase[items_sorted].tolist(), ctype[items_sorted].tolist()
    item_descriptions = _described(description[items_sorted], phase[items_sorted]).tolist()
    item_cuts = np.searchsorted(job[items_sorted], np.arange(len(frames) + 1))

    # cost codes: those of the line items and of the JTD-only rows, first description of each per job
    coded = np.flatnonzero((code == 0) | (code == number["estimate_not_positive"]))
    ranks, names = pd.factorize(phase[coded], sort=True)
    firsts = coded[np.unique(job[coded] * max(len(names), 1) + ranks, return_index=True)[1]]  # per job, in code order
    first_codes = phase[firsts].tolist()
    first_descriptions = _described(description[firsts], phase[firsts]).tolist()
    code_cuts = np.searchsorted(job[firsts], np.arange(len(frames) + 1))

    # the rows left out, with their reasons, in frame order
    out = np.flatnonzero(code)
    left_out = pd.DataFrame({
        "row_id": row_ids[out], "company_code": _column(frames, "company_code")[out], "job_number": _column(frames, "job_number")[out],
        "phase_code": phase[out], "cost_type": ctype[out], "description": description[out], "original_estimate": estimate[out],
        "jtd_cost": _column(frames, "jtd_cost")[out], "outcome": np.array(OUTCOMES, dtype=object)[outcome[out]],
        "reason": _REASON_NAMES[code[out]], "message": _MESSAGE_NAMES[code[out]],
    }, columns=LEFT_OUT_COLUMNS)
    left_cuts = np.searchsorted(job[out], np.arange(len(frames) + 1))
    counts = np.bincount(job * len(OUTCOMES) + outcome, minlength=len(frames) * len(OUTCOMES)).reshape(-1, len(OUTCOMES))

    result = []
    for n in range(len(frames)):
        a, b = item_cuts[n], item_cuts[n + 1]
        part = slice(starts[n], starts[n + 1])
        job_estimates, job_outcomes = estimate[part], outcome[part]
        # line items and skipped rows passed amount_invalid: their estimates are finite; a rejected one may not be
        rejected = [e for e in job_estimates[job_outcomes == 2].tolist() if e.is_finite()]
        sums = [sum(job_estimates[job_outcomes == k].tolist(), ZERO) for k in (0, 1)] + [sum(rejected, ZERO)]
        result.append(Reshaped(
            lines={"cost_code": item_codes[a:b], "cost_type": item_types[a:b], "description": item_descriptions[a:b], "amount": amounts[a:b]},
            cost_codes=dict(zip(first_codes[code_cuts[n] : code_cuts[n + 1]], first_descriptions[code_cuts[n] : code_cuts[n + 1]], strict=True)),
            left_out=left_out.iloc[left_cuts[n] : left_cuts[n + 1]].reset_index(drop=True),
            outcomes={name: int(counts[n, k]) for k, name in enumerate(OUTCOMES)},
            totals={"spectrum": sums[0] + sums[1] + sums[2], "line_items": sums[0], "skipped": sums[1], "rejected": sums[2],
                    "unreadable_rows": int(counts[n, 2]) - len(rejected)},
        ))
    return result


# --------------------------------------------------------------------------- plan
def plan(line_items: Mapping[str, Sequence[Any]], existing: Iterable[Sequence[Any]], mode: str = "override",
         rejected: Mapping[tuple[str, str], str] | None = None) -> dict[str, int]:
    """The merge plan's counts, `plan.plan_merge(...).counts()`: `line_items` a job's columns cost_code,
    cost_type, amount (exact text or Decimal), as the load reads them; `existing` Procore's lines as
    (id, cost_code, cost_type, amount, ...) (plan.ExistingLine); `rejected` the keys of rejected Spectrum
    rows, whose Procore line an override keeps. Lines match by (cost code, cost type)."""
    if mode not in ("override", "additive"):
        raise ValueError(f"merge mode must be override or additive, not {mode!r}")
    wanted = dict(zip(zip(line_items["cost_code"], line_items["cost_type"], strict=True), line_items["amount"], strict=True))
    if len(wanted) != len(line_items["cost_code"]):
        raise ValueError("desired budget has a duplicate cost code + cost type")
    have = {(line[1], line[2]): line[3] for line in existing}
    matched = wanted.keys() & have.keys()
    create = len(wanted) - len(matched)
    if mode == "additive":  # nothing Procore has is touched
        return {"create": create, "update": 0, "delete": 0, "keep": len(have)}
    equal = sum(1 for key in matched if Decimal(wanted[key]) == have[key])
    kept = sum(1 for key in have.keys() - wanted.keys() if key in (rejected or {}))
    return {"create": create, "update": len(matched) - equal, "delete": len(have) - len(matched) - kept, "keep": equal + kept}


# --------------------------------------------------------------------------- the same work
def handed_off(lines: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """Line items as the pipeline hands them to the load (handoff.LoadInput.line_items: amounts as exact text)."""
    return {"cost_code": lines["cost_code"], "cost_type": lines["cost_type"], "amount": [str(a) for a in lines["amount"]],
            "description": lines["description"]}


def assert_same(what: str, pipeline: Any, baseline: Any) -> None:
    """Raise BaselineDisagrees, naming the first difference, unless the two results are equal."""
    if pipeline == baseline:
        return
    detail = ""
    if isinstance(pipeline, Mapping) and isinstance(baseline, Mapping):
        keys = [k for k in {**pipeline, **baseline} if pipeline.get(k, "(none)") != baseline.get(k, "(none)")]
        detail = f" (first of {len(keys)} differing: {keys[0]!r} is {pipeline.get(keys[0], '(none)')!r} in the pipeline, " \
                 f"{baseline.get(keys[0], '(none)')!r} in the baseline)" if keys else ""
    elif isinstance(pipeline, list) and isinstance(baseline, list):
        at = next((n for n, (p, b) in enumerate(zip(pipeline, baseline, strict=False)) if p != b), min(len(pipeline), len(baseline)))
        detail = f" ({len(pipeline)} against {len(baseline)} items; first difference at {at})"
    raise BaselineDisagrees(f"{what}: the hand-written baseline's result differs from the pipeline's{detail}; "
                            "a baseline that does other work measures nothing")


def assert_prepared_same(what: str, folder: JobFolder, reshape_figures: Mapping[str, Any], handed: LoadInput, reasons: Mapping[int, str],
                         mine: Reshaped) -> None:
    """The baseline's validate and reshape of one job against what the pipeline left of its own: each failing
    row's reason (its validation.gx.json, `quality.rows_by_reason_of`), the load's input (line items, cost
    codes), and the reshape stage's figures (rows per outcome, totals)."""
    kept = folder.file(quality.GX_RESULT_FILE)
    assert_same(f"{what} validate (reason per row id)", quality.rows_by_reason_of(storage.read_json(kept)) if storage.is_file(kept) else {},
                dict(reasons))
    assert_same(f"{what} reshape (line items)", handed.line_items, handed_off(mine.lines))
    assert_same(f"{what} reshape (cost codes)", list(handed.cost_codes.items()), list(mine.cost_codes.items()))
    assert_same(f"{what} reshape (rows per outcome)", {k: reshape_figures[k] for k in ("line_items", "skipped", "rejected")},
                {"line_items": mine.outcomes["line_item"], "skipped": mine.outcomes["skipped"], "rejected": mine.outcomes["rejected"]})
    assert_same(f"{what} reshape (totals)", reshape_figures["totals"], SpectrumTotals(**mine.totals).as_dict())
