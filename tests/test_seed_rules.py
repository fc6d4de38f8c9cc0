"""One test per rule and prerequisite of Procore's article (mission/seed-import-spectrum-budget.txt),
each a real run of the pipeline: the sample Spectrum database through the SQLite ODBC driver, the
Procore emulator over HTTP. Expectations come from the sample's oracle manifest."""
from __future__ import annotations

from collections import Counter

import pyodbc
import pytest
import requests

from include.budget_import import job_status_store
from include.budget_import.artifacts import RunFolder
from include.budget_import.pipeline import JobRequest, import_job
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient


@pytest.fixture()
def run_job(demo_sample, emulator, tmp_path):
    emulator.reset()

    def run(company: str, job: str, mode: str = "override", dry_run: bool = False, client=("demo-client", "demo-secret")) -> dict:
        api = ProcoreBudgetApi(ProcoreClient(session=requests.Session(), api_base=emulator.url, login_url=emulator.url,
                                             client_id=client[0], client_secret=client[1]))
        company_id = 1001 if company == "01" else 1002
        with pyodbc.connect(demo_sample.odbc) as spectrum:
            return import_job(spectrum, api, JobRequest(company, job, company_id, mode, dry_run),
                              RunFolder(f"test-{company}-{job}-{mode}", root=tmp_path).job(company, job))

    return run


def spec_with(manifest, **match):
    return next(j for j in manifest["jobs"] if all(j.get(k) == v for k, v in match.items()))


def assert_blocked(result, reason, emulator, spec):
    assert (result["status"], result["reason"]) == ("blocked", reason)
    assert emulator.writes() == []
    if spec.get("procore_project_id"):
        assert emulator.budget(spec["procore_project_id"]) == spec["existing_procore_budget"]


def test_prerequisite_estimate_entries_must_be_posted(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), blocked_reason="estimates_not_posted")
    result = run_job(spec["company_code"], spec["job_number"])
    assert_blocked(result, "estimates_not_posted", emulator, spec)
    assert "post them" in result["message"]


def test_prerequisite_the_job_must_exist_in_spectrum_and_a_mistyped_one_names_its_near_matches(run_job, demo_sample, emulator):
    """'O1' typed for company '01' (issue 15): blocked as job_not_found, naming the companies that have job 19.50."""
    result = run_job("O1", "19.50")
    assert_blocked(result, "job_not_found", emulator, spec_with(demo_sample.manifest(), company_code="01", job_number="19.50"))
    assert "Near matches: job 19.50 exists in company 01; job 19.50 exists in company 02." in result["message"]


def test_prerequisite_budget_must_be_finalized_and_locked_in_spectrum(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), blocked_reason="budget_not_locked")
    assert_blocked(run_job(spec["company_code"], spec["job_number"]), "budget_not_locked", emulator, spec)


def test_prerequisite_budget_tool_must_be_active_on_the_project(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), blocked_reason="budget_tool_inactive")
    assert_blocked(run_job(spec["company_code"], spec["job_number"]), "budget_tool_inactive", emulator, spec)


def test_prerequisite_job_must_be_added_and_synced_with_a_procore_project(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), blocked_reason="not_linked")
    assert_blocked(run_job(spec["company_code"], spec["job_number"]), "not_linked", emulator, spec)


def test_prerequisite_procore_budget_must_be_unlocked(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), blocked_reason="procore_budget_locked")
    result = run_job(spec["company_code"], spec["job_number"])
    assert_blocked(result, "procore_budget_locked", emulator, spec)
    assert "unlock it first" in result["message"]


def test_prerequisite_unlocking_the_procore_budget_lets_the_import_run(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), blocked_reason="procore_budget_locked")
    requests.put(f"{emulator.url}/_emulator/projects/{spec['procore_project_id']}", json={"budget_locked": False}, timeout=10).raise_for_status()
    result = run_job(spec["company_code"], spec["job_number"])
    assert result["status"] == "synced"
    assert emulator.budget(spec["procore_project_id"]) == {f"{line['phase_code']}|{line['cost_type']}": line["budget_amount"]
                                                           for line in spec["lines"] if line["expected_outcome"] == "line_item"}


def test_prerequisite_standard_permission_is_required(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), company_code="01", job_number="20.01")
    result = run_job("01", "20.01", client=("viewer-client", "viewer-secret"))
    assert (result["status"], result["reason"]) == ("blocked", "no_permission")
    assert emulator.budget(spec["procore_project_id"]) == spec["existing_procore_budget"]
    assert [w for w in emulator.writes() if w["status"] < 400] == [], "a read-only client must not change anything"


def test_rule_only_items_with_a_job_to_date_cost_or_an_original_estimate_are_imported(run_job, demo_sample, emulator, tmp_path):
    spec = spec_with(demo_sample.manifest(), company_code="01", job_number="20.02")
    neither = [line for line in spec["lines"] if line["reason"] == "no_estimate_or_cost"]
    assert neither, "the sample must carry lines with neither an estimate nor a JTD cost"
    result = run_job("01", "20.02")
    budget = emulator.budget(spec["procore_project_id"])
    assert all(f"{line['phase_code']}|{line['cost_type']}" not in budget for line in neither)
    rejects = (tmp_path / "runs" / "test-01-20.02-override" / "01_20.02" / "rejects.csv").read_text()
    assert all(line["phase_code"] in rejects for line in neither)
    assert result["stages"]["validate"]["by_reason"]["no_estimate_or_cost"] == len(neither)


def test_rule_an_estimate_must_be_greater_than_zero_to_create_a_budget_line_item(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), company_code="01", job_number="20.02")
    zero_with_cost = [line for line in spec["lines"] if line["reason"] == "estimate_not_positive"]
    assert zero_with_cost
    run_job("01", "20.02")
    budget = emulator.budget(spec["procore_project_id"])
    assert all(f"{line['phase_code']}|{line['cost_type']}" not in budget for line in zero_with_cost)
    # ...but the cost code exists, so the job-to-date cost has somewhere to land
    api = ProcoreBudgetApi(ProcoreClient(session=requests.Session(), api_base=emulator.url, login_url=emulator.url,
                                         client_id="demo-client", client_secret="demo-secret"))
    codes = {c["code"] for c in api.cost_codes(1001, spec["procore_project_id"])}
    assert {line["phase_code"] for line in zero_with_cost} <= codes
    assert budget == spec["expected_budget"]


def test_rule_every_extracted_row_is_loaded_skipped_or_rejected_with_its_reason(run_job, demo_sample, emulator):
    for company, job in (("01", "20.01"), ("02", "4440"), ("01", "20.02")):
        spec = spec_with(demo_sample.manifest(), company_code=company, job_number=job)
        result = run_job(company, job)
        shaped = result["stages"]["reshape"]
        assert shaped["line_items"] + shaped["skipped"] + shaped["rejected"] == result["stages"]["extract"]["extracted"] == len(spec["lines"])
        assert Counter(result["stages"]["validate"]["by_reason"]) == Counter(line["reason"] for line in spec["lines"] if line["reason"])
        assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"]


def test_option_override_existing_line_items(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), company_code="01", job_number="19.50")
    result = run_job("01", "19.50", "override")
    assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"]
    assert result["stages"]["load"]["reconciled"] is True


def test_option_keep_existing_line_items_and_add_additional_cost_estimates(run_job, demo_sample, emulator):
    spec = spec_with(demo_sample.manifest(), company_code="01", job_number="19.50")
    run_job("01", "19.50", "additive")
    budget = emulator.budget(spec["procore_project_id"])
    assert budget == spec["expected_budget_keep_existing"]
    for key, amount in spec["existing_procore_budget"].items():
        assert budget[key] == amount, "an existing line must stay untouched"


def test_option_review_a_pdf_of_the_existing_line_items_before_choosing(run_job, demo_sample, emulator, tmp_path):
    run_job("01", "19.50", "override")
    pdf = tmp_path / "runs" / "test-01-19.50-override" / "01_19.50" / "snapshot.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")


def test_rule_a_dry_run_lists_the_job_as_ready_to_import_and_writes_nothing(run_job, demo_sample, emulator, tmp_path):
    result = run_job("01", "20.01", dry_run=True)
    assert result["status"] == "dry_run"
    assert emulator.writes() == []
    status = job_status_store.read_status("01", "20.01", root=RunFolder("x", root=tmp_path).root)
    assert status["status"] == "ready"
