"""Scale profile smoke test at a small size (the 1,000 x 1,000 figure is in README.md / bench_generate.py)."""
from __future__ import annotations

import json
import time

from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.load import build

from .checks import assert_database_matches


def test_scale_smoke_into_sqlite(tmp_path, sqlite_driver, pyodbc_module):
    pyodbc = pyodbc_module
    odbc = f"DRIVER={{{sqlite_driver}}};Database={tmp_path / 'scale.db'}"
    t0 = time.perf_counter()
    stats = build(Dataset("scale", jobs=20, lines=50), odbc=odbc, manifest_path=str(tmp_path / "m.json"),
                  fixture_path=str(tmp_path / "f.json"))
    seconds = time.perf_counter() - t0
    print(f"\nscale 20 jobs x 50 lines: {stats.rows:,} rows in {seconds:.2f} s ({stats.rows / seconds:,.0f} rows/s)")
    manifest = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    fixture = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    assert stats.counts["JC_JOB_MASTER_MC"] == 20
    assert stats.counts["JC_PHASE_MASTER_MC"] == 20 * 50
    assert all(j["expected_status"] == "ready" and j["procore_project_id"] for j in manifest["jobs"])
    assert all(len(j["lines"]) == 50 for j in manifest["jobs"])
    projects = [p for c in fixture["companies"] for p in c["projects"]]
    assert len(projects) == 20 and not any(p["budget_line_items"] for p in projects)
    assert len({p["id"] for p in projects}) == 20
    con = pyodbc.connect(odbc)
    try:
        assert_database_matches(con, manifest)
    finally:
        con.close()
