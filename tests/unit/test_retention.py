"""Run folders are kept BUDGET_IMPORT_KEEP_DAYS and the newest BUDGET_IMPORT_KEEP_RUNS, and never while a
job's status names them."""
from __future__ import annotations

import json
import os
from pathlib import Path

from include.budget_import.retention import prune_runs

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
    (tmp_path / "status").mkdir()
    (tmp_path / "status" / "01_19.50.json").write_text(json.dumps({"run_id": "scheduled__run05"}), encoding="utf-8")
    done = prune_runs(tmp_path, now=NOW, days=90, runs=3)
    # newest 3 kept whatever their age (1, 5, 100 days); 120 and 200 days removed; 400 days kept: its status names it
    assert sorted(done.removed) == [names[3], names[4]] and done.kept_for_status == [names[5]]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [names[0], names[1], names[2], names[5]]


def test_each_limit_alone_and_both_off(tmp_path):
    names = make_runs(tmp_path, [1, 2, 3, 200])
    assert prune_runs(tmp_path, now=NOW, days=0, runs=0).removed == []
    assert prune_runs(tmp_path, now=NOW, days=0, runs=3).removed == [names[3]], "count only"
    names = make_runs(tmp_path / "b", [1, 100])
    assert prune_runs(tmp_path / "b", now=NOW, days=90, runs=0).removed == [names[1]], "age only"


def test_the_current_run_is_never_removed(tmp_path):
    names = make_runs(tmp_path, [1, 300])
    assert prune_runs(tmp_path, now=NOW, days=90, runs=1, current_run=names[1]).kept_for_status == [names[1]]
