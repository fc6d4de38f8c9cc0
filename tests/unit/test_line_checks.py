"""The load task's line checks without Great Expectations (include/budget_import/line_checks.py): the
same results as GX's run of the same saved suites, on the same frames; and a whole load, in a fresh
process, never imports GX. Also the reconciliation report: the lines that differ, counts, and each cost
type's totals as exact text."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyodbc
import pytest
import requests

from include.budget_import import handoff, line_checks, quality, totals
from include.budget_import.artifacts import RunFolder
from include.budget_import.pipeline import JobRequest, reconcile
from include.budget_import.plan import DesiredLine, ExistingLine, plan_merge
from include.budget_import.prepare import prepare_jobs
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
MAPPING = ["cost_code", "cost_type", "cost_code_id", "line_item_type_id"]
RECONCILED = ["cost_code", "cost_type", "spectrum_amount", "procore_amount"]

LINE_ITEM_FRAMES = {
    "all pass": pd.DataFrame([["01-100", "L", 11, 61], ["01-100", "M", 11, 62], ["02-200", "L", 12, 61]], columns=MAPPING),
    "a missing cost code id": pd.DataFrame([["01-100", "L", 11, 61], ["02-200", "L", None, 61], ["03-300", "S", 13, None]], columns=MAPPING),
    "a duplicate combination": pd.DataFrame([["01-100", "L", 11, 61], ["02-200", "M", 12, 62], ["01-100", "L", 11, 61]], columns=MAPPING),
    "a dry run's new ids": pd.DataFrame([["01-100", "L", "(to be created)", 61], ["02-200", "E", 12, "(to be created)"]], columns=MAPPING),
    "missing keys": pd.DataFrame([["01", None, 1.0, 5], [None, None, float("nan"), 6], [None, None, 3, 7], ["02", None, 4, 8],
                                  [None, "M", 5, 9], ["02", None, 6, 10]], columns=MAPPING),
    "more failures than the sample": pd.DataFrame([[f"{n:02d}", "L", None, None] for n in range(25)] * 2, columns=MAPPING),
    "empty": pd.DataFrame(columns=MAPPING),
}
RECONCILIATION_FRAMES = {
    "all pass": pd.DataFrame([["01-100", "L", "100.00", "100.00"], ["02-200", "M", "250.10", "250.10"]], columns=RECONCILED),
    "a differing amount": pd.DataFrame([["01-100", "L", "100.00", "100.00"], ["02-200", "M", "250.10", "250.09"]], columns=RECONCILED),
    "a missing Procore line": pd.DataFrame([["01-100", "L", "100.00", None], ["02-200", "M", "250.10", "250.10"]], columns=RECONCILED),
    "missing values": pd.DataFrame([["a", "L", None, None], ["b", "L", "1.00", None], ["c", "L", float("nan"), float("nan")],
                                    ["d", "L", None, "2.00"], ["e", "L", "1.0", "1.00"]], columns=RECONCILED),
    "empty": pd.DataFrame(columns=RECONCILED),
}


def _dicts(results: list[quality.ExpectationResult]) -> list[dict]:
    return [r.as_dict() for r in results]


@pytest.fixture(scope="module")
def gx_path():
    pytest.importorskip("great_expectations")
    return quality


@pytest.mark.parametrize("name", list(LINE_ITEM_FRAMES))
def test_line_item_checks_equal_gx(gx_path, name):
    frame = LINE_ITEM_FRAMES[name]
    ours = _dicts(line_checks.validate_line_items(frame))
    assert ours == _dicts(gx_path.validate_line_items(frame))
    if name != "empty":
        assert [r["rule"] for r in ours] == ["mapped_cost_code", "mapped_line_item_type", "unique_combination"]
    assert all(r["success"] for r in ours) == (name in ("all pass", "a dry run's new ids", "empty"))


@pytest.mark.parametrize("name", list(RECONCILIATION_FRAMES))
def test_reconciliation_check_equals_gx(gx_path, name):
    frame = RECONCILIATION_FRAMES[name]
    ours = _dicts(line_checks.validate_reconciliation(frame))
    assert ours == _dicts(gx_path.validate_reconciliation(frame))
    assert all(r["success"] for r in ours) == (name in ("all pass", "empty"))


def test_failures_name_the_rows_and_the_suite_file_gives_the_rules():
    dup, missing = (line_checks.validate_line_items(LINE_ITEM_FRAMES[n]) for n in ("a duplicate combination", "a missing cost code id"))
    assert dup[2].as_dict()["failing_rows_sample"] == [{"cost_code": "01-100", "cost_type": "L", "line_id": 0},
                                                       {"cost_code": "01-100", "cost_type": "L", "line_id": 2}]
    assert (missing[0].unexpected_count, missing[0].failing_rows) == (1, [{"cost_code_id": None, "line_id": 1}])
    suite = json.loads((quality.GX_PROJECT_ROOT / "gx" / "expectations" / "procore_line_items.json").read_text(encoding="utf-8"))
    assert [(e.type, e.kwargs, e.reason) for e in line_checks.saved_expectations(quality.LINE_ITEMS_SUITE)] == \
        [(e["type"], e["kwargs"], e["meta"]["reason"]) for e in suite["expectations"]]


def test_an_expectation_type_or_kwarg_not_implemented_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(line_checks, "SUITES_DIR", tmp_path)
    line_checks.saved_expectations.cache_clear()
    try:
        (tmp_path / "odd.json").write_text(json.dumps({"expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0}, "meta": {"reason": "r"}}]}))
        with pytest.raises(line_checks.UnsupportedExpectationError, match="expect_column_values_to_be_between"):
            line_checks.run_saved_suite(pd.DataFrame({"x": [1]}), "odd")
        (tmp_path / "mostly.json").write_text(json.dumps({"expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x", "mostly": 0.9}, "meta": {"reason": "r"}}]}))
        with pytest.raises(line_checks.UnsupportedExpectationError, match="mostly"):
            line_checks.run_saved_suite(pd.DataFrame({"x": [1]}), "mostly")
    finally:
        line_checks.saved_expectations.cache_clear()


# --- the reconciliation report: changes and counts, not every unchanged line ----------------------
DESIRED = [DesiredLine("01-100", "L", D("100.00")), DesiredLine("02-200", "M", D("250.10")), DesiredLine("03-300", "L", D("0.05"))]


def test_reconciliation_lists_only_lines_that_are_not_equal_and_totals_each_cost_type_exactly():
    plan = plan_merge(DESIRED, [], "override")
    final = [ExistingLine(1, "01-100", "L", D("100.00")), ExistingLine(2, "02-200", "M", D("250.09")),
             ExistingLine(3, "03-300", "L", D("0.05")), ExistingLine(4, "09-900", "L", D("7.00"))]
    report = reconcile(DESIRED, final, plan, dry_run=False)
    assert [(line["cost_code"], line["outcome"]) for line in report["lines"]] == [("02-200", totals.DIFFERS), ("09-900", totals.NOT_DELETED)]
    assert (report["line_count"], report["equal_lines"], report["checked_lines"]) == (4, 2, 4)
    assert report["by_cost_type"] == {"L": {"spectrum": "100.05", "procore": "107.05", "lines": 3},
                                      "M": {"spectrum": "250.10", "procore": "250.09", "lines": 1}}
    assert report["differences"] == {"differs": {"lines": 1, "amount": "-0.01"}, "not_deleted": {"lines": 1, "amount": "7.00"}}
    assert report["success"] is False and report["expectations"][0]["unexpected_count"] == 1
    assert report["expectations"][0]["element_count"] == 3, "every checked Spectrum line is checked, the equal ones too"


def test_unchanged_reconciliation_is_counts_and_totals_only():
    same = [ExistingLine(n, d.cost_code, d.cost_type, d.amount) for n, d in enumerate(DESIRED)]
    for mode in ("override", "additive"):
        for dry_run in (False, True):
            report = reconcile(DESIRED, same, plan_merge(DESIRED, same, mode), dry_run=dry_run)
            assert report["lines"] == [] and (report["line_count"], report["equal_lines"]) == (3, 3), (mode, dry_run)
            assert report["by_cost_type"]["L"] == {"spectrum": "100.05", "procore": "100.05", "lines": 2}
    assert reconcile(DESIRED, same, plan_merge(DESIRED, same, "override"), dry_run=False)["headline"] == "Procore equals Spectrum on the 3 lines compared"


def test_additive_reconciliation_lists_kept_lines_and_procore_only_lines():
    existing = [ExistingLine(1, "01-100", "L", D("90.00")), ExistingLine(9, "09-900", "S", D("5.00"))]
    plan = plan_merge(DESIRED, existing, "additive")
    final = existing + [ExistingLine(2, "02-200", "M", D("250.10")), ExistingLine(3, "03-300", "L", D("0.05"))]
    report = reconcile(DESIRED, final, plan, dry_run=False)
    assert [(line["cost_code"], line["outcome"], line["checked"]) for line in report["lines"]] == \
        [("01-100", totals.KEPT_BY_CHOICE, False), ("09-900", totals.PROCORE_ONLY, False)]
    assert report["success"] is True and report["checked_lines"] == 2 and report["equal_lines"] == 2
    assert report["by_cost_type"]["S"] == {"spectrum": None, "procore": "5.00", "lines": 1}


# --- a whole load in a fresh process: no GX -----------------------------------------------------
LOAD_ONLY = """
import json, sys
spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
imported_before = "great_expectations" in sys.modules
import requests
from include.budget_import import handoff, pipeline
from include.budget_import.artifacts import RunFolder
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
after_imports = "great_expectations" in sys.modules
handoff._IN_PROCESS[spec["prepared"]["load_input"]["key"]] = spec["payload"]  # what the prepare task's XCom carries
client = ProcoreClient(session=requests.Session(), api_base=spec["url"], login_url=spec["url"], client_id="demo-client", client_secret="demo-secret")
folder = RunFolder(spec["run_id"], root=spec["root"]).job(*spec["job"])
result = pipeline.load_prepared(ProcoreBudgetApi(client), spec["prepared"], folder)
print(json.dumps({"before": imported_before, "after_imports": after_imports, "after_load": "great_expectations" in sys.modules,
                  "gx_modules": sorted(m for m in sys.modules if m.startswith("great_expectations"))[:5],
                  "status": result["status"], "plan": result["stages"]["load"]["plan"]}))
"""


def test_a_whole_load_in_a_fresh_process_never_imports_great_expectations(demo_sample, emulator, tmp_path):
    """The prepare runs here (it may import GX); the load task's part runs alone in a new interpreter,
    handed the prepared job and its load input as the prepare task's XCom would hand them."""
    emulator.reset()
    api = ProcoreBudgetApi(ProcoreClient(session=requests.Session(), api_base=emulator.url, login_url=emulator.url,
                                         client_id="demo-client", client_secret="demo-secret"))
    run = RunFolder("no-gx-load", root=tmp_path / "reports")
    with pyodbc.connect(demo_sample.odbc) as spectrum:
        batch = prepare_jobs(spectrum, api, [JobRequest("01", "19.50", 1001, "override", False)], run)
    assert batch.failed == [] and batch.blocked == [] and len(batch.prepared) == 1
    prepared = batch.prepared[0]
    spec = {"prepared": prepared, "payload": handoff._IN_PROCESS[prepared["load_input"]["key"]], "url": emulator.url,
            "run_id": run.run_id, "root": str(run.root), "job": ["01", "19.50"]}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", LOAD_ONLY, str(tmp_path / "spec.json")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "synced" and sum(out["plan"][k] for k in ("create", "update", "delete")) > 0, out
    assert (out["before"], out["after_imports"], out["after_load"]) == (False, False, False), out
    checks = json.loads(run.job("01", "19.50").file("line_item_validation.json").read_text(encoding="utf-8"))
    assert [c["rule"] for c in checks] == ["mapped_cost_code", "mapped_line_item_type", "unique_combination"] and all(c["success"] for c in checks)
    handoff.discard_in_process(prepared["load_input"])
