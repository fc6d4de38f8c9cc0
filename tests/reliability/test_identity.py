"""Identity is exact (issue 14): Spectrum job numbers that the old folder rule mixed up (`77 01`, `77/01`,
`77_01`) are imported in one batch, each into its own Procore project, with its own folder, status and
lock; a load whose input names another job writes nothing; a restore and an import of the same job never
write at once (tests/e2e/test_snapshot_restore_reimport.py). Real pipeline runs: the SQLite ODBC driver, the emulator over HTTP."""
from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pyodbc
import pytest
import requests

from include.budget_import import handoff, job_status_store
from include.budget_import.artifacts import RunFolder
from include.budget_import.handoff import LoadIdentityError
from include.budget_import.pipeline import JobRequest, load_prepared
from include.budget_import.prepare import PreparedBatch, prepare_jobs
from include.budget_import.procore.api import ProcoreBudgetApi
from tests.reliability.harness import make_api, record

JOBS = {"77 01": ("Harbor Pier", "101.00"), "77/01": ("Harbor Sheds", "202.00"), "77_01": ("Harbor Office", "303.00")}
FIRST_PROJECT = 7701001


def _spectrum(source: Path, folder: Path) -> Path:
    db = folder / "spectrum.db"
    shutil.copy(source, db)
    with closing(sqlite3.connect(db)) as conn, conn:
        for job, (name, amount) in JOBS.items():
            conn.execute("INSERT INTO JC_JOB_MASTER_MC (Company_Code, Job_Number, Job_Description, Status_Code, Lock_Estimate_Entry) "
                         "VALUES ('01', ?, ?, 'A', 'Y')", (f"{job:>10}", name))
            for phase, cost in (("10-100", amount), ("10-200", "50.00")):
                conn.execute("INSERT INTO JC_PHASE_MASTER_MC (Company_Code, Job_Number, Phase_Code, Cost_Type, Description, Status_Code, "
                             "Unit_of_Measure, Original_Est_Cost) VALUES ('01', ?, ?, 'L', ?, 'A', 'LS', ?)", (f"{job:>10}", phase, f"{name} {phase}", cost))
    return db


def _procore(fixture: Path) -> dict:
    data = json.loads(fixture.read_text())
    company = next(c for c in data["companies"] if c["id"] == 1001)
    for n, (job, (name, _)) in enumerate(JOBS.items()):
        company["projects"].append({
            "id": FIRST_PROJECT + n, "name": name, "project_number": job, "origin_id": f"01|{job}",
            "cost_codes": [{"code": "10-100", "name": "Piles"}, {"code": "10-300", "name": "Own line"}],
            # each project's own budget: an override must neither keep another job's lines nor lose its own snapshot
            "budget_line_items": [{"cost_code": "10-100", "line_item_type": "L", "original_budget_amount": "100.00"},
                                  {"cost_code": "10-300", "line_item_type": "L", "original_budget_amount": f"{n + 7}.00"}],
        })
    return data


def _prepare(emu, demo_sample, tmp_path, batches: dict[str, list[str]]) -> tuple[ProcoreBudgetApi, dict[str, tuple[RunFolder, PreparedBatch]]]:
    """The look-alike jobs in Spectrum and Procore, then each run's batch of `batches` prepared."""
    requests.post(f"{emu.url}/_emulator/reset", json=_procore(demo_sample.fixture_path), timeout=60).raise_for_status()
    db = _spectrum(demo_sample.db_path, tmp_path)
    api = make_api(emu.url)
    prepared = {}
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={db}")) as spectrum:
        for run_id, jobs in batches.items():
            run = RunFolder(run_id, root=tmp_path / "reports")
            prepared[run_id] = (run, prepare_jobs(spectrum, api, [JobRequest("01", job, 1001) for job in jobs], run))
    return api, prepared


def test_look_alike_job_numbers_import_into_their_own_projects(emu, demo_sample, tmp_path):
    api, prepared = _prepare(emu, demo_sample, tmp_path, {"identity": list(JOBS)})
    run, batch = prepared["identity"]
    assert batch.failed == [] and batch.blocked == [] and len(batch.prepared) == 3
    folders = {run.job("01", job).path for job in JOBS}
    assert len(folders) == 3, "two jobs share a report folder"
    for prepared in batch.prepared:
        job = prepared["request"]["job_number"]
        result = load_prepared(api, prepared, run.job("01", job))
        assert result["status"] == "synced", result
    for n, (job, (_, amount)) in enumerate(JOBS.items()):
        project = FIRST_PROJECT + n
        # 10-300 is Procore's own line (1 of 2 lines, a few dollars): deleted by the override, within the unattended share
        assert emu.budget(project) == {"10-100|L": f"{Decimal(amount):.2f}", "10-200|L": "50.00"}, job
        status = job_status_store.read_status("01", job, root=run.root)
        assert (status["job_number"], status["procore_project_id"], status["status"]) == (job, project, "synced")
        snapshot = json.loads(run.job("01", job).file("snapshot.json").read_text())
        assert (snapshot["job_number"], snapshot["project_id"]) == (job, project)
        assert {(line["cost_code"], line["amount"]) for line in snapshot["lines"]} == {("10-100", "100.00"), ("10-300", f"{n + 7}.00")}
    record("identity", case="look_alike_job_numbers", jobs=len(JOBS), ok=True)


def test_a_load_whose_input_names_another_job_writes_nothing(emu, demo_sample, tmp_path):
    api, prepared = _prepare(emu, demo_sample, tmp_path, {"mixed": ["77 01", "77/01"]})
    run, batch = prepared["mixed"]
    first, second = batch.prepared
    # hand the second job's load the first job's input (a mixed-up reference, or a copied value)
    emu.clear_log()
    with pytest.raises(LoadIdentityError, match="nothing was written"):
        load_prepared(api, {**second, "load_input": first["load_input"]}, run.job("01", "77/01"))
    handoff._IN_PROCESS[second["load_input"]["key"]] = handoff._IN_PROCESS[first["load_input"]["key"]]  # a copied hand-off
    with pytest.raises(LoadIdentityError, match="nothing was written"):
        load_prepared(api, second, run.job("01", "77/01"))
    assert emu.writes() == []
    record("identity", case="load_input_of_another_job", ok=True)


def test_a_load_whose_data_is_older_than_a_finished_newer_import_writes_nothing(emu, demo_sample, tmp_path):
    """Two runs prepared one job; the later-prepared one finished first (the earlier one waited for the
    job's lock meanwhile). The older data is not written over the newer import."""
    api, prepared = _prepare(emu, demo_sample, tmp_path, {"nightly_older": ["77 01"], "manual_newer": ["77 01"]})
    (older, first_batch), (newer, second_batch) = prepared["nightly_older"], prepared["manual_newer"]
    first, second = first_batch.prepared[0], second_batch.prepared[0]
    assert load_prepared(api, second, newer.job("01", "77 01"))["status"] == "synced"
    status_before = job_status_store.read_status("01", "77 01", root=newer.root)
    emu.clear_log()
    stale = load_prepared(api, first, older.job("01", "77 01"))
    assert (stale["status"], stale["reason"]) == ("blocked", "superseded"), stale
    assert emu.writes() == []
    assert job_status_store.read_status("01", "77 01", root=older.root) == status_before  # the newer run's status stays
    assert {r.run_id: r.reason for r in job_status_store.job_history("01", "77 01", root=older.root)}[older.run_id] == "superseded"
    record("identity", case="stale_load_after_newer_import", ok=True)


def test_after_a_run_failed_part_way_the_next_run_points_at_its_snapshot(emu, demo_sample, tmp_path, monkeypatch):
    """A load fails after its creates and updates (every DELETE answers 500): the next run's own snapshot
    is of that half-written budget, so its report names the failed run, whose snapshot is the budget as it
    was before anything was written."""
    from include.budget_import.dag_tasks import write_failed_status
    from include.budget_import.procore.errors import ProcoreUnavailableError
    from tests.reliability.harness import set_faults

    monkeypatch.setenv("BUDGET_IMPORT_REPORTS_DIR", str(tmp_path / "reports"))  # where the failure callback writes
    api, prepared = _prepare(emu, demo_sample, tmp_path, {"crashed": ["77 01"]})
    crashed, batch = prepared["crashed"]
    set_faults(emu.url, {"rules": [{"kind": "error", "status": 500, "method": "DELETE", "path_contains": "/budget_line_items/", "times": 100}]})
    with pytest.raises(ProcoreUnavailableError):
        load_prepared(api, batch.prepared[0], crashed.job("01", "77 01"))
    set_faults(emu.url)
    write_failed_status("crashed", "01", "77 01", "the load failed part-way")  # what the task's failure callback does
    before = json.loads(crashed.job("01", "77 01").file("snapshot.json").read_text())
    assert {(line["cost_code"], line["amount"]) for line in before["lines"]} == {("10-100", "100.00"), ("10-300", "7.00")}

    api, prepared = _prepare_again(emu, demo_sample, tmp_path, "next")
    nxt, again = prepared
    result = load_prepared(api, again.prepared[0], nxt.job("01", "77 01"))
    assert result["status"] == "synced" and result["stages"]["load"]["interrupted_run_snapshot"] == "crashed", result
    own = json.loads(nxt.job("01", "77 01").file("snapshot.json").read_text())
    assert own["lines"] != before["lines"], "the next run's snapshot is of the half-written budget"
    record("identity", case="snapshot_after_a_failed_run", ok=True)


def _prepare_again(emu, demo_sample, tmp_path, run_id: str) -> tuple[ProcoreBudgetApi, tuple[RunFolder, PreparedBatch]]:
    """Prepare 77 01 again in a new run, keeping Procore's state as it is."""
    db = tmp_path / "spectrum.db"
    api = make_api(emu.url)
    run = RunFolder(run_id, root=tmp_path / "reports")
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={db}")) as spectrum:
        return api, (run, prepare_jobs(spectrum, api, [JobRequest("01", "77 01", 1001)], run))
