"""The unchanged re-load of a large job against the emulator (issue 19's target: 50,000 lines <= 5 s).

    .venv/bin/python -m scripts.bench_load [--lines 50000] [--profile]

It loads an N-line job into an empty emulator project once (creating its cost codes and lines), then
times the load task's own function on the same input again: `pipeline.load_prepared`, with its plan,
line-item check, plan.json, reconciliation.json, result.json and state-DB row, as the nightly's
`load_job` task runs it. Spectrum is not read: the job's hand-off (handoff.write_load_input, what the
prepare task gives the load task) is built here. Prints the seconds, Procore calls, report sizes and peak
RSS as one JSON line. `unchanged_load_figures(lines)` is the same, for scripts/benchmark.py.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

COMPANY, PROJECT, CLIENT_ID, SECRET = 1001, 2001, "bench-client", "bench-secret"
COST_TYPES = {"L": "Labor", "M": "Material", "S": "Subcontract", "E": "Equipment", "O": "Other"}


def _fixture() -> dict[str, Any]:
    """One company, its line item types, one empty project (no cost codes, no budget lines)."""
    return {"companies": [{
        "id": COMPANY, "name": "Bench Builders",
        "clients": [{"client_id": CLIENT_ID, "client_secret": SECRET, "permission": "standard"}],
        "line_item_types": [{"code": code, "name": name, "base_type": "other"} for code, name in COST_TYPES.items()],
        "projects": [{"id": PROJECT, "name": "Bench Tower", "project_number": "50.00", "origin_id": "01|50.00"}],
    }]}


def _line_items(lines: int) -> tuple[Any, Any]:
    """`lines` line items over lines / 5 cost codes x 5 cost types, amounts in cents; and their cost codes."""
    import pandas as pd

    types = list(COST_TYPES)
    codes = [f"{n // 100:03d}-{n % 100:02d}0" for n in range(-(-lines // len(types)))]
    rows = [(codes[n // len(types)], types[n % len(types)], Decimal(f"{1000 + n * 7 % 99991}.{n % 100:02d}")) for n in range(lines)]
    items = pd.DataFrame({"cost_code": [r[0] for r in rows], "cost_type": [r[1] for r in rows], "amount": [r[2] for r in rows],
                          "description": [f"Line {n}" for n in range(lines)]})
    cost_codes = pd.DataFrame({"cost_code": codes, "description": [f"Code {c}" for c in codes]})
    return items, cost_codes


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kilobytes


def unchanged_load_figures(lines: int, *, profile: bool = False) -> dict[str, Any]:
    """Load `lines` lines into an empty emulator project, then time the unchanged re-load through
    `pipeline.load_prepared`: seconds, Procore calls, plan.json / reconciliation.json bytes, peak RSS
    (this process's, the first load included), and with `profile` cProfile's top functions."""
    import requests

    from include.budget_import import pipeline
    from include.budget_import.artifacts import RunFolder
    from include.budget_import.handoff import discard_in_process, write_load_input
    from include.budget_import.procore.api import ProcoreBudgetApi
    from include.budget_import.procore.client import ProcoreClient
    from include.budget_import.task_values import PreparedJob, ReadyJob, RequestFields
    from scripts.local_airflow import EMULATOR_RATE_LIMITS
    from standins.procore_emulator.server import EmulatorServer

    os.environ.setdefault("PROCORE_RATE_LIMITS", EMULATOR_RATE_LIMITS)
    gx_before = "great_expectations" in sys.modules  # (scripts/benchmark.py has run GX in this process before)
    items, cost_codes = _line_items(lines)
    ready: ReadyJob = {"company_code": "01", "job_number": "50.00", "stored_job_number": "     50.00", "job_description": "Bench Tower",
             "master_job": None, "procore_company_id": COMPANY, "procore_project_id": PROJECT, "procore_project_name": "Bench Tower",
             "procore_project_number": "50.00"}
    request: RequestFields = {"company_code": "01", "job_number": "50.00", "procore_company_id": COMPANY, "merge_mode": "override", "dry_run": False}
    with tempfile.TemporaryDirectory(prefix="bench_load_") as work:
        folder = Path(work)
        fixture = folder / "fixture.json"
        fixture.write_text(json.dumps(_fixture()), encoding="utf-8")
        with EmulatorServer(folder / "procore.db", fixture, reset=True, startup_timeout=120) as server:

            def load(run_id: str) -> tuple[dict[str, Any], float, Any]:
                client = ProcoreClient(session=requests.Session(), api_base=server.base_url, login_url=server.base_url,
                                       client_id=CLIENT_ID, client_secret=SECRET)
                job = RunFolder(run_id, root=folder / "reports").job("01", "50.00")
                ref = write_load_input(job, items, cost_codes, COST_TYPES, identity=ready, rejected={})
                prepared: PreparedJob = {"request": request, "ready": ready, "stages": {}, "load_input": ref}
                profiler = cProfile.Profile() if profile and run_id == "unchanged" else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                result = pipeline.load_prepared(ProcoreBudgetApi(client), prepared, job)
                if profiler:
                    profiler.disable()
                seconds = time.perf_counter() - started
                discard_in_process(ref)
                if result["status"] != "synced":
                    raise RuntimeError(f"the {run_id} load ended {result['status']}: {result.get('message')}")
                return result, seconds, (job, profiler)

            first, first_s, _ = load("first")
            again, seconds, (job, profiler) = load("unchanged")
        sizes = {name: job.file(name).stat().st_size for name in ("plan.json", "reconciliation.json")}
    loaded = again["stages"]["load"]
    figures: dict[str, Any] = {
        "lines": lines, "first_load_s": round(first_s, 2), "first_load_plan": first["stages"]["load"]["plan"],
        "unchanged_load_s": round(seconds, 3), "unchanged_plan": loaded["plan"],
        "procore_calls": loaded["api"]["calls"], "procore_reads": loaded["api"]["reads"], "procore_writes": loaded["api"]["writes"],
        "plan_json_bytes": sizes["plan.json"], "reconciliation_json_bytes": sizes["reconciliation.json"],
        "peak_rss_mb": _peak_rss_mb(),
        # whether the loads imported GX; None: this process had imported it before, so it cannot tell (tests/unit/test_line_checks.py proves it)
        "great_expectations_imported": None if gx_before else "great_expectations" in sys.modules,
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(40)
        figures["profile"] = out.getvalue()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of the unchanged load")
    args = parser.parse_args()
    figures = unchanged_load_figures(args.lines, profile=args.profile)
    profile = figures.pop("profile", None)
    print(json.dumps(figures))
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
