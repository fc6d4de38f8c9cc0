"""`make demo`: the whole import on embedded defaults, start to finish, on this machine.

1. builds the sample Spectrum database (SQLite, read through the real SQLite ODBC driver);
2. starts the local Procore emulator on 127.0.0.1;
3. prepares a project-local AIRFLOW_HOME (var/demo/airflow, SQLite metadata DB);
4. runs the manual DAG for one project, then the nightly DAG for every linked job (`airflow dags test`);
5. prints a per-job summary and where the reports are, and stops what it started.
Running it again starts from the same sample and the same Procore state.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from scripts.local_airflow import ROOT, airflow_env, dags_test, migrate, procore_target_from_fixture
from standins.procore_emulator.server import EmulatorServer

VAR = ROOT / "var" / "demo"


def run_folders(reports: Path) -> set[Path]:
    return set((reports / "runs").glob("*")) if (reports / "runs").is_dir() else set()


def run_dag(env: dict[str, str], reports: Path, dag_id: str, conf: dict | None = None) -> Path:
    before = run_folders(reports)
    started = time.perf_counter()
    result = dags_test(env, dag_id, conf)
    new = sorted(run_folders(reports) - before)
    print(f"\n== {dag_id} ({time.perf_counter() - started:.0f} s): {'succeeded' if result.returncode == 0 else 'FAILED'}")
    if result.returncode != 0:
        print((result.stdout + result.stderr)[-4000:])
    if not new:
        raise SystemExit(f"{dag_id} wrote no report under {reports}/runs")
    return new[-1]


def print_summary(run: Path) -> None:
    from include.budget_import.artifacts import read_json
    from include.budget_import.dag_tasks import summary_lines

    summary = read_json(run / "summary.json")
    for line in summary_lines(summary):
        print("  " + line)
    print(f"  report folder: {run}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="01")
    parser.add_argument("--job", default="19.50")
    parser.add_argument("--merge-mode", default="override", choices=["override", "additive"])
    parser.add_argument("--var", type=Path, default=VAR, help="the demo's folder (default var/demo): sample, emulator state, AIRFLOW_HOME, reports")
    args = parser.parse_args(argv)

    var = args.var.resolve()
    var.mkdir(parents=True, exist_ok=True)
    spectrum_db, fixture = var / "spectrum.db", var / "procore_fixture.json"
    print("Building the sample Spectrum database ...")
    subprocess.run(
        [sys.executable, "-m", "standins.spectrum_sample", "build", "--profile", "demo", "--odbc", f"DRIVER={{SQLite3}};Database={spectrum_db}",
         "--manifest", str(var / "spectrum_manifest.json"), "--procore-fixture", str(fixture)],
        cwd=ROOT, check=True, capture_output=True,
    )
    reports = var / "budget_reports"
    with EmulatorServer(db_path=var / "procore.db", fixture_path=fixture, reset=True) as emulator:
        print(f"Procore emulator on {emulator.base_url}")
        env = airflow_env(var / "airflow", spectrum_db, procore_target_from_fixture(emulator.base_url, fixture), reports)
        print(f"Preparing Airflow (metadata DB under {var / 'airflow'}) ...")
        migrate(env)
        manual = run_dag(env, reports, "spectrum_budget_import", {"company_code": args.company, "job_number": args.job, "merge_mode": args.merge_mode,
                                                                  "dry_run": False, "review": "never"})
        print_summary(manual)
        nightly = run_dag(env, reports, "spectrum_budget_nightly")
        print_summary(nightly)
    print(f"\nReports: {reports}/runs/<run id>/ (summary.json; per job: result.json, validation.json, plan.json, rejects.csv)")
    print(f"Latest status and run history of every job: the state DB {reports}/budget_state.db; to browse them and the reports, `make ui`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
