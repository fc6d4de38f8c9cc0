"""The hand-written baseline of validate, reshape and plan (scripts/stage_baseline.py) does the pipeline's
work: on awkward rows (hand-built, and the demo sample through the real SQLite ODBC driver) it gives
exactly the reasons of `quality.validate_rows_many`, what `reshape.reshape_many` makes of them and the
counts of `plan.plan_merge`. A baseline that did other work would make issue 19's ratios meaningless."""
from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from include.budget_import import quality
from include.budget_import.plan import DesiredLine, ExistingLine, plan_merge
from include.budget_import.reshape import ReshapeResult, extracted_frame, reshape_many
from include.budget_import.spectrum_source import NOT_AN_AMOUNT, cost_types, find_job, iter_budget_lines
from scripts import stage_baseline

ROOT = Path(__file__).resolve().parent.parent
D = Decimal
KNOWN = ["E", "L", "M", "O", "S"]


def row(job: str, phase: str | None, ctype: str | None, estimate: Decimal | str, jtd: Decimal | str = "0.0000",
        description: str | None = "Work", company: str = "01") -> tuple:
    return (company, job, phase, ctype, description, D(estimate), D(jtd))


def awkward_jobs() -> list[pd.DataFrame]:
    return [
        extracted_frame([[
            row("11.00", "02-100", "L", "100.0000"),
            row("11.00", "02-100", "L", "200.0000"),  # duplicate key (both rows)
            row("11.00", "02-100", "M", "300.0000", description="Other name"),  # same code, other type: fine
            row("11.00", None, "M", "10.0000"),  # blank phase
            row("11.00", "03-100", None, "10.0000"),  # blank cost type
            row("11.00", None, "L", "1.001", description="x" * 40),  # several rules: the first one wins
            row("11.00", "P" * 21, "L", "10.0000"),  # phase code beyond varchar(20)
            row("11.00", "03-200", "LLLL", "10.0000"),  # cost type beyond varchar(3)
            row("11.00", "03-300\u200b", "L", "10.0000"),  # zero-width character in a key
            row("11.00", "03-400", "L\x07", "10.0000"),  # control character in a key
            row("11.00", "03-500", "X", "10.0000"),  # unknown cost type
            row("11.00", "03-600", "L", NOT_AN_AMOUNT),  # unreadable estimate
            row("11.00", "03-610", "L", "10.0000", jtd=NOT_AN_AMOUNT),  # unreadable job-to-date cost
            row("11.00", "03-620", "L", "100000000000.0000"),  # estimate at the DECIMAL(15,4) limit
            row("11.00", "03-630", "L", "-100000000000.0000"),
            row("11.00", "03-640", "L", "Infinity"),
            row("11.00", "03-650", "L", "99999999999.99", jtd="5.0000"),  # just below the limit: fine
            row("11.00", "03-700", "M", "1234.5675"),  # sub-cent estimate
            row("11.00", "03-710", "M", "12.5000", jtd="3.1250"),  # sub-cent job-to-date cost
            row("11.00", "03-720", "M", "1E-7"),  # sub-cent, in exponent form
            row("11.00", "03-730", "M", "3150.5000"),  # zeros beyond cents: fine
            row("11.00", "03-740", "M", "1.2E+3"),  # exponent form, whole: fine
            row("11.00", "03-800", "S", "10.0000", description="y" * 26),  # description too long
            row("11.00", "03-810", "S", "10.0000", description="z" * 25),  # exactly 25: fine
            row("11.00", "03-900", "S", "-5.0000"),  # negative estimate
            row("11.00", "03-910", "S", "-5.0000", jtd="7.0000"),  # negative, with a cost
            row("11.00", "04-100", "S", "0.0000"),  # neither estimate nor cost
            row("11.00", "04-100", "E", "-0.0000"),  # negative zero: neither either
            row("11.00", "04-200", "S", "0.0000", jtd="950.5000", description="JTD only"),  # zero estimate with a cost
            row("11.00", "04-200", "E", "0.0000", jtd="-12.0000"),  # the same code again, a negative cost
            row("11.00", "01-050", "E", "42.0000", description=None),  # no description: the phase code's
            row("11.00", "01-010", "O", "7.1000"),  # out of order: the line items are sorted
        ]]),
        extracted_frame([]),  # an empty job
        extracted_frame([[
            row("12.00", "02-100", "L", "100.0000"),  # the other job's duplicated key: not a duplicate here
            row("12.00", "01-100", "M", "0.0010"),
            row("12.00", "01-100", "L", "7.0000", description="First"),
            row("12.00", "01-100", "E", "0.0000", jtd="1.0000", description="Second"),  # cost code's description: the first row's
        ]]),
        extracted_frame([[row("13.00", f"05-{n:03d}", "LMS"[n % 3], f"{n}.{n % 100:02d}00", jtd=f"{n}.0000") for n in range(60, 0, -1)]]),
    ]


def pipeline_prepare(frames: list[pd.DataFrame], known: list[str]) -> tuple[list[dict[int, str]], list[ReshapeResult]]:
    validated = quality.validate_rows_many(dict(enumerate(frames)), known)
    reasons = [validated[n].reasons for n in range(len(frames))]
    return reasons, reshape_many(frames, reasons)


def assert_reshaped_alike(pipeline: ReshapeResult, mine: stage_baseline.Reshaped) -> None:
    items = pipeline.line_items
    assert mine.lines == {c: items[c].tolist() for c in ("cost_code", "cost_type", "description", "amount")}
    assert [str(a) for a in mine.lines["amount"]] == [str(a) for a in items["amount"]]  # the same digits: '12.50', not '12.5000'
    assert list(mine.cost_codes.items()) == list(zip(pipeline.cost_codes["cost_code"], pipeline.cost_codes["description"], strict=True))
    pd.testing.assert_frame_equal(mine.left_out, pipeline.left_out)
    assert mine.outcomes == pipeline.outcomes
    totals = pipeline.totals
    assert {k: str(v) for k, v in mine.totals.items()} == {
        "spectrum": str(totals.spectrum), "line_items": str(totals.line_items), "skipped": str(totals.skipped),
        "rejected": str(totals.rejected), "unreadable_rows": str(totals.unreadable_rows),
    }


def test_awkward_rows_get_the_pipelines_reasons_line_items_and_plan():
    frames = awkward_jobs()
    reasons, reshaped = pipeline_prepare(frames, KNOWN)
    mine = stage_baseline.validate(frames, KNOWN)
    assert mine == reasons
    assert mine[0][5] == "missing_key" and mine[0][8] == "malformed_key" and mine[0][11] == "amount_invalid"  # (the cases are hit)
    assert mine[0][19] == "amount_precision" and mine[0][28] == "estimate_not_positive" and mine[0][26] == "no_estimate_or_cost"
    assert set(mine[0].values()) == set(stage_baseline.REASONS), "every rule is exercised"
    for pipeline, baseline in zip(reshaped, stage_baseline.reshape(frames, mine), strict=True):
        assert_reshaped_alike(pipeline, baseline)
        desired = [DesiredLine(c, t, a, d) for c, t, a, d in zip(*(pipeline.line_items[k] for k in ("cost_code", "cost_type", "amount", "description")),
                                                                  strict=True)]
        existing = [ExistingLine(n, d.cost_code, d.cost_type, d.amount) for n, d in enumerate(desired)]  # Procore already equal
        for mode in ("override", "additive"):
            assert stage_baseline.plan(stage_baseline.handed_off(baseline.lines), existing, mode) == plan_merge(desired, existing, mode).counts()


def test_validating_jobs_one_at_a_time_or_together_gives_the_same():
    frames = awkward_jobs()
    together = stage_baseline.validate(frames, KNOWN)
    assert [stage_baseline.validate([f], KNOWN)[0] for f in frames] == together


def test_plan_counts_creates_updates_deletes_and_keeps_as_plan_merge():
    desired = [DesiredLine("01-100", "L", D("10.00")), DesiredLine("01-200", "L", D("20.00")), DesiredLine("01-300", "M", D("30.00")),
               DesiredLine("01-400", "S", D("40.50"))]
    existing = [ExistingLine(1, "01-100", "L", D("10.0000")),  # equal (other digits)
                ExistingLine(2, "01-200", "L", D("25.00")),  # changed
                ExistingLine(3, "09-900", "O", D("99.00")),  # not in Spectrum
                ExistingLine(4, "09-800", "O", D("5.00")),  # not in Spectrum, its row rejected
                ExistingLine(5, "01-300", "E", D("30.00"))]  # other cost type: no match
    rejected = {("09-800", "O"): "negative_estimate"}
    columns = {"cost_code": [d.cost_code for d in desired], "cost_type": [d.cost_type for d in desired], "amount": [f"{d.amount}" for d in desired]}
    for mode in ("override", "additive"):
        want = plan_merge(desired, existing, mode, rejected).counts()
        assert stage_baseline.plan(columns, existing, mode, rejected) == want, mode
    assert stage_baseline.plan(columns, existing, "override", rejected) == {"create": 2, "update": 1, "delete": 2, "keep": 2}
    with pytest.raises(ValueError, match="duplicate"):
        stage_baseline.plan({k: v + v[:1] for k, v in columns.items()}, existing)
    with pytest.raises(ValueError, match="merge mode"):
        stage_baseline.plan(columns, existing, "replace")


def test_reshape_never_rounds_a_sub_cent_amount_it_was_told_is_fine():
    frame = extracted_frame([[row("11.00", "01-100", "L", "1234.5675")]])
    with pytest.raises(ArithmeticError):
        stage_baseline.reshape([frame], [{}])


def test_the_demo_samples_jobs_through_the_odbc_driver(demo_sample, spectrum_conn):
    """Every job of the demo sample (each awkward case of the generator), extracted as the pipeline extracts,
    validated and reshaped per company in one batch."""
    by_company: dict[str, list[pd.DataFrame]] = {}
    for spec in demo_sample.manifest()["jobs"]:
        job = find_job(spectrum_conn, spec["company_code"], spec["job_number"]) if spec["in_spectrum"] else None
        if job is not None:
            by_company.setdefault(job.company_code, []).append(extracted_frame(iter_budget_lines(spectrum_conn, job)))
    assert sum(len(f) for frames in by_company.values() for f in frames) > 100
    for company, frames in by_company.items():
        known = list(cost_types(spectrum_conn, company))
        reasons, reshaped = pipeline_prepare(frames, known)
        mine = stage_baseline.validate(frames, known)
        assert mine == reasons, company
        for pipeline, baseline in zip(reshaped, stage_baseline.reshape(frames, mine), strict=True):
            assert_reshaped_alike(pipeline, baseline)


def test_a_difference_is_named():
    with pytest.raises(stage_baseline.BaselineDisagrees, match=r"01/10\.00 validate.*first of 1 differing: 3 is 'missing_key'"):
        stage_baseline.assert_same("01/10.00 validate", {3: "missing_key", 4: "duplicate_key"}, {3: "duplicate_key", 4: "duplicate_key"})
    stage_baseline.assert_same("same", {1: "x"}, {1: "x"})


def test_the_benchmark_compares_every_stage_with_the_baseline(tmp_path):
    """`scripts/benchmark.py --stages-only` at a tiny, dirty size: the baseline ran beside every batch and agreed."""
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--jobs", "3", "--lines", "40", "--dirty-rate", "0.3", "--jobs-per-batch", "2",
         "--stages-only", "--no-dags", "--load-lines", "0", "--no-scheduler", "--workdir", str(tmp_path), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    compared = json.loads(out.read_text())["stages_vs_baseline"]
    for stage in ("validate", "reshape", "plan"):
        assert compared[stage]["pipeline_s"] > 0 and compared[stage]["ratio"] > 0  # (a baseline's few microseconds round to 0.0 s)
    assert compared["vs_bare_fetch"] > 0
    assert "the hand-written baseline" in done.stdout and "validate + reshape + plan" in done.stdout
