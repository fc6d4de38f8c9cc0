"""The figures and words an accountant reconciles a job by, on real runs (the sample Spectrum database
through the SQLite ODBC driver, the Procore emulator over HTTP): Spectrum's total is every extracted row,
its parts add up to the cent, Procore's total and the difference are Procore's, and the reconciliation
names every difference with its amount. Expectations come from the sample's oracle manifest."""
from __future__ import annotations

import csv
import json
from decimal import Decimal, InvalidOperation

import pyodbc
import pytest
import requests

from include.budget_import import job_status_store
from include.budget_import.artifacts import RunFolder
from include.budget_import.dag_tasks import summarise, summary_lines
from include.budget_import.job_states import state_label, state_of
from include.budget_import.pipeline import JobRequest, import_job
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient


@pytest.fixture()
def run_job(demo_sample, emulator, tmp_path):
    emulator.reset()

    def run(company: str, job: str, mode: str = "override", dry_run: bool = False) -> tuple[dict, RunFolder]:
        api = ProcoreBudgetApi(ProcoreClient(session=requests.Session(), api_base=emulator.url, login_url=emulator.url,
                                             client_id="demo-client", client_secret="demo-secret"))
        company_id = 1001 if company == "01" else 1002
        run = RunFolder(f"test-{company}-{job}-{mode}-{dry_run}", root=tmp_path)
        with pyodbc.connect(demo_sample.odbc) as spectrum:
            return import_job(spectrum, api, JobRequest(company, job, company_id, mode, dry_run), run.job(company, job)), run

    return run


def manifest_job(manifest: dict, company: str, job: str) -> dict:
    return next(j for j in manifest["jobs"] if (j["company_code"], j["job_number"]) == (company, job))


def oracle_totals(spec: dict) -> dict[str, Decimal]:
    """Spectrum's estimates by outcome, as the manifest holds them (a value that is no number is not counted)."""
    out = {"line_item": Decimal(0), "skipped": Decimal(0), "rejected": Decimal(0)}
    for line in spec["lines"]:
        try:
            amount = Decimal(str(line["original_estimate"] or 0))
        except InvalidOperation:
            continue
        if amount.is_finite() and str(line["original_estimate"] or "0").isascii():
            out[line["expected_outcome"]] += amount
    return out


def test_spectrums_total_is_every_extracted_row_and_a_job_with_rejects_is_synced_with_exceptions(run_job, demo_sample, emulator):
    spec = manifest_job(demo_sample.manifest(), "01", "20.01")
    assert spec["line_counts"]["rejected"] > 0, "the sample's 01/20.01 carries rejected rows"
    result, run = run_job("01", "20.01")
    totals, want = result["totals"], oracle_totals(spec)
    assert Decimal(totals["line_items"]) == want["line_item"] == sum(Decimal(v) for v in spec["expected_budget"].values())
    assert Decimal(totals["rejected"]) == want["rejected"] > 0
    assert Decimal(totals["spectrum"]) == want["line_item"] + want["skipped"] + want["rejected"]
    procore = sum(Decimal(v) for v in emulator.budget(spec["procore_project_id"]).values())
    assert Decimal(totals["procore"]) == procore
    assert Decimal(totals["difference"]) == procore - Decimal(totals["spectrum"]) == -want["rejected"]

    assert result["status"] == "synced" and state_of(result) == "synced_exceptions" and state_label(result) == "Synced with exceptions"
    lines = summary_lines(summarise([result]))
    assert lines[0].startswith("01/20.01") and "SYNCED WITH EXCEPTIONS" in lines[0]
    assert f"rejected ${want['rejected']:,.2f}" in lines[1] and f"difference -${want['rejected']:,.2f}" in lines[1]
    status = job_status_store.read_status("01", "20.01", root=run.root)
    assert status["totals"] == totals, "the Budgets page reads the same figures"


def test_override_reconciliation_says_what_it_compared_and_that_procore_equals_spectrum(run_job, demo_sample, emulator):
    spec = manifest_job(demo_sample.manifest(), "01", "19.50")
    result, run = run_job("01", "19.50", "override")
    rc = json.loads(run.job("01", "19.50").file("reconciliation.json").read_text(encoding="utf-8"))
    assert rc["success"] is True and rc["differences"] == {}
    assert rc["checked_lines"] == len(spec["expected_budget"])
    assert rc["headline"] == f"Procore equals Spectrum on the {len(spec['expected_budget'])} lines compared"
    assert "every Procore line Spectrum has not" in rc["compared"]
    assert result["totals"]["difference"] == "0.00" and state_of(result) == "synced"


def test_additive_keeps_are_shown_as_differences_kept_by_choice_with_their_amounts(run_job, demo_sample, emulator):
    spec = manifest_job(demo_sample.manifest(), "01", "19.50")
    existing, spectrum = spec["existing_procore_budget"], spec["expected_budget"]
    differing = {k: Decimal(existing[k]) - Decimal(spectrum[k]) for k in existing if k in spectrum and existing[k] != spectrum[k]}
    procore_only = {k: Decimal(v) for k, v in existing.items() if k not in spectrum}
    assert differing and procore_only, "the sample's 01/19.50 has Procore lines that differ from Spectrum and lines Spectrum lacks"

    result, run = run_job("01", "19.50", "additive")
    rc = json.loads(run.job("01", "19.50").file("reconciliation.json").read_text(encoding="utf-8"))
    assert rc["success"] is True, "additive keeps Procore's lines by design: not a failure"
    assert rc["differences"] == {
        "kept_by_choice": {"lines": len(differing), "amount": f"{sum(differing.values()):.2f}"},
        "procore_only": {"lines": len(procore_only), "amount": f"{sum(procore_only.values()):.2f}"},
    }
    kept = f"{len(differing)} line{'s' if len(differing) > 1 else ''} differ{'' if len(differing) > 1 else 's'}, kept by choice"
    assert kept in rc["headline"] and "Procore equals Spectrum" in rc["headline"], rc["headline"]
    assert f"(-${-sum(differing.values()):,.2f})" in rc["headline"]
    by_key = {f"{line['cost_code']}|{line['cost_type']}": line for line in rc["lines"]}
    for key, delta in differing.items():
        assert (by_key[key]["outcome"], Decimal(by_key[key]["difference"])) == ("kept_by_choice", delta), key
    assert result["reconciliation"] == rc["headline"]
    procore = sum(Decimal(v) for v in emulator.budget(spec["procore_project_id"]).values())
    assert Decimal(result["totals"]["difference"]) == procore - Decimal(result["totals"]["spectrum"]) != 0


def test_plan_and_rejects_name_cost_codes_and_cost_types(run_job, demo_sample):
    result, run = run_job("01", "20.01")
    folder = run.job("01", "20.01")
    plan = json.loads(folder.file("plan.json").read_text(encoding="utf-8"))
    types = plan["names"]["cost_types"]
    assert types.get("L") == "Labor" or all(name and name != code for code, name in types.items()), types
    created = plan["create"][0]
    assert plan["names"]["cost_codes"][created["cost_code"]], "a created line's cost code has its Spectrum description"
    with folder.file("rejects.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and "cost_type_name" in rows[0]
    assert all(row["cost_type_name"] == types.get(row["cost_type"], "") for row in rows if row["cost_type"])


def test_a_blocked_job_records_the_mode_and_dry_run_it_ran_with(run_job, demo_sample):
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["blocked_reason"] == "procore_budget_locked")
    result, run = run_job(spec["company_code"], spec["job_number"], "additive", dry_run=True)
    assert (result["status"], result["mode"], result["dry_run"]) == ("blocked", "additive", True)
    assert result["run_id"] == run.run_id
