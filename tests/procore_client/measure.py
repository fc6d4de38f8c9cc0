"""Figures for docs/procore-client.md: the client's default settings (real sleeps, default backoff)
against the emulator under injected faults. Not a test; run it by hand:

    .venv/bin/python -m tests.procore_client.measure [--seeds 10]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.plan import DesiredLine
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from standins.procore_emulator.server import EmulatorServer

from .conftest import CLIENT_ID, COMPANY, DEFAULT_LIMITS, PROJECT, SECRET, Emu, fixture_data, intended_budget, run_import


def default_client(emu: Emu) -> ProcoreClient:
    """Exactly what ProcoreHook builds with an empty extra (timeouts 5/60 s, 8 attempts, 120 s max wait)."""
    return ProcoreClient(session=requests.Session(), api_base=emu.base_url, login_url=emu.base_url,
                         client_id=CLIENT_ID, client_secret=SECRET)


def one_run(emu: Emu, faults: dict[str, Any], mode: str, limits: dict[str, Any] | None = None) -> dict[str, Any]:
    emu.clean()
    if limits:
        emu.admin("PUT", "/limits", json=limits)
    emu.faults(**faults)
    client = default_client(emu)
    started = time.monotonic()
    outcome = run_import(emu.loader(client), mode)
    wall = time.monotonic() - started
    exact = emu.budget() == intended_budget(mode)  # emu.budget() also fails on a duplicated line
    return {**client.stats.as_dict(), "wall_s": round(wall, 2), "exact": exact, "rounds": outcome.rounds,
            "ambiguous": outcome.ambiguous_writes, "injected": emu.injected(),
            "http_429": sum(1 for r in emu.requests() if r["status"] == 429)}


def summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def stat(key: str) -> str:
        values = [r[key] for r in runs]
        return f"median {statistics.median(values):g}, max {max(values):g}"
    injected = {k: sum(r["injected"][k] for r in runs) for k in runs[0]["injected"]}
    summary = {"scenario": name, "runs": len(runs), "all_exact": all(r["exact"] for r in runs),
               "calls": stat("calls"), "retries": stat("retries"), "ambiguous_writes": stat("ambiguous"),
               "write_rounds": stat("rounds"), "backoff_s": stat("backoff_s"), "waited_for_limits_s": stat("waited_for_limits_s"),
               "wall_s": stat("wall_s"), "http_429": stat("http_429"), "injected_total": injected}
    print(json.dumps(summary))
    return summary


def big_fixture(lines: int) -> tuple[dict[str, Any], list[DesiredLine]]:
    """A project with `lines` cost codes; half already budgeted (a quarter at other amounts), plus strays."""
    data = fixture_data()
    project = data["companies"][0]["projects"][0]
    project["cost_codes"] = [{"code": f"{n:05d}", "name": f"Code {n}"} for n in range(lines + 50)]
    project["budget_line_items"] = [{"cost_code": f"{n:05d}", "line_item_type": "L",
                                     "original_budget_amount": f"{n}.{'00' if n % 4 else '99'}"} for n in range(lines // 2)]
    project["budget_line_items"] += [{"cost_code": f"{n:05d}", "line_item_type": "M", "original_budget_amount": "1.00"}
                                     for n in range(lines, lines + 50)]
    desired = [DesiredLine(f"{n:05d}", "L", Decimal(f"{n}.00")) for n in range(lines)]
    return data, desired


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    with tempfile.TemporaryDirectory() as folder:
        fixture = Path(folder) / "fixture.json"
        fixture.write_text(json.dumps(fixture_data()), encoding="utf-8")
        with EmulatorServer(Path(folder) / "procore.db", fixture) as server:
            emu = Emu(server)
            summarise("clean, override", [one_run(emu, {}, "override")])
            summarise("20% 5xx on every call (Retry-After 1 s on 503), override",
                      [one_run(emu, {"seed": s, "error_rate": 0.2, "retry_after": 1}, "override") for s in seeds])
            summarise("20% 5xx only on writes, override",
                      [one_run(emu, {"seed": s, "error_rate": 0.2, "retry_after": 1, "methods": ["POST", "PATCH", "DELETE"]},
                               "override") for s in seeds])
            summarise("mix: 12% 5xx, 6% 429, 6% drop, 12% lost response, 5% slow; additive",
                      [one_run(emu, {"seed": s, "error_rate": 0.12, "rate_limit_rate": 0.06, "drop_rate": 0.06,
                                     "lost_response_rate": 0.12, "slow_rate": 0.05, "slow_seconds": 0.2, "retry_after": 1},
                               "additive") for s in seeds])
            summarise("spike limit 5 per 10 s (Procore-like window), no faults",
                      [one_run(emu, {}, "override", {**DEFAULT_LIMITS, "spike_limit": 5, "spike_window_seconds": 10})])
            # a bigger project: how many calls a 400-line override costs (batching)
            data, desired = big_fixture(400)
            emu.clean()
            emu.admin("POST", "/reset", json=data)
            client = default_client(emu)
            loader = BudgetLoader(ProcoreBudgetApi(client), ProjectTarget("01", "19.50", COMPANY, PROJECT))
            started = time.monotonic()
            outcome = loader.apply(desired, "override")
            print(json.dumps({"scenario": "400 desired lines (200 new, 50 updated, 50 deleted), override",
                              "plan": outcome.plan.counts(), **client.stats.as_dict(),
                              "wall_s": round(time.monotonic() - started, 2),
                              "by_endpoint": client.stats.by_endpoint}))


if __name__ == "__main__":
    main()
