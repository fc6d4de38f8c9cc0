"""A one-project manual import through a real scheduler, beside an empty DAG of the same shape (issue 19).

    .venv/bin/python -m scripts.bench_scheduler [--lines 1000]

Starts Airflow as in production on this machine (tests/executors/cluster.py: a fresh PostgreSQL
metadata DB, api-server, scheduler with the LocalExecutor, dag-processor; each a separate process), the
Procore emulator and a scale sample of one job with `--lines` lines (SQLite through the real ODBC
driver). Runs `bench_empty_import_shape` (scripts/bench_dags: the same six chained tasks, empty) once on
the just-started deployment, to show what any DAG's first run there pays; then triggers
`spectrum_budget_import` for that job through the REST API (override, review never), then the same again
(nothing changed), then the empty DAG again, the reference; and prints from the metadata DB: trigger-to-done
per run, and each task's running time beside the empty task's (target: at most 1 s above it; the run at
most 10 s). Needs PostgreSQL on
127.0.0.1 (../shared/reference/stack.md). `scheduler_figures()` is the same for scripts/benchmark.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RUN_S = 10.0
TARGET_TASK_ABOVE_EMPTY_S = 1.0
RUN_TIMEOUT_S = 900.0  # an upper bound for one run, never a target
EMPTY = "empty DAG, same shape"  # the reference: run after the imports, on a warm deployment
COLD_EMPTY = "empty DAG, first run of the deployment"


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _run_figures(run: dict[str, Any], tis: list[dict[str, Any]]) -> dict[str, Any]:
    """Trigger to done (the run's start to end in the metadata DB) and each task's own running time."""
    tasks: dict[str, float] = {}
    for ti in tis:
        start, end = _at(ti.get("start_date")), _at(ti.get("end_date"))
        if start and end:
            tasks[ti["task_id"]] = round(tasks.get(ti["task_id"], 0.0) + (end - start).total_seconds(), 2)
    start, end = _at(run.get("start_date")), _at(run.get("end_date"))
    wall = (end - start).total_seconds() if start and end else None
    return {"state": run["state"], "trigger_to_done_s": round(wall, 2) if wall is not None else None, "tasks": tasks}


def scheduler_figures(lines: int = 1000, workdir: Path | None = None, keep: bool = False) -> dict[str, Any]:
    """`keep`: leave the deployment's folder (task logs, reports, metadata) for a look at where a task's time went."""
    from scripts.benchmark import sample, spectrum_jobs
    from scripts.local_airflow import airflow_env, procore_target_from_fixture, without_retries
    from standins.procore_emulator.server import EmulatorServer
    from tests.executors.cluster import airflow_cluster

    work = Path(tempfile.mkdtemp(prefix="bench_scheduler_", dir=workdir))
    try:
        s, _ = sample(ROOT / "var" / "benchmark", 1, lines, 7, 0.0)
        import pyodbc

        with pyodbc.connect(s.odbc) as conn:
            company, job, _company_id = spectrum_jobs(conn, s.fixture)[0]
        dags = work / "dags"  # the project's DAG files and the empty one, as one dags folder
        dags.mkdir()
        for path in [*(ROOT / "dags").glob("*.py"), ROOT / "scripts" / "bench_dags" / "empty_import_shape.py"]:
            shutil.copy(path, dags / path.name)
        with EmulatorServer(work / "procore.db", s.fixture, reset=True, startup_timeout=300) as emu:
            env = airflow_env(work / "airflow_home", s.db, procore_target_from_fixture(emu.base_url, s.fixture), work / "reports")
            env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
            without_retries(env)
            conf = {"company_code": company, "job_number": job, "merge_mode": "override", "dry_run": False, "review": "never"}
            with airflow_cluster("LocalExecutor", env, work, parallelism=4) as cluster:
                runs = {}
                # The empty DAG first too: what any DAG's first run on a just-started deployment pays (its
                # first task process, the api-server's first execution-API calls), apart from the import's own.
                for label, dag_id, run_conf in ((COLD_EMPTY, "bench_empty_import_shape", {}),
                                                ("first import", "spectrum_budget_import", conf),
                                                ("unchanged re-import", "spectrum_budget_import", conf),
                                                (EMPTY, "bench_empty_import_shape", {})):
                    run, tis = cluster.run_dag(dag_id, run_conf, RUN_TIMEOUT_S)
                    runs[label] = _run_figures(run, tis)
        return {"lines": lines, "job": f"{company}/{job}", "executor": "LocalExecutor", "runs": runs,
                "verdicts": _verdicts(runs), "loadavg": os.getloadavg()}
    finally:
        if keep:
            print(f"  kept the deployment's folder: {work} (task logs under airflow_home/logs)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _verdicts(runs: dict[str, Any]) -> list[dict[str, Any]]:
    empty = runs[EMPTY]
    empty_task = max(empty["tasks"].values(), default=0.0)
    out = []
    for label in ("first import", "unchanged re-import"):
        r = runs[label]
        wall = r["trigger_to_done_s"]
        out.append({"ok": r["state"] == "success" and wall is not None and wall <= TARGET_RUN_S,
                    "text": f"manual import, {label}: {wall} s trigger to done ({r['state']}; target <= {TARGET_RUN_S:g} s; "
                            f"the empty DAG of the same shape {empty['trigger_to_done_s']} s)"})
        worst = max(r["tasks"].items(), key=lambda kv: kv[1], default=("-", 0.0))
        above = round(worst[1] - empty_task, 2)
        out.append({"ok": above <= TARGET_TASK_ABOVE_EMPTY_S,
                    "text": f"  slowest task of the {label}: {worst[0]} {worst[1]} s, {above} s above the slowest empty task "
                            f"({empty_task} s; target <= {TARGET_TASK_ABOVE_EMPTY_S:g} s above)"})
    return out


def print_figures(figures: dict[str, Any]) -> None:
    empty = figures["runs"][EMPTY]["tasks"]
    print(f"  {figures['lines']:,}-line job {figures['job']} on the {figures['executor']}, load average {figures['loadavg'][0]:.1f}")
    for label, r in figures["runs"].items():
        print(f"  {label}: {r['trigger_to_done_s']} s trigger to done ({r['state']})")
        if label == EMPTY:
            continue
        for task, seconds in r["tasks"].items():
            ref = empty.get(task)
            print(f"    {task:<15} {seconds:>7.2f} s" + (f"   empty task {ref:.2f} s, +{seconds - ref:.2f} s" if ref is not None else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the deployment's folder (task logs) and print where it is")
    args = parser.parse_args()
    figures = scheduler_figures(args.lines, keep=args.keep)
    print_figures(figures)
    for v in figures["verdicts"]:
        print(f"  [{'MET ' if v['ok'] else 'MISS'}] {v['text']}")
    print(json.dumps({k: v for k, v in figures.items() if k != "verdicts"}))


if __name__ == "__main__":
    main()
