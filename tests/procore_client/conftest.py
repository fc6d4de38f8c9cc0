"""Fixtures for the Procore client tests: one emulator subprocess per session, re-seeded before each test.

The client under test talks to the emulator over real HTTP; nothing of the client, the API layer or
the loader is mocked. The only thing a test hands the client is its `sleep` (a real sleep that also
records how long it was asked to wait) and small backoff figures, so the folder runs in seconds.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.plan import DesiredLine
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from standins.procore_emulator.server import EmulatorServer

COMPANY = 1001
PROJECT = 2001          # unlocked, Budget tool active: the import target
LOCKED = 2002           # budget locked
NO_TOOL = 2003          # Budget tool inactive
PAGED = 2004            # 25 cost codes, for pagination
CLIENT_ID = "import-client"
SECRET = "s3cr3t-IMPORT-7f3a9c"          # distinctive, so a leak is found by a plain substring scan
VIEWER_ID = "viewer-client"
VIEWER_SECRET = "s3cr3t-VIEWER-b81d44"
DEFAULT_LIMITS = {"hourly_limit": 100000, "hourly_window_seconds": 3600, "spike_limit": 1000, "spike_window_seconds": 10}

# Procore's budget before the import (cost code, cost type, amount)
EXISTING = [("01-100", "L", "1500.00"), ("02-200", "M", "2500.50"), ("09-900", "L", "99.99")]
# What Spectrum says the budget should be. 04-400 is a cost code Procore lacks; E a cost type it lacks.
DESIRED = [
    ("01-100", "L", "1500.00"),          # equal: kept
    ("02-200", "M", "2600.75"),          # differs: updated (override) or kept (additive)
    ("03-300", "S", "12345678901.23"),   # new line on an existing code
    ("04-400", "L", "0.01"),             # new line on a new code
    ("04-400", "E", "777.70"),           # new line on a new code and a new cost type
    ("05-500", "M", "1000000.00"),       # new line on a new code
]
NEW_CODES = {"04-400": "Electrical", "05-500": "Finishes"}
NEW_TYPES = {"E": "Equipment"}


def fixture_data() -> dict[str, Any]:
    lines = [{"cost_code": c, "line_item_type": t, "original_budget_amount": a} for c, t, a in EXISTING]
    return {"companies": [{
        "id": COMPANY, "name": "Acme Builders",
        "clients": [{"client_id": CLIENT_ID, "client_secret": SECRET, "permission": "standard"},
                    {"client_id": VIEWER_ID, "client_secret": VIEWER_SECRET, "permission": "read_only"}],
        "line_item_types": [{"id": 6001, "code": "L", "name": "Labor", "base_type": "labor"},
                            {"code": "M", "name": "Material", "base_type": "material"},
                            {"code": "S", "name": "Subcontract", "base_type": "commitment"}],
        "projects": [
            {"id": PROJECT, "name": "Riverside Clinic", "project_number": "19.50", "origin_id": "01|19.50",
             "cost_codes": [{"code": "01-100", "name": "General Conditions"}, {"code": "02-200", "name": "Site Work"},
                            {"code": "03-300", "name": "Concrete"}, {"code": "09-900", "name": "Allowances"}],
             "budget_line_items": lines},
            {"id": LOCKED, "name": "Harbor Warehouse", "project_number": "20.10", "origin_id": "01|20.10",
             "budget_locked": True, "cost_codes": [{"code": "01-100", "name": "General Conditions"}],
             "budget_line_items": [{"cost_code": "01-100", "line_item_type": "L", "original_budget_amount": "700.25"}]},
            {"id": NO_TOOL, "name": "Hillside School", "project_number": "21.03", "origin_id": "01|21.03",
             "budget_tool_active": False, "cost_codes": [{"code": "01-100", "name": "General Conditions"}]},
            {"id": PAGED, "name": "Long List", "project_number": "22.00", "origin_id": "01|22.00",
             "cost_codes": [{"code": f"{n:02d}-000", "name": f"Code {n}"} for n in range(1, 26)]},
        ]}]}


def desired_lines() -> list[DesiredLine]:
    return [DesiredLine(c, t, Decimal(a), f"{c} {t}") for c, t, a in DESIRED]


def intended_budget(mode: str) -> dict[tuple[str, str], str]:
    """(cost code, cost type) -> amount text the emulator must hold after a correct import."""
    if mode == "override":
        return {(c, t): a for c, t, a in DESIRED}
    merged = {(c, t): a for c, t, a in EXISTING}
    for c, t, a in DESIRED:
        merged.setdefault((c, t), a)
    return merged


class RecordingSleep:
    """A real sleep that remembers every wait the client asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)


class RecordingSession(requests.Session):
    """A plain requests session that remembers the bearer tokens it carried (to scan logs for them)."""

    def __init__(self) -> None:
        super().__init__()
        self.bearers: set[str] = set()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        auth = (kwargs.get("headers") or {}).get("Authorization", "")
        if auth.startswith("Bearer "):
            self.bearers.add(auth[len("Bearer "):])
        return super().request(method, url, *args, **kwargs)


class Emu:
    """The running emulator: admin calls and a client factory."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.anon = requests.Session()

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 15)
        answer = self.anon.request(method, f"{self.base_url}/_emulator{path}", **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def clean(self) -> None:
        self.admin("POST", "/reset")
        self.admin("PUT", "/faults", json={})
        self.admin("PUT", "/limits", json=DEFAULT_LIMITS)
        self.admin("DELETE", "/requests")

    def faults(self, **config: Any) -> None:
        self.admin("PUT", "/faults", json=config)

    def injected(self) -> dict[str, int]:
        return self.admin("GET", "/faults")["injected"]

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        return self.admin("GET", "/requests", params=params)

    def budget(self, project_id: int = PROJECT) -> dict[tuple[str, str], str]:
        lines = self.admin("GET", "/state", params={"project_id": project_id})["budget_line_items"]
        keys = [(line["cost_code"], line["line_item_type"]) for line in lines]
        assert len(keys) == len(set(keys)), f"duplicated budget lines: {keys}"
        return {(line["cost_code"], line["line_item_type"]): line["original_budget_amount"] for line in lines}

    def client(self, *, client_id: str = CLIENT_ID, secret: str = SECRET, sleep: RecordingSleep | None = None,
               session: requests.Session | None = None, **kwargs: Any) -> ProcoreClient:
        kwargs.setdefault("timeout", (2.0, 5.0))
        kwargs.setdefault("max_attempts", 6)
        kwargs.setdefault("max_wait_s", 5.0)
        kwargs.setdefault("backoff_initial_s", 0.01)
        kwargs.setdefault("backoff_max_s", 0.2)
        return ProcoreClient(session=session or RecordingSession(), api_base=self.base_url, login_url=self.base_url,
                             client_id=client_id, client_secret=secret, sleep=sleep or RecordingSleep(), **kwargs)

    def loader(self, client: ProcoreClient, project_id: int = PROJECT) -> BudgetLoader:
        return BudgetLoader(ProcoreBudgetApi(client), ProjectTarget("01", "19.50", COMPANY, project_id))


def run_import(loader: BudgetLoader, mode: str) -> Any:
    """What pipeline.load does for a job: make sure codes and types exist, then converge on the plan."""
    desired = desired_lines()
    loader.ensure_line_item_types({"L": "Labor", "M": "Material", "S": "Subcontract", **NEW_TYPES})
    loader.ensure_cost_codes({"01-100": "General Conditions", "02-200": "Site Work", "03-300": "Concrete", **NEW_CODES})
    return loader.apply(desired, mode)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/procore_client" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.timeout(60))


@pytest.fixture(scope="session")
def client_fixture_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("procore_client") / "fixture.json"
    path.write_text(json.dumps(fixture_data(), indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def client_emulator(client_fixture_file: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(client_fixture_file.with_name("procore.db"), client_fixture_file) as server:
        yield server


@pytest.fixture
def emu(client_emulator: EmulatorServer) -> Emu:
    helper = Emu(client_emulator)
    helper.clean()
    return helper
