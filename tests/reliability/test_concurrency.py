"""Concurrency on real processes: three imports started at once (two of 01/19.50, one of 02/4440), each
its own process as Airflow tasks on several workers would be, sharing the reports folder
(so the per-job lock) and Procore, with every write slowed so that the loads overlap.

- the two runs of one project never write at once (their lock holds do not overlap), and the second,
  planning only once it holds the lock, finds nothing left to write;
- a run for another project does not wait for them: its load overlaps theirs in time;
- every budget ends exactly as the oracle says, with no duplicated line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.reliability.harness import check_budget, expected_budget, job_spec, record, set_faults

JOBS = [("01", "19.50", 1001, "a"), ("01", "19.50", 1001, "b"), ("02", "4440", 1002, "c")]


def test_same_project_never_written_twice_at_once_other_projects_in_parallel(emu, demo_sample, tmp_path):
    set_faults(emu.url, {"slow_rate": 1.0, "slow_seconds": 0.4, "methods": ["POST", "PATCH", "DELETE"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen([sys.executable, "-m", "tests.reliability.run_import", "--odbc", demo_sample.odbc, "--url", emu.url,
                          "--company", company, "--job", job, "--company-id", str(company_id), "--reports", str(tmp_path),
                          "--run-id", f"concurrent-{tag}"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for company, job, company_id, tag in JOBS
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    set_faults(emu.url)
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r["status"] == "synced" for r in results), [r["status"] for r in results]
    locks = [r["stages"]["load"]["lock"] for r in results]
    plans = [r["stages"]["load"]["plan"] for r in results]

    first, second = sorted(locks[:2], key=lambda hold: hold["acquired_at"])
    assert first["released_at"] <= second["acquired_at"], f"two runs wrote 01/19.50 at once: {locks[:2]}"
    writes = [sum(plan[k] for k in ("create", "update", "delete")) for plan in plans[:2]]
    assert sorted(writes)[0] == 0 < sorted(writes)[1], f"exactly one of the two runs must have written 01/19.50: {plans[:2]}"
    # the other projects did not queue behind 01/19.50 (or each other)
    assert all(hold["waited_s"] < 0.5 for hold in locks[2:]), locks[2:]
    spans = sorted((hold["acquired_at"], hold["released_at"]) for hold in [first] + locks[2:])
    overlapping = any(a_end > b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))

    manifest = demo_sample.manifest()
    checks = [check_budget(emu.url, job_spec(manifest, c, j)["procore_project_id"], expected_budget(job_spec(manifest, c, j), "override"), f"{c}/{j}")
              for c, j in {(c, j) for c, j, _, _ in JOBS}]
    record("concurrency", case="3 processes, 2 projects, writes slowed", same_project_overlap=first["released_at"] > second["acquired_at"],
           other_projects_waited_s=max(h["waited_s"] for h in locks[2:]), parallel_loads=overlapping,
           lines_expected=sum(c.expected_lines for c in checks), lines_lost=sum(c.lost for c in checks), duplicates=sum(c.duplicates for c in checks))
    assert all(c.ok for c in checks), [p for c in checks for p in c.problems]
    assert overlapping, f"no two loads of different projects overlapped in time: {spans}"
