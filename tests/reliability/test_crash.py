"""Crash: a task process is killed with SIGKILL in the middle of a load, then the job runs again.

One 3,000-line job (scale profile: 2,947 line items, 9 skipped, 44 rejected) is imported by a real
process (`python -m tests.reliability.run_import`, the pipeline as a task runs it). The emulator's
request log shows when the load is under way; the process is killed there, with no chance to clean up
(no `finally`, no lock release, no report). The next run must converge on the oracle's budget, with no
duplicated line, without waiting on the dead run's lock.

- during a first import: after the first of three create batches (the `slow` variant adds: while the
  cost-code sync is in flight, after the second batch); the writes are slowed a little to widen the window;
- during a re-import: the job is first imported whole, then Spectrum changes (a third of the lines
  deleted, a third re-estimated), and the re-import is killed after 50 deletions (the `slow` variant adds:
  after the update batch before any deletion, after the first deletion, after 600).
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyodbc
import pytest
import requests

from include.budget_import.artifacts import RunFolder
from include.budget_import.pipeline import JobRequest, import_job
from standins.procore_emulator.server import EmulatorServer
from tests.conftest import ROOT, Emulator, Sample, build_sample
from tests.reliability.harness import check_budget, make_api, record, set_faults, set_limits

LINES = 3000
SYNC = "/budget_line_items/sync"


@dataclass
class ScaleJob:
    sample: Sample
    emu: Emulator
    spec: dict

    @property
    def project(self) -> int:
        return int(self.spec["procore_project_id"])


@pytest.fixture(scope="module")
def scale_job(tmp_path_factory) -> Iterator[ScaleJob]:
    folder = tmp_path_factory.mktemp("crash")
    sample = build_sample(folder / "sample", "scale", "--jobs", "1", "--lines", str(LINES))
    spec = sample.manifest()["jobs"][0]
    with EmulatorServer(db_path=folder / "procore.db", fixture_path=sample.fixture_path, reset=True) as server:
        yield ScaleJob(sample, Emulator(server), spec)


@pytest.fixture()
def job(scale_job) -> Iterator[ScaleJob]:
    set_faults(scale_job.emu.url)
    # thousands of deletes in seconds: rate limits are the fault matrix's subject, not this file's
    set_limits(scale_job.emu.url, spike_limit=100_000, spike_window_seconds=10)
    scale_job.emu.reset()
    yield scale_job
    set_faults(scale_job.emu.url)


def start(job: ScaleJob, odbc: str, reports: Path, run_id: str) -> subprocess.Popen:
    spec = job.spec
    command = [sys.executable, "-m", "tests.reliability.run_import", "--odbc", odbc, "--url", job.emu.url,
               "--company", spec["company_code"], "--job", spec["job_number"], "--company-id", str(spec["procore_company_id"]),
               "--reports", str(reports), "--run-id", run_id]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def requests_log(url: str, path_contains: str, method: str) -> list[dict]:
    entries = requests.get(f"{url}/_emulator/requests", params={"path_contains": path_contains, "method": method}, timeout=10).json()
    return entries.get("requests", entries) if isinstance(entries, dict) else entries


def kill_when(process: subprocess.Popen, ready, timeout_s: float = 120.0) -> float:
    """SIGKILL the process as soon as ready() is true; returns when that was (seconds after start)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the import finished (exit {process.returncode}) before the kill point:\n{err[-3000:]}")
        if ready():
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            assert process.returncode == -signal.SIGKILL
            return time.monotonic() - started
        time.sleep(0.02)
    process.kill()
    raise AssertionError("the kill point was never reached")


def finish(job: ScaleJob, odbc: str, reports: Path, run_id: str) -> dict:
    """A whole run of the job (in this process: the same code as run_import, without a second start-up)."""
    spec = job.spec
    request = JobRequest(spec["company_code"], spec["job_number"], int(spec["procore_company_id"]))
    with closing(pyodbc.connect(odbc)) as spectrum:
        return import_job(spectrum, make_api(job.emu.url), request, RunFolder(run_id, root=reports).job(spec["company_code"], spec["job_number"]))


def budget_count(job: ScaleJob) -> int:
    state = requests.get(f"{job.emu.url}/_emulator/state", params={"project_id": job.project}, timeout=30).json()
    return len(state["budget_line_items"])


@dataclass(frozen=True)
class KillPoint:
    name: str
    slow: dict  # the emulator's fault config while the doomed run runs (writes slowed to widen the window)
    ready: Callable[[str], bool]  # given the emulator URL: has the run reached the point?


def _committed(url: str, path: str, method: str) -> int:
    return len([e for e in requests_log(url, path, method) if e["status"] and e["status"] < 300])


FIRST_IMPORT_KILLS = [
    KillPoint("after the first create batch", {"slow_rate": 1.0, "slow_seconds": 0.8, "methods": ["POST"], "path_contains": SYNC},
              lambda url: _committed(url, SYNC, "POST") >= 1),
    pytest.param(KillPoint("while the cost-code sync is in flight",
                           {"slow_rate": 1.0, "slow_seconds": 1.5, "methods": ["PATCH"], "path_contains": "/cost_codes/sync"},
                           lambda url: bool(requests_log(url, "/cost_codes/sync", "PATCH"))), marks=pytest.mark.slow),
    pytest.param(KillPoint("after the second create batch", {"slow_rate": 1.0, "slow_seconds": 0.8, "methods": ["POST"], "path_contains": SYNC},
                           lambda url: _committed(url, SYNC, "POST") >= 2), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("point", FIRST_IMPORT_KILLS, ids=lambda p: p.name.replace(" ", "-"))
def test_kill_during_a_first_import_then_rerun_converges(job, tmp_path, point):
    expected = job.spec["expected_budget"]
    assert len(expected) > 2000, "the job must need several create batches"
    set_faults(job.emu.url, point.slow)
    job.emu.clear_log()
    process = start(job, job.sample.odbc, tmp_path, "crash-first")
    at = kill_when(process, lambda: point.ready(job.emu.url))
    partial = budget_count(job)
    assert partial < len(expected), f"the kill did not land mid-load ({partial} of {len(expected)} lines)"
    time.sleep(1.6)  # a write that was in flight when the process died may still land
    set_faults(job.emu.url)
    result = finish(job, job.sample.odbc, tmp_path, "crash-first-rerun")
    check = check_budget(job.emu.url, job.project, expected, f"{job.spec['company_code']}/{job.spec['job_number']}")
    lock_wait = result["stages"]["load"]["lock"]["waited_s"]
    codes = [c["code"] for c in make_api(job.emu.url).cost_codes(int(job.spec["procore_company_id"]), job.project)]
    record("crash", case=f"SIGKILL {point.name}", lines_expected=len(expected), lines_at_kill=partial, killed_after_s=round(at, 2),
           converged=check.ok and result["status"] == "synced", lines_lost=check.lost, duplicates=check.duplicates + len(codes) - len(set(codes)),
           extra=check.extra, lock_wait_s=lock_wait)
    assert result["status"] == "synced" and result["stages"]["load"]["reconciled"]
    assert check.ok, check.problems
    assert len(codes) == len(set(codes)), "a cost code was created twice"
    assert lock_wait < 1.0, "the rerun waited on the dead process's lock"
    shaped = result["stages"]["reshape"]
    assert (shaped["line_items"], shaped["skipped"], shaped["rejected"]) == tuple(job.spec["line_counts"][k] for k in ("line_item", "skipped", "rejected"))


def change_spectrum(sample: Sample, spec: dict, db: Path) -> dict[str, str]:
    """Delete a third of the job's line items in Spectrum and re-estimate another third (+1.00); the
    budget an import must now leave in Procore."""
    items = [line for line in spec["lines"] if line["expected_outcome"] == "line_item"]
    expected = dict(spec["expected_budget"])
    with closing(sqlite3.connect(db)) as conn, conn:
        for n, line in enumerate(items):
            key = f"{line['phase_code']}|{line['cost_type']}"
            where = ("Company_Code = ? AND Job_Number = ? AND Phase_Code = ? AND Cost_Type = ?",
                     [spec["company_code"], spec["job_number_raw"], line["phase_code_raw"], line["cost_type_raw"]])
            if n % 3 == 0:
                conn.execute(f"DELETE FROM JC_PHASE_MASTER_MC WHERE {where[0]}", where[1])
                del expected[key]
            elif n % 3 == 1:
                conn.execute(f"UPDATE JC_PHASE_MASTER_MC SET Original_Est_Cost = Original_Est_Cost + 1 WHERE {where[0]}", where[1])
                expected[key] = f"{Decimal(expected[key]) + 1:.2f}"
    return expected


RE_IMPORT_KILLS = [
    KillPoint("after 50 deletions", {}, lambda url: _committed(url, "/budget_line_items/", "DELETE") >= 50),
    pytest.param(KillPoint("after the update batch, before any deletion", {"slow_rate": 1.0, "slow_seconds": 1.0, "methods": ["DELETE"]},
                           lambda url: _committed(url, SYNC, "POST") >= 1), marks=pytest.mark.slow),
    pytest.param(KillPoint("after the first deletion", {"slow_rate": 1.0, "slow_seconds": 0.3, "methods": ["DELETE"]},
                           lambda url: _committed(url, "/budget_line_items/", "DELETE") >= 1), marks=pytest.mark.slow),
    pytest.param(KillPoint("after 600 deletions", {}, lambda url: _committed(url, "/budget_line_items/", "DELETE") >= 600), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("point", RE_IMPORT_KILLS, ids=lambda p: p.name.replace(" ", "-").replace(",", ""))
def test_kill_during_a_re_import_then_rerun_converges(job, tmp_path, point):
    first = finish(job, job.sample.odbc, tmp_path, "crash-first")
    assert first["status"] == "synced"
    db = tmp_path / "changed.db"
    db.write_bytes(job.sample.db_path.read_bytes())
    expected = change_spectrum(job.sample, job.spec, db)
    odbc = f"DRIVER={{SQLite3}};Database={db}"
    set_faults(job.emu.url, point.slow)
    job.emu.clear_log()
    process = start(job, odbc, tmp_path, "crash-again")
    at = kill_when(process, lambda: point.ready(job.emu.url))
    time.sleep(1.1)
    set_faults(job.emu.url)
    deleted_at_kill = _committed(job.emu.url, "/budget_line_items/", "DELETE")
    assert deleted_at_kill < len(job.spec["expected_budget"]) - len(expected), "the kill did not land mid-load"
    result = finish(job, odbc, tmp_path, "crash-again-rerun")
    check = check_budget(job.emu.url, job.project, expected, f"{job.spec['company_code']}/{job.spec['job_number']}")
    record("crash", case=f"SIGKILL during a re-import (a third of the lines deleted, a third re-estimated), {point.name}", lines_expected=len(expected),
           deletes_at_kill=deleted_at_kill, killed_after_s=round(at, 2), converged=check.ok and result["status"] == "synced",
           lines_lost=check.lost, duplicates=check.duplicates, extra=check.extra, lock_wait_s=result["stages"]["load"]["lock"]["waited_s"])
    assert result["status"] == "synced" and result["stages"]["load"]["reconciled"]
    assert check.ok, check.problems
    assert result["stages"]["load"]["lock"]["waited_s"] < 1.0
