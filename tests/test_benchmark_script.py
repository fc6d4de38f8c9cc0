"""The benchmark script (`make benchmark`) runs end to end at a tiny size and prints its figures. Not a
timed test: the targets live in the benchmark's output (docs/performance.md), not in assertions here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(tmp_path: Path, *args: str) -> tuple[str, dict]:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--jobs", "2", "--lines", "5", "--workdir", str(tmp_path), "--json", str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


def test_end_to_end_figures_and_dag_import_times(tmp_path):
    text, figures = run_benchmark(tmp_path, "--dag-jobs", "0", "--parse-repeat", "1", "--load-lines", "300", "--no-scheduler",
                                  "--stages-jobs", "3", "--stages-lines", "4")
    print(text)
    for stage in ("prerequisites", "extract", "validate", "reshape", "plan", "load"):
        assert f"    {stage} " in text
    assert "REST calls made" in text and "vs minimum" in text
    first, again = figures["e2e_first"]["api"], figures["e2e_unchanged"]["api"]
    assert first["made"] > 0 and first["minimum"] > 0 and first["writes"] > 0
    assert again["writes"] == 0 and again["emulator_writes"] == 0
    assert {row["file"] for row in figures["dag_imports"]} == {p.name for p in (ROOT / "dags").glob("*.py")}
    assert "Targets (issues 9 and 19):" in text
    assert "an unchanged job:" in text and "Procore REST calls" in text
    load = figures["unchanged_load"]
    assert load["lines"] == 300 and load["seconds"] > 0 and load["calls"] >= 1
    # the same run times the stages on their own sample, beside their references (issue 19: one run prints every target)
    assert figures["stages_sample"]["jobs"] == 3 and figures["stages_nightly"]["rows"] == 12
    assert set(figures["stages_vs_baseline"]) == {"validate", "reshape", "plan", "vs_bare_fetch"}
    assert "x the hand-written baseline" in text and "the bare driver fetch of the same rows" in text


def test_stages_only_figures(tmp_path):
    text, figures = run_benchmark(tmp_path, "--stages-only", "--no-dags", "--load-lines", "0", "--no-scheduler")
    print(text)
    assert "bare pyodbc fetch" in text and "nightly extraction" in text
    assert figures["stages_nightly"]["rows"] == 10  # the import path (both DAGs'), in batches
    assert "stages_per_job" not in figures, "there is one import path: no manual path to time apart"
    assert figures["extract"]["ratio_rows"] > 0
