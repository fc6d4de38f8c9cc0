"""Extraction through the real SQLite ODBC driver, then the GE rules, checked against the sample's
own oracle (the generator's manifest says what each row should become and why)."""
from __future__ import annotations

from collections import Counter

from include.budget_import import quality
from include.budget_import.reshape import classify, extracted_frame, reshape
from include.budget_import.spectrum_source import cost_types, find_job, iter_budget_lines, readiness_facts


def _jobs_with_lines(manifest):
    return [j for j in manifest["jobs"] if j["in_spectrum"] and j["lines"]]


def test_every_extracted_row_gets_the_outcome_and_reason_the_oracle_expects(demo_sample, spectrum_conn):
    manifest = demo_sample.manifest()
    checked = 0
    for job_spec in _jobs_with_lines(manifest):
        job = find_job(spectrum_conn, job_spec["company_code"], job_spec["job_number"])
        assert job is not None, job_spec["job_number"]
        frame = extracted_frame(iter_budget_lines(spectrum_conn, job))
        assert len(frame) == len(job_spec["lines"])
        reasons = quality.validate_rows(frame, list(cost_types(spectrum_conn, job.company_code))).reasons
        result = reshape(frame, reasons)
        got = Counter(
            (row.phase_code if isinstance(row.phase_code, str) else None, row.cost_type if isinstance(row.cost_type, str) else None, row.outcome,
             row.reason if isinstance(row.reason, str) else None)
            for row in classify(frame, reasons).itertuples()
        )
        want = Counter((line["phase_code"] or None, line["cost_type"] or None, line["expected_outcome"], line["reason"]) for line in job_spec["lines"])
        assert got == want, f"job {job_spec['company_code']}/{job_spec['job_number']}"
        budget = {f"{r.cost_code}|{r.cost_type}": f"{r.amount:f}" for r in result.line_items.itertuples()}
        if job_spec["expected_status"] == "ready":
            assert budget == job_spec["expected_budget"]
        checked += len(frame)
    assert checked == sum(len(j["lines"]) for j in _jobs_with_lines(manifest))


def test_counts_add_up_every_row_is_loaded_skipped_or_rejected(demo_sample, spectrum_conn):
    for job_spec in _jobs_with_lines(demo_sample.manifest()):
        job = find_job(spectrum_conn, job_spec["company_code"], job_spec["job_number"])
        frame = extracted_frame(iter_budget_lines(spectrum_conn, job))
        result = reshape(frame, quality.validate_rows(frame, list(cost_types(spectrum_conn, job.company_code))).reasons)
        assert sum(result.outcomes.values()) == len(frame)
        assert result.outcomes["line_item"] == len(result.line_items)
        assert result.outcomes["skipped"] + result.outcomes["rejected"] == len(result.left_out)
        assert Counter(result.left_out["outcome"]) == {k: n for k, n in result.outcomes.items() if k != "line_item" and n}


def test_padded_job_numbers_are_found_by_their_trimmed_number(demo_sample, spectrum_conn):
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["in_spectrum"] and j["job_number_raw"] != j["job_number"])
    job = find_job(spectrum_conn, spec["company_code"], spec["job_number"])
    assert job is not None
    assert job.stored_job_number == spec["job_number_raw"]
    assert job.job_number == spec["job_number"]


def test_readiness_facts_match_the_oracle(demo_sample, spectrum_conn):
    for spec in demo_sample.manifest()["jobs"]:
        if not spec["in_spectrum"]:
            continue
        facts = readiness_facts(spectrum_conn, find_job(spectrum_conn, spec["company_code"], spec["job_number"]))
        assert facts.estimates_posted == (not spec["has_unposted_estimates"]), spec["job_number"]
        assert facts.budget_locked == (spec["lock_estimate_entry"] == "Y"), spec["job_number"]


def test_injection_in_a_job_number_is_harmless(spectrum_conn):
    hostile = "1'; DROP TABLE JC_PHASE_MASTER_MC; --"
    assert find_job(spectrum_conn, "01", hostile) is None
    cursor = spectrum_conn.cursor()
    cursor.execute("SELECT COUNT(*) FROM JC_PHASE_MASTER_MC")
    assert cursor.fetchone()[0] > 0
