"""Procore calls one import makes, per scenario and endpoint, against the emulator (figures for
docs/procore-client.md). Not a test; run it by hand:

    .venv/bin/python -m scripts.procore_calls

It runs what pipeline.load does for one job (the budget read and planned; when the plan writes, the
write prerequisites (Budget tool, lock, permission), cost types and cost codes made sure of, then the
plan converged on) on the Procore client test fixture. The project lookup before it (by origin_id: one
call per job, or one per 1,000 projects for a batch) is not counted here.
"""
from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.plan import DesiredLine, plan_merge
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from standins.procore_emulator.server import EmulatorServer
from tests.procore_client.conftest import CLIENT_ID, COMPANY, NEW_CODES, NEW_TYPES, PROJECT, SECRET, desired_lines, fixture_data

CODES = {"01-100": "General Conditions", "02-200": "Site Work", "03-300": "Concrete", **NEW_CODES}
TYPES = {"L": "Labor", "M": "Material", "S": "Subcontract", **NEW_TYPES}


def one_import(base_url: str, desired: list[DesiredLine], mode: str) -> dict[str, Any]:
    client = ProcoreClient(session=requests.Session(), api_base=base_url, login_url=base_url, client_id=CLIENT_ID, client_secret=SECRET)
    loader = BudgetLoader(ProcoreBudgetApi(client), ProjectTarget("01", "19.50", COMPANY, PROJECT))
    existing = loader.existing_lines()
    plan = plan_merge(desired, existing, mode)
    if plan.write_count:  # as pipeline.load: codes and types are made sure of only when something is written
        loader.ensure_line_item_types(TYPES)
        loader.ensure_cost_codes(CODES)
    outcome = loader.apply(desired, mode, existing=existing, plan=plan)
    stats = client.stats.as_dict()
    return {"calls": stats["calls"], "reads": stats["reads"], "writes": stats["writes"], "tokens": stats["token_fetches"],
            "plan": outcome.plan.counts(), "by_endpoint": dict(sorted(client.stats.by_endpoint.items()))}


def main() -> None:
    empty = fixture_data()
    empty["companies"][0]["projects"][0]["budget_line_items"] = []
    changed = [d._replace(amount=d.amount + Decimal("1.00")) if i == 0 else d for i, d in enumerate(desired_lines())]
    scenarios: list[tuple[str, dict[str, Any], list[tuple[list[DesiredLine], str]]]] = [
        ("create (empty budget, 6 lines)", empty, [(desired_lines(), "override")]),
        ("unchanged re-import", empty, [(desired_lines(), "override"), (desired_lines(), "override")]),
        ("one changed estimate", empty, [(desired_lines(), "override"), (changed, "override")]),
        ("additive (3 existing lines, 4 to add)", fixture_data(), [(desired_lines(), "additive")]),
        ("override with deletes (4 creates, 1 update, 1 delete)", fixture_data(), [(desired_lines(), "override")]),
    ]
    with tempfile.TemporaryDirectory() as folder:
        fixture = Path(folder) / "fixture.json"
        fixture.write_text(json.dumps(fixture_data()), encoding="utf-8")
        with EmulatorServer(Path(folder) / "procore.db", fixture) as server:
            for name, data, runs in scenarios:
                requests.post(f"{server.base_url}/_emulator/reset", json=data, timeout=30).raise_for_status()
                for desired, mode in runs:
                    figures = one_import(server.base_url, desired, mode)
                print(json.dumps({"scenario": name, **figures}))


if __name__ == "__main__":
    main()
