"""The Procore request budget every worker shares (include/budget_import/procore/rate_budget.py).

- The slots several OS processes take never put more than L calls in any window of W seconds (read back
  from the state DB), on SQLite and on PostgreSQL.
- The proof against the emulator at Procore's documented limits (3,600 an hour, 25 per rolling 10 s):
  4 and then 8 loads at once, each its own spawned process with its own ProcoreClient, sharing one state
  DB; the emulator's own request log must show zero 429s, and every budget must equal its intended lines.
  Without the shared budget the same loads collect 429s (shown once, on SQLite, as the control).

Nothing here asserts a timing: the workers start together on a barrier, the order of events is whatever
it is, and the figures printed (requests, 429s, wall time, the budget's cost per call) are for the docs.
"""
from __future__ import annotations

import copy
import json
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from include.budget_import import state_db
from include.budget_import.procore.rate_budget import CALLS, SharedRateBudget, budget_key, next_slot
from standins.procore_emulator.server import EmulatorServer
from tests.procore_client.conftest import CLIENT_ID, PROJECT, SECRET, fixture_data, intended_budget
from tests.procore_client.shared_budget_worker import load_one
from tests.state_dbs import state_db as scratch_state_db

CTX = multiprocessing.get_context("spawn")
BACKENDS = ["sqlite", "postgresql"]
DOCUMENTED = {"hourly_limit": 3600, "hourly_window_seconds": 3600, "spike_limit": 25, "spike_window_seconds": 10}
DOCUMENTED_SETTING = "3600/3600,25/10"
PROJECTS = [3001 + n for n in range(8)]


# --- the slots themselves ---------------------------------------------------------------------------
def test_next_slot_queues_behind_the_latest_and_the_lth_latest():
    windows = [(3, 10.0), (100, 3600.0)]
    assert next_slot(50.0, None, [None, None], windows, 0.5) == 50.0
    assert next_slot(50.0, 52.0, [None, None], windows, 0.5) == 52.0  # never before a slot already handed out
    assert next_slot(50.0, 49.0, [45.0, None], windows, 0.5) == 55.5  # the 3rd latest leaves its window (+ margin)
    assert next_slot(50.0, 49.0, [30.0, 1.0], windows, 0.5) == 3601.5  # the hourly window binds


def _take_slots(url: str, count: int, barrier: Any, out: Any) -> None:
    budget = SharedRateBudget("slots-client", [(5, 1.0)], url=url, margin_s=0.0)
    barrier.wait(60)
    for _ in range(count):
        slot = budget.reserve(max_wait_s=60)
        assert slot.granted
        time.sleep(slot.wait_s)
    out.put((budget.stats.reservations, budget.stats.failures, budget.stats.db_s))
    budget.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_never_put_more_than_the_limit_in_a_window(backend, tmp_path):
    import sqlalchemy as sa

    with scratch_state_db(backend, tmp_path, "slots") as url:
        state_db.ensure_tables(state_db.engine(url), CALLS)
        barrier, out = CTX.Barrier(4), CTX.Queue()
        workers = [CTX.Process(target=_take_slots, args=(url, 6, barrier, out)) for _ in range(4)]
        for w in workers:
            w.start()
        reports = [out.get(timeout=120) for _ in workers]
        for w in workers:
            w.join(60)
        assert [r[:2] for r in reports] == [(6, 0)] * 4, reports
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            slots = [row[0] for row in conn.execute(sa.select(CALLS.c.at).where(CALLS.c.budget_key == budget_key("slots-client"))
                                                     .order_by(CALLS.c.at))]
        engine.dispose()
    assert len(slots) == 24
    crowded = [(a, b) for a, b in zip(slots, slots[5:], strict=False) if b - a < 1.0]
    assert not crowded, f"6 slots within 1 s: {crowded[:3]}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_cost_of_one_reservation(backend, tmp_path):
    """Uncontended: one process, 500 reservations at the documented limits (the hourly window's 3,600th
    latest slot is looked up on every call). Printed, not asserted."""
    with scratch_state_db(backend, tmp_path, "cost") as url:
        budget = SharedRateBudget("cost-client", [(3600, 3600.0), (100_000, 10.0)], url=url, margin_s=0.0)
        budget.reserve(60)  # connect and create the table
        budget.stats.samples.clear()
        for _ in range(500):
            assert budget.reserve(60).granted
        samples = sorted(budget.stats.samples)
        budget.close()
    assert budget.stats.failures == 0
    print(f"\nshared budget on {backend}: {len(samples)} reservations, median {statistics.median(samples) * 1000:.2f} ms, "
          f"p95 {samples[int(len(samples) * 0.95)] * 1000:.2f} ms per call")


# --- the proof against the emulator -----------------------------------------------------------------
def _fixture() -> dict[str, Any]:
    data = fixture_data()
    company = data["companies"][0]
    template = next(p for p in company["projects"] if p["id"] == PROJECT)
    company["projects"] = []
    for number, project_id in enumerate(PROJECTS):
        project = copy.deepcopy(template)
        project.update(id=project_id, name=f"Parallel {number}", project_number=f"P{number}", origin_id=f"01|P{number}")
        company["projects"].append(project)
    return data


@pytest.fixture(scope="module")
def parallel_emulator(tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("shared_budget")
    fixture = folder / "fixture.json"
    fixture.write_text(json.dumps(_fixture()), encoding="utf-8")
    with EmulatorServer(folder / "procore.db", fixture) as server:
        yield server


class _Admin:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, f"{self.base_url}/_emulator{path}", timeout=30, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def budget(self, project_id: int) -> dict[tuple[str, str], str]:
        lines = self("GET", "/state", params={"project_id": project_id})["budget_line_items"]
        keys = [(line["cost_code"], line["line_item_type"]) for line in lines]
        assert len(keys) == len(set(keys)), f"duplicated budget lines in {project_id}: {keys}"
        return {(line["cost_code"], line["line_item_type"]): line["original_budget_amount"] for line in lines}


def _parallel_loads(server: EmulatorServer, jobs: int, state_url: str, limits_setting: str) -> dict[str, Any]:
    admin = _Admin(server.base_url)
    admin("POST", "/reset")
    admin("PUT", "/faults", json={})
    admin("PUT", "/limits", json=DOCUMENTED)  # fresh counters
    admin("DELETE", "/requests")
    barrier, results = CTX.Barrier(jobs + 1), CTX.Queue()
    workers = [CTX.Process(target=load_one, args=(server.base_url, CLIENT_ID, SECRET, project_id, state_url, limits_setting,
                                                  barrier, results))
               for project_id in PROJECTS[:jobs]]
    for w in workers:
        w.start()
    barrier.wait(120)  # every worker has imported and built its client: the loads start together
    started = time.time()
    reports = [results.get(timeout=400) for _ in workers]
    wall = time.time() - started
    for w in workers:
        w.join(60)
    log = admin("GET", "/requests")
    mine = [e for e in log if e["client_id"] == CLIENT_ID]
    budgets = {project_id: admin.budget(project_id) for project_id in PROJECTS[:jobs]}
    admin("PUT", "/limits", json={"hourly_limit": 100000, "spike_limit": 1000, "spike_window_seconds": 10})
    samples = sorted(s for r in reports for s in r["budget_samples"])
    return {"jobs": jobs, "requests": len(mine), "429s": sum(1 for e in mine if e["status"] == 429),
            "wall_s": round(wall, 1), "errors": [r["error"] for r in reports if r["error"]], "budgets": budgets,
            "budget_failures": sum(r["budget_failures"] for r in reports),
            "budget_ms_median": round(statistics.median(samples) * 1000, 2) if samples else None,
            "paced": sum(r["stats"]["paced"] for r in reports)}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_loads_sharing_one_budget_get_no_429(backend, parallel_emulator, tmp_path):
    intended = intended_budget("override")
    with scratch_state_db(backend, tmp_path, "proof") as url:
        state_db.ensure_tables(state_db.engine(url), CALLS)
        for jobs in (4, 8) if backend == "postgresql" else (4,):  # the shared deployment's DB takes both; SQLite (one machine) 4, for CI's time
            figures = _parallel_loads(parallel_emulator, jobs, url, DOCUMENTED_SETTING)
            print(f"\n{backend}: {jobs} parallel loads, limits 3600/h + 25/10 s: {figures['requests']} requests, "
                  f"{figures['429s']} answered 429, wall {figures['wall_s']} s, {figures['paced']} pauses, "
                  f"budget median {figures['budget_ms_median']} ms per call")
            assert figures["errors"] == [], figures["errors"]
            assert figures["budget_failures"] == 0
            assert figures["429s"] == 0, f"{figures['429s']} of {figures['requests']} requests were answered 429"
            for project_id, budget in figures["budgets"].items():
                assert budget == intended, f"project {project_id}: {budget}"
            assert figures["requests"] > DOCUMENTED["spike_limit"] * 2  # enough calls that the spike window mattered


@pytest.mark.timeout(900)
def test_without_the_shared_budget_the_same_loads_collect_429s(parallel_emulator, tmp_path):
    """The control: the same 8 loads with PROCORE_RATE_LIMITS=off (each client paces from headers only)."""
    figures = _parallel_loads(parallel_emulator, 8, f"sqlite:///{Path(tmp_path) / 'unused.db'}", "off")
    print(f"\nno shared budget: 8 parallel loads: {figures['requests']} requests, {figures['429s']} answered 429, "
          f"wall {figures['wall_s']} s, errors {len(figures['errors'])}")
    assert figures["429s"] > 0
