"""The nightly prepares jobs in batches (one validation and one reshape per batch); each job must get
exactly what preparing it alone gives: the same reports, the same load input, the same figures. Real
runs: the sample Spectrum database through the SQLite ODBC driver, the Procore emulator over HTTP."""
from __future__ import annotations

import json

import pandas as pd
import pyodbc
import pytest
import requests

from include.budget_import import quality
from include.budget_import.artifacts import RunFolder
from include.budget_import.dag_tasks import job_batches
from include.budget_import.handoff import read_load_input
from include.budget_import.pipeline import JobRequest
from include.budget_import.prepare import job_specific, prepare_jobs
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from include.budget_import.procore.errors import ProcoreAuthError, ProcoreNotFoundError, ProcoreUnavailableError
from include.budget_import.reshape import reshape, reshape_many
from include.budget_import.spectrum_source import SpectrumDataError, SpectrumError
from include.budget_import.sql_files import load_sql
from tests.spectrum_extract.test_sql_files import _RecordingConnection
from tests.unit.test_validate_many import KNOWN, jobs

COMPANY_IDS = {"01": 1001, "02": 1002}


def api_for(url: str) -> ProcoreBudgetApi:
    return ProcoreBudgetApi(ProcoreClient(session=requests.Session(), api_base=url, login_url=url, client_id="demo-client", client_secret="demo-secret"))


def test_reshaping_many_jobs_at_once_gives_each_job_what_reshaping_it_alone_gives():
    frames = jobs()
    reasons = [quality.validate_rows(f, KNOWN).reasons for f in frames.values()]
    together = reshape_many(list(frames.values()), reasons)
    for (name, frame), job_reasons, batch in zip(frames.items(), reasons, together, strict=True):
        alone = reshape(frame, job_reasons)
        for part in ("line_items", "cost_codes", "left_out"):
            # (an empty job's frames are empty either way; their column types come from the batch)
            pd.testing.assert_frame_equal(getattr(batch, part), getattr(alone, part), obj=f"{name}.{part}", check_dtype=len(frame) > 0)
        assert batch.outcomes == alone.outcomes, name
        assert sum(batch.outcomes.values()) == len(frame)
    dirty = together[list(frames).index("dirty")]
    assert dirty.outcomes == {"line_item": 1, "skipped": 2, "rejected": 8}
    assert list(dirty.line_items["cost_code"]) == ["01-800"]


def test_reshape_many_refuses_row_ids_that_are_not_positions():
    frame = jobs()["clean"]
    shuffled = frame.assign(row_id=frame["row_id"] + 1)
    with pytest.raises(ValueError, match="row_id must be each row's position"):
        reshape_many([frame, shuffled], [{}, {}])


def test_errors_of_one_job_are_told_apart_from_errors_that_may_pass():
    assert job_specific(SpectrumDataError("two jobs numbered 19.50"))
    assert job_specific(ProcoreNotFoundError(404, "no such project", project_id=5))
    assert not job_specific(ProcoreAuthError(401, "bad secret")), "refused credentials concern every job"
    assert not job_specific(ProcoreUnavailableError(503, "down"))
    assert not job_specific(SpectrumError("01", "19.50", "extract", OSError("connection reset")))


def test_jobs_are_batched_per_company_at_most_the_batch_size():
    found = [{"company_code": c, "job_number": j, "procore_company_id": COMPANY_IDS[c]} for c, j in
             [("01", "10.00"), ("01", "11.00"), ("01", "12.00"), ("02", "500"), ("01", "13.00")]]
    batches = job_batches(found, 2)
    assert [[j["job_number"] for j in b["jobs"]] for b in batches] == [["10.00", "11.00"], ["12.00", "13.00"], ["500"]]
    assert [b["label"] for b in batches] == ["01 jobs 10.00..11.00", "01 jobs 12.00..13.00", "02 job 500"]
    assert [b["company_code"] for b in batches] == ["01", "01", "02"]


def test_a_batch_refuses_two_jobs_with_one_key():
    from airflow.sdk.exceptions import AirflowFailException

    jobs = [{"company_code": "01", "job_number": j, "procore_company_id": COMPANY_IDS["01"]} for j in ("77 01", "77/01", "77_01")]
    assert len(job_batches(jobs, 10)[0]["jobs"]) == 3  # look-alikes are distinct jobs
    with pytest.raises(AirflowFailException, match="would share the report folder"):
        job_batches(jobs + jobs[:1], 10)


def _folder_contents(folder, prepared) -> dict:
    validation = json.loads(folder.file("validation.json").read_text())
    load_input = read_load_input(prepared["load_input"])
    if load_input is not None:  # when it was prepared differs, nothing else may
        assert load_input.identity.pop("prepared_at")
    return {
        "validation": validation,
        "rejects": folder.file("rejects.csv").read_text() if folder.file("rejects.csv").is_file() else None,
        "load_input": load_input,
    }


def test_a_batch_of_every_demo_job_prepares_each_job_as_if_it_were_alone(demo_sample, emulator, tmp_path):
    emulator.reset()
    manifest = demo_sample.manifest()
    requests_ = [JobRequest(j["company_code"], j["job_number"], COMPANY_IDS[j["company_code"]])
                 for j in manifest["jobs"] if j["in_spectrum"] and j["company_code"] in COMPANY_IDS]
    batch_run, alone_run = RunFolder("batch", root=tmp_path), RunFolder("alone", root=tmp_path)
    api = api_for(emulator.url)
    with pyodbc.connect(demo_sample.odbc) as spectrum:
        recorded = _RecordingConnection(spectrum)
        batch = prepare_jobs(recorded, api, requests_, batch_run, rows_per_validation=40)  # several validations
        alone = [prepare_jobs(spectrum, api, [r], alone_run) for r in requests_]
    # each company's forms of job numbers in its transactions are read once for the batch, not once a job
    forms_read = [params for sql, params in recorded.calls if sql == load_sql("transaction_job_numbers")]
    assert sorted(forms_read) == [[code] for code in sorted({r.company_code for r in requests_})]
    assert sum(sql == load_sql("budget_lines") for sql, _ in recorded.calls) > len(forms_read)
    assert emulator.writes() == [], "preparing writes nothing to Procore"
    assert batch.failed == []
    # the same jobs are ready, blocked (with the same reasons) as when prepared one by one
    assert [p["request"] for p in batch.prepared] == [p["request"] for a in alone for p in a.prepared]
    blocked_alone = [(b["job_number"], b["reason"], b["message"]) for a in alone for b in a.blocked]
    assert sorted((b["job_number"], b["reason"], b["message"]) for b in batch.blocked) == sorted(blocked_alone)
    assert {reason for _, reason, _ in blocked_alone} >= {"estimates_not_posted", "budget_not_locked", "not_linked"}
    ready = {j["job_number"] for j in manifest["jobs"] if j["expected_status"] == "ready"}
    assert ready <= {p["request"]["job_number"] for p in batch.prepared}
    by_job = {(p["request"]["company_code"], p["request"]["job_number"]): p for p in batch.prepared}
    for single in alone:
        for prepared in single.prepared:
            key = (prepared["request"]["company_code"], prepared["request"]["job_number"])
            together = by_job[key]
            assert together["ready"] == prepared["ready"], key
            assert together["load_input"]["key"].endswith(batch_run.job(*key).path.name), "the prepared job names its own input"
            for stage in ("extract", "validate", "reshape"):  # the figures, without the timings
                strip = lambda d: {k: v for k, v in d.items() if "seconds" not in k}  # noqa: E731
                assert strip(together["stages"][stage]) == strip(prepared["stages"][stage]), (key, stage)
            assert _folder_contents(batch_run.job(*key), together) == _folder_contents(alone_run.job(*key), prepared), key
    # and every extracted row of a ready job is a line item, skipped or rejected, as the oracle says
    for spec in manifest["jobs"]:
        key = (spec["company_code"], spec["job_number"])
        if spec["expected_status"] != "ready":
            continue
        shaped = by_job[key]["stages"]["reshape"]
        want = {o: sum(1 for line in spec["lines"] if line["expected_outcome"] == o) for o in ("line_item", "skipped", "rejected")}
        assert (shaped["line_items"], shaped["skipped"], shaped["rejected"]) == (want["line_item"], want["skipped"], want["rejected"]), key
        assert {f"{c}|{t}": a for c, t, a in zip(*(read_load_input(by_job[key]["load_input"]).line_items[k]
                                                   for k in ("cost_code", "cost_type", "amount")), strict=True)} == spec["expected_budget"]


def test_job_facts_of_a_batch_are_judged_in_one_call_as_each_alone():
    facts = [(True, True), (False, True), (True, False), (False, False)]
    verdicts = quality.job_facts_blocking(facts)
    assert verdicts == [None, "estimates_not_posted", "budget_not_locked", "estimates_not_posted"]
    assert verdicts == [quality.job_facts_blocking([f])[0] for f in facts]
    assert quality.job_facts_blocking([]) == []
