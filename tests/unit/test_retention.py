"""Run folders are kept BUDGET_IMPORT_KEEP_DAYS and the newest BUDGET_IMPORT_KEEP_RUNS, and never while a
job's status names them."""
from __future__ import annotations

import os
import time
from pathlib import Path

from include.budget_import import job_status_store
from include.budget_import.retention import prune_preflight_copies, prune_runs

DAY = 86400.0
NOW = 1_800_000_000.0


def make_runs(root: Path, ages_in_days: list[int]) -> list[str]:
    names = []
    for n, age in enumerate(ages_in_days):
        run = root / "runs" / f"scheduled__run{n:02d}"
        (run / "01_19.50").mkdir(parents=True)
        (run / "summary.json").write_text("{}", encoding="utf-8")
        os.utime(run, (NOW - age * DAY, NOW - age * DAY))
        names.append(run.name)
    return names


def test_old_runs_beyond_the_newest_are_removed_and_a_status_keeps_its_run(tmp_path):
    names = make_runs(tmp_path, [1, 5, 100, 120, 200, 400])
    job_status_store.record_status({"company_code": "01", "job_number": "19.50", "status": "synced", "run_id": "scheduled__run05"}, root=tmp_path)
    job_status_store.record_result({"company_code": "01", "job_number": "19.50", "status": "synced", "run_id": "scheduled__run04"}, root=tmp_path)
    done = prune_runs(tmp_path, now=NOW, days=90, runs=3)
    # newest 3 kept whatever their age (1, 5, 100 days); 120 and 200 days removed; 400 days kept: its status names it
    assert sorted(done.removed) == [names[3], names[4]] and done.kept_for_status == [names[5]]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [names[0], names[1], names[2], names[5]]
    # status and history are rows of the state database, never pruned with the folders
    assert job_status_store.read_status("01", "19.50", root=tmp_path)["run_id"] == "scheduled__run05"
    assert sorted(r.run_id for r in job_status_store.job_history("01", "19.50", root=tmp_path)) == ["scheduled__run04", "scheduled__run05"]
    assert (tmp_path / "budget_state.db").is_file()


def test_each_limit_alone_and_both_off(tmp_path):
    names = make_runs(tmp_path, [1, 2, 3, 200])
    assert prune_runs(tmp_path, now=NOW, days=0, runs=0).removed == []
    assert prune_runs(tmp_path, now=NOW, days=0, runs=3).removed == [names[3]], "count only"
    names = make_runs(tmp_path / "b", [1, 100])
    assert prune_runs(tmp_path / "b", now=NOW, days=90, runs=0).removed == [names[1]], "age only"


def test_the_current_run_is_never_removed(tmp_path):
    names = make_runs(tmp_path, [1, 300])
    assert prune_runs(tmp_path, now=NOW, days=90, runs=1, current_run=names[1]).kept_for_status == [names[1]]


def make_preflight_copies(folder: Path, ages_in_days: list[int], now: float = NOW) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for n, age in enumerate(ages_in_days):
        copy = folder / f"manual__preflight{n:02d}.json"
        copy.write_text("{}", encoding="utf-8")
        os.utime(copy, (now - age * DAY, now - age * DAY))
        names.append(copy.name)
    return names


def test_the_preflights_copies_per_run_are_kept_as_run_folders_are(tmp_path):
    """One small report per preflight run accumulated for ever: now the same limits as run folders."""
    runs = tmp_path / "preflight" / "runs"
    names = make_preflight_copies(runs, [1, 5, 100, 120, 200])
    (tmp_path / "preflight" / "latest.json").write_text("{}", encoding="utf-8")
    assert prune_preflight_copies(runs, now=NOW, days=0, runs=0) == []
    assert sorted(prune_preflight_copies(runs, now=NOW, days=90, runs=3)) == [names[3], names[4]]
    assert sorted(p.name for p in runs.iterdir()) == names[:3]
    assert prune_preflight_copies(runs, now=NOW, days=0, runs=1) == [names[1], names[2]], "count only, oldest last"
    assert sorted(p.name for p in runs.iterdir()) == names[:1] and (tmp_path / "preflight" / "latest.json").is_file()


def test_writing_a_preflight_report_prunes_its_old_copies(tmp_path, monkeypatch):
    from include.budget_import.preflight import PreflightReport, write_report

    monkeypatch.setenv("BUDGET_IMPORT_KEEP_DAYS", "0")
    monkeypatch.setenv("BUDGET_IMPORT_KEEP_RUNS", "2")
    runs = tmp_path / "preflight" / "runs"
    old = make_preflight_copies(runs, [10, 20, 30], now=time.time())  # write_report prunes as of the clock
    write_report(PreflightReport(started_at="2026-12-03T00:00:00+00:00"), run_id="manual__today", root=tmp_path)
    assert sorted(p.name for p in runs.iterdir()) == sorted(["manual__today.json", old[0]])
    assert (tmp_path / "preflight" / "latest.json").is_file()


def test_statuses_kept_as_files_before_the_state_database_are_adopted_and_protect_their_runs(tmp_path, caplog):
    """A deployment upgraded from status/<job key>.json: the first retention pass adopts each file as the job's
    status (unless the store has a newer one), so the run a status names is not pruned and the Budgets page
    still lists the job; the files stay, marked, and are not read again."""
    import json

    from include.budget_import.legacy_status import ADOPTED_MARKER, adopt_status_files

    names = make_runs(tmp_path, [1, 200, 300])
    status = tmp_path / "status"
    status.mkdir()
    (status / "01_19.50.json").write_text(json.dumps(
        {"company_code": "01", "job_number": "19.50", "status": "synced", "run_id": names[1], "finished_at": "2026-05-01T00:00:00+00:00"}))
    (status / "01_20.01.json").write_text(json.dumps({"company_code": "01", "job_number": "20.01", "status": "synced", "run_id": names[2]}))
    (status / "01_20.02.json").write_text("{not json")
    job_status_store.record_status({"company_code": "01", "job_number": "20.01", "status": "blocked", "run_id": names[0]}, root=tmp_path)
    done = prune_runs(tmp_path, now=NOW, days=90, runs=1)
    assert done.kept_for_status == [names[1]] and done.removed == [names[2]]
    assert job_status_store.read_status("01", "19.50", root=tmp_path)["run_id"] == names[1]
    assert job_status_store.read_status("01", "20.01", root=tmp_path)["status"] == "blocked", "the store's newer status stays"
    assert "01_20.02.json not adopted" in caplog.text
    assert (status / ADOPTED_MARKER).read_text().startswith("1 job statuses adopted")
    assert sorted(p.name for p in status.iterdir()) == ["01_19.50.json", "01_20.01.json", "01_20.02.json", ADOPTED_MARKER]
    (status / "01_20.03.json").write_text(json.dumps({"company_code": "01", "job_number": "20.03", "status": "synced"}))
    assert adopt_status_files(tmp_path) == 0 and job_status_store.read_status("01", "20.03", root=tmp_path) == {}, "adopted once"
