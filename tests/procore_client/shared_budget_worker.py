"""One job's load in its own OS process (spawned), as one Airflow load task on some worker would run it: a
ProcoreClient with the shared request budget in the state DB, loading one project of the emulator.
All workers wait on one barrier after their imports, so they start their loads together."""
from __future__ import annotations

import os
import time
from typing import Any

import requests


def load_one(base_url: str, client_id: str, secret: str, project_id: int, state_url: str, limits: str, barrier: Any,
             results: Any) -> None:
    os.environ["BUDGET_IMPORT_STATE_DB"] = state_url
    os.environ["PROCORE_RATE_LIMITS"] = limits
    from include.budget_import.load import BudgetLoader, ProjectTarget
    from include.budget_import.procore.api import ProcoreBudgetApi
    from include.budget_import.procore.client import ProcoreClient
    from include.budget_import.procore.rate_budget import shared_budget_for
    from tests.procore_client.conftest import COMPANY, run_import

    budget = shared_budget_for(client_id)  # None when limits is "off" (the control)
    client = ProcoreClient(session=requests.Session(), api_base=base_url, login_url=base_url, client_id=client_id,
                           client_secret=secret, timeout=(5.0, 60.0), max_wait_s=120.0, rate_budget=budget)
    loader = BudgetLoader(ProcoreBudgetApi(client), ProjectTarget("01", f"J{project_id}", COMPANY, project_id))
    barrier.wait(120)
    started = time.time()
    try:
        run_import(loader, "override")
        error = None
    except Exception as exc:  # reported to the test, which fails on it
        error = f"{type(exc).__name__}: {exc}"
    results.put({"project_id": project_id, "error": error, "started": started, "ended": time.time(),
                 "stats": client.stats.as_dict(), "budget_calls": budget.stats.reservations if budget else 0,
                 "budget_failures": budget.stats.failures if budget else 0, "budget_samples": budget.stats.samples if budget else []})
    if budget is not None:
        budget.close()
