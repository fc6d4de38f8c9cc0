"""The saved Great Expectations suites (include/gx, a file data context) as a GX user sees them: loaded
with GX's own API, every expectation described for an accountant with our rule in its meta, run through
the saved ValidationDefinition; and each job's kept GX result (validation.gx.json) is GX's own format,
loaded back with GX's API, with the same counts and per-row reasons as our report."""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import pandas as pd
import pytest

from include.budget_import import job_reports, quality, storage
from include.budget_import.artifacts import RunFolder
from include.budget_import.reshape import extracted_frame
from include.budget_import.rules import COST_TYPE_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, PHASE_CODE_MAX_LENGTH, ROW_RULES, ROW_RULES_BY_REASON

logging.getLogger("great_expectations").setLevel(logging.WARNING)
gx = pytest.importorskip("great_expectations")

D = Decimal
KNOWN = ["L", "M", "S"]
SUITES = (quality.ROW_SUITE, quality.JOB_FACTS_SUITE, quality.LINE_ITEMS_SUITE, quality.RECONCILIATION_SUITE)


def context():
    return gx.get_context(mode="file", project_root_dir=str(quality.GX_PROJECT_ROOT))


def row(job: str, phase: str | None, ctype: str | None, estimate: str, jtd: str = "0.0000", description: str | None = "Work") -> tuple:
    return ("01", job, phase, ctype, description, D(estimate), D(jtd))


def dirty() -> pd.DataFrame:
    return extracted_frame([[
        row("11.00", "01-100", "L", "100.0000"),
        row("11.00", "01-100", "L", "200.0000"),  # duplicate key
        row("11.00", None, "M", "10.0000"),  # missing key
        row("11.00", "01-200", "X", "10.0000"),  # unknown cost type
        row("11.00", "01-300", "M", "1234.5675"),  # sub-cent estimate
        row("11.00", "01-400", "S", "-5.0000"),  # negative
        row("11.00", "01-500", "S", "0.0000"),  # neither estimate nor cost
        row("11.00", "01-600", "S", "0.0000", jtd="950.5000"),  # cost only
        row("11.00", "01-700", "S", "10.0000", description="x" * 26),  # description too long
        row("11.00", "x" * 21, "S", "10.0000"),  # phase code longer than Spectrum's column
        row("11.00", "01-\u200b800", "S", "10.0000"),  # zero-width character in the key
        row("11.00", "01-900", "M", "NaN"),  # not a number
        row("11.00", "01-950", "M", "3150.5000"),  # fine
    ]])


@pytest.mark.parametrize("name", SUITES)
def test_saved_suite_loads_with_gx_api_and_every_expectation_is_described_with_its_rule(name):
    suite = context().suites.get(name)
    assert suite.expectations, name
    for expectation in suite.expectations:
        assert expectation.description and len(expectation.description) > 15, (name, expectation.expectation_type)
        assert expectation.meta.get("reason") and expectation.meta.get("rule"), (name, expectation.expectation_type)
        helper = expectation.meta.get("helper_column")
        columns = quality._columns_of(expectation.configuration.kwargs)
        if helper:  # a helper column says what it is and why no GX expectation on the real column says the rule
            assert helper["column"] in columns and helper["computed"] and helper["why_not_a_gx_expectation"]
    definition = context().validation_definitions.get(name)
    assert definition.suite.name == name and definition.batch_definition.name == "whole_frame"


def test_row_suite_is_the_import_rules_in_precedence_order_on_the_real_columns():
    suite = context().suites.get(quality.ROW_SUITE)
    reasons = [e.meta["reason"] for e in suite.expectations]
    assert list(dict.fromkeys(reasons)) == [r.reason for r in ROW_RULES]
    for e in suite.expectations:
        rule = ROW_RULES_BY_REASON[e.meta["reason"]]
        assert e.meta["outcome"] == rule.outcome
    lengths = {e.configuration.kwargs["column"]: e.configuration.kwargs["max_value"] for e in suite.expectations
               if e.expectation_type == "expect_column_value_lengths_to_be_between"}
    assert lengths == {"phase_code": PHASE_CODE_MAX_LENGTH, "cost_type": COST_TYPE_MAX_LENGTH, "description": DESCRIPTION_MAX_LENGTH}
    cost_types = next(e for e in suite.expectations if e.meta["reason"] == "unknown_cost_type")
    assert cost_types.configuration.kwargs["value_set"] == {"$PARAMETER": "known_cost_types"}
    seed = {e.meta["reason"]: e.meta.get("source", "") for e in suite.expectations}
    assert "Import a Viewpoint Spectrum Budget" in seed["estimate_not_positive"] and "Import a Viewpoint Spectrum Budget" in seed["no_estimate_or_cost"]
    helpers = sorted({e.meta["helper_column"]["column"] for e in suite.expectations if "helper_column" in e.meta})
    assert helpers == ["amounts_valid", "estimate_sign", "has_estimate_or_cost", "jtd_cost_beyond_cents", "keys_visible",
                       "original_estimate_beyond_cents"]


def test_small_frame_through_the_saved_validation_definition():
    definition = context().validation_definitions.get(quality.ROW_SUITE)
    frame = quality.validation_frame(dirty())
    lean = frame.drop(columns="row_id").set_axis(pd.Index(frame["row_id"].to_numpy()), axis=0)  # unnamed index: GX lists the ids
    result = definition.run(batch_parameters={"dataframe": lean}, expectation_parameters={"known_cost_types": KNOWN},
                            result_format={"result_format": "COMPLETE"})
    failing: dict[str, set[int]] = {}
    for r in result.results:
        failing.setdefault(r.expectation_config.meta["reason"], set()).update(r.result.get("unexpected_index_list") or [])
    assert failing["duplicate_key"] == {0, 1} and failing["missing_key"] == {2} and failing["unknown_cost_type"] == {3}
    assert failing["malformed_key"] == {9, 10} and failing["amount_invalid"] == {11} and failing["description_too_long"] == {8}
    assert not result.success and result.statistics["evaluated_expectations"] == len(context().suites.get(quality.ROW_SUITE).expectations)
    # the pipeline's own run gives the same rows the same first reasons
    assert quality.validate_rows(dirty(), KNOWN).reasons == {
        0: "duplicate_key", 1: "duplicate_key", 2: "missing_key", 3: "unknown_cost_type", 4: "amount_precision", 5: "negative_estimate",
        6: "no_estimate_or_cost", 7: "estimate_not_positive", 8: "description_too_long", 9: "malformed_key", 10: "malformed_key",
        11: "amount_invalid",
    }


def test_kept_gx_result_is_gxs_own_and_agrees_with_our_report(tmp_path):
    from great_expectations.core import ExpectationSuiteValidationResult

    clean = extracted_frame([[row("10.00", f"01-{n:03d}", "L", f"{n}00.0000") for n in range(1, 6)]])
    validations = quality.validate_rows_many({"dirty": dirty(), "clean": clean}, KNOWN)
    run = RunFolder("r", root=tmp_path)
    for key, frame in (("dirty", dirty()), ("clean", clean)):
        folder = run.job("01", key)
        figures = job_reports.validation_report(folder, len(frame), validations[key], 0.1)
        ours = storage.read_json(folder.file("validation.json"))
        kept = json.loads(storage.read_text(folder.file(quality.GX_RESULT_FILE)))
        back = ExpectationSuiteValidationResult(**kept)  # GX's own class takes it as is
        assert back.suite_name == quality.ROW_SUITE and back.success == ours["success"]
        assert back.statistics["evaluated_expectations"] == len(ours["expectations"])
        assert back.statistics["successful_expectations"] == figures["expectations_passed"]
        by_id = {str(r["expectation_config"]["id"]): r for r in kept["results"]}
        for check, expectation in zip(quality.saved_validation(quality.ROW_SUITE).checks, ours["expectations"], strict=True):
            gx_result = by_id[check.id]
            assert gx_result["expectation_config"]["meta"]["reason"] == expectation["rule"]
            assert gx_result["result"]["unexpected_count"] == expectation["unexpected_count"]
            assert gx_result["result"]["element_count"] == expectation["element_count"] == len(frame)
            assert gx_result["success"] == expectation["success"]
            assert gx_result["result"]["partial_unexpected_index_list"] == [r["row_id"] for r in expectation["failing_rows_sample"]]
        reasons = quality.rows_by_reason_of(kept)
        assert reasons == validations[key].reasons
        counted: dict[str, int] = {}
        for reason in reasons.values():
            counted[reason] = counted.get(reason, 0) + 1
        assert counted == figures["by_reason"]
    assert ExpectationSuiteValidationResult(**json.loads(storage.read_text(run.job("01", "clean").file(quality.GX_RESULT_FILE)))).success


def test_no_gx_internals_patched_and_no_result_files_left_behind():
    """The private HASH_THRESHOLD is GX's own (the batch fingerprint is paid: docs/performance.md), and
    the configured results store keeps nothing (nothing written under include/gx/uncommitted)."""
    from great_expectations.execution_engine import pandas_execution_engine

    quality.validate_rows(dirty(), KNOWN)
    assert pandas_execution_engine.HASH_THRESHOLD == 1e9
    store = quality.gx_context().validation_results_store
    assert type(store).__name__ == "DiscardingValidationResultsStore" and not store.list_keys()
    assert not (quality.GX_PROJECT_ROOT / "gx" / "uncommitted" / "validations").exists()
