"""Validating many jobs in one Great Expectations call gives every job exactly what validating it alone
gives (reasons by its own row ids, and per expectation its counts and failing rows); the exact hand-off
of frames between stages round-trips every amount."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from include.budget_import import quality
from include.budget_import.artifacts import RunFolder
from include.budget_import.handoff import read_load_input, write_load_input
from include.budget_import.reshape import extracted_frame

D = Decimal
KNOWN = ["L", "M", "S"]


def row(job: str, phase: str | None, ctype: str | None, estimate: str, jtd: str = "0.0000", description: str | None = "Work") -> tuple:
    return ("01", job, phase, ctype, description, D(estimate), D(jtd))


def jobs() -> dict[str, pd.DataFrame]:
    return {
        "clean": extracted_frame([[row("10.00", f"01-{n:03d}", "L", f"{n}00.0000") for n in range(1, 30)]]),
        "dirty": extracted_frame([[
            row("11.00", "01-100", "L", "100.0000"),
            row("11.00", "01-100", "L", "200.0000"),  # duplicate key
            row("11.00", None, "M", "10.0000"),  # missing key
            row("11.00", "01-200", "X", "10.0000"),  # unknown cost type
            row("11.00", "01-300", "M", "1234.5675"),  # sub-cent estimate
            row("11.00", "01-310", "M", "12.5000", jtd="3.1250"),  # sub-cent job-to-date cost
            row("11.00", "01-400", "S", "-5.0000"),  # negative
            row("11.00", "01-500", "S", "0.0000"),  # neither estimate nor cost
            row("11.00", "01-600", "S", "0.0000", jtd="950.5000"),  # cost only
            row("11.00", "01-700", "S", "10.0000", description="x" * 26),  # description too long
            row("11.00", "01-800", "M", "3150.5000"),  # fine: zeros beyond cents
        ]]),
        "empty": extracted_frame([]),
        "also_dirty": extracted_frame([[row("12.00", "01-100", "L", "0.0010"), row("12.00", "01-100", "M", "7.0000")]]),
    }


def test_many_jobs_in_one_call_equal_each_job_alone():
    frames = jobs()
    together = quality.validate_rows_many(frames, KNOWN)
    assert set(together) == set(frames)
    for key, frame in frames.items():
        alone = quality.validate_rows(frame, KNOWN)
        assert together[key].reasons == alone.reasons, key
        assert [r.as_dict() for r in together[key].results] == [r.as_dict() for r in alone.results], key
        assert_gx_result_is_the_jobs_alone(together[key].gx_result, alone.gx_result)
    assert together["dirty"].reasons == {
        0: "duplicate_key", 1: "duplicate_key", 2: "missing_key", 3: "unknown_cost_type", 4: "amount_precision",
        5: "amount_precision", 6: "negative_estimate", 7: "no_estimate_or_cost", 8: "estimate_not_positive", 9: "description_too_long",
    }
    assert together["also_dirty"].reasons == {0: "amount_precision"}


def assert_gx_result_is_the_jobs_alone(cut: dict | None, alone: dict | None) -> None:
    """A job's part of the batch's GX result (GX's own serialisation for the batch's first job, the same
    shape filled in for the others) is what GX gives for the job validated alone, apart from the run's
    identity (validation id, times, fingerprint) and the batch's size; and GX's class reads it back as is."""
    from great_expectations.core import ExpectationSuiteValidationResult

    if alone is None:
        assert cut is None
        return
    assert cut is not None
    assert ExpectationSuiteValidationResult(**cut).to_json_dict() == cut
    assert [list(r) for r in cut["results"]] == [list(r) for r in alone["results"]]  # the same keys, in GX's order
    assert {k: v for k, v in cut.items() if k != "meta"} == {k: v for k, v in alone.items() if k != "meta"}
    mine, theirs = dict(cut["meta"]["budget_import"]), dict(alone["meta"]["budget_import"])
    assert (theirs.pop("batch_jobs"), theirs.pop("batch_rows")) == (1, mine["rows"])
    assert mine.pop("batch_jobs") == 3 and mine.pop("batch_rows") > mine["rows"]
    assert mine == theirs
    assert cut["meta"].keys() == alone["meta"].keys()


def test_the_kept_failing_values_are_the_ones_gx_lists():
    """validation.gx.json's partial_unexpected_list per expectation holds the values GX's own run lists for
    the same rows (taken from the batch frame once per expectation, not from GX's batch-wide result)."""
    frame = jobs()["dirty"]
    kept = quality.validate_rows(frame, KNOWN).gx_result
    assert kept is not None
    checked = quality.validation_frame(frame)
    _, _, validation = quality.ge_outcomes(checked, quality.ROW_SUITE, parameters={"known_cost_types": sorted(KNOWN)})
    gx_lists = {str(r.expectation_config.id): quality._jsonable(list(r.result.get("partial_unexpected_list") or [])) for r in validation.results}
    ours = {str(r["expectation_config"]["id"]): r["result"]["partial_unexpected_list"] for r in kept["results"]}
    assert ours == gx_lists
    assert sum(len(v) for v in ours.values()) >= 10  # (failing rows are listed)


def test_failing_rows_name_the_jobs_own_row_ids():
    together = quality.validate_rows_many(jobs(), KNOWN)
    duplicate = next(r for r in together["dirty"].results if r.rule == "duplicate_key")
    assert [row["row_id"] for row in duplicate.failing_rows] == [0, 1]
    assert duplicate.element_count == 11 and duplicate.unexpected_count == 2 and not duplicate.success


def test_the_load_input_hand_off_keeps_every_digit_and_is_read_from_its_reference(tmp_path):
    """The prepare task hands the load its input by reference (handoff); amounts come back exact."""
    folder = RunFolder("r", root=tmp_path).job("01", "10.00")
    items = pd.DataFrame({"cost_code": ["01-100", "01-200"], "cost_type": ["L", "M"], "description": ["A", "B"],
                          "amount": [D("12345678901.23"), D("0.10")]})
    codes = pd.DataFrame({"cost_code": ["01-100", "01-200"], "description": ["A", "B"]})
    identity = {"company_code": "01", "job_number": "10.00", "procore_project_id": 7}
    ref = write_load_input(folder, items, codes, {"L": "Labor"}, identity=identity, rejected={("01-300", "L"): "negative_estimate"})
    back = read_load_input(ref)
    assert [(d.cost_code, d.cost_type, d.amount) for d in back.desired()] == [("01-100", "L", D("12345678901.23")), ("01-200", "M", D("0.10"))]
    assert all(type(d.amount) is Decimal for d in back.desired())
    assert back.rejected == {("01-300", "L"): "negative_estimate"} and back.cost_types == {"L": "Labor"}
    back.check_identity(identity)


def test_gx_batch_fingerprint_is_paid_not_patched(monkeypatch):
    """GX fingerprints every pandas batch under 1 GB (pandas.util.hash_pandas_object) to label results
    for its stores. It used to be switched off by patching a private GX constant; now it is paid, made
    cheap by giving GX the key columns as categoricals (docs/performance.md), and results are the
    same with or without it."""
    calls: list[int] = []
    real = pd.util.hash_pandas_object
    monkeypatch.setattr(pd.util, "hash_pandas_object", lambda *a, **k: calls.append(1) or real(*a, **k))
    hashed = quality.validate_rows_many(jobs(), KNOWN)
    assert calls, "GX fingerprints the batch: nothing of GX is patched"
    assert {k: v.reasons for k, v in hashed.items()} == {k: quality.validate_rows(f, KNOWN).reasons for k, f in jobs().items()}
