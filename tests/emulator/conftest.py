"""Fixtures for the emulator contract tests: one emulator subprocess per session, reset before each test.

Everything goes over real HTTP with `requests`; nothing is mocked.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from standins.procore_emulator.server import EmulatorServer

EXAMPLE_FIXTURE = Path(__file__).resolve().parents[2] / "standins" / "procore_emulator" / "fixtures" / "example.json"
COMPANY = 1001
OTHER_COMPANY = 1002
RIVERSIDE = 2001  # unlocked, Budget tool active
HARBOR = 9876543210123  # budget locked; an explicit id above 2**32
DEFAULT_LIMITS = {"hourly_limit": 100000, "hourly_window_seconds": 3600, "spike_limit": 1000,
                  "spike_window_seconds": 10}
CLIENTS = {"demo-client": "demo-secret", "viewer-client": "viewer-secret", "no-budget-client": "no-budget-secret",
           "other-client": "other-secret"}


def exact(response: requests.Response) -> Any:
    """The JSON body with numbers as Decimals, so tests see exactly what was on the wire."""
    return json.loads(response.text, parse_float=Decimal)


class ApiSession(requests.Session):
    """A requests session bound to the emulator's base URL (paths starting with / are relative to it)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 15)
        return super().request(method, self.base_url + url if url.startswith("/") else url, *args, **kwargs)


class Emu:
    """Helpers over one running emulator: tokens, authorised sessions, admin calls, id look-ups."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.anon = ApiSession(self.base_url)
        self._tokens: dict[str, str] = {}

    def token(self, client_id: str = "demo-client") -> str:
        if client_id not in self._tokens:
            answer = self.anon.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                          "client_secret": CLIENTS[client_id]})
            assert answer.status_code == 200, answer.text
            self._tokens[client_id] = answer.json()["access_token"]
        return self._tokens[client_id]

    def api(self, client_id: str = "demo-client", company_id: int | None = COMPANY) -> ApiSession:
        session = ApiSession(self.base_url)
        session.headers["Authorization"] = f"Bearer {self.token(client_id)}"
        if company_id is not None:
            session.headers["Procore-Company-Id"] = str(company_id)
        return session

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.anon.request(method, f"/_emulator{path}", **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def clean(self) -> None:
        self.admin("POST", "/reset")
        self.admin("PUT", "/faults", json={})
        self.admin("PUT", "/limits", json=DEFAULT_LIMITS)
        self.admin("DELETE", "/requests")

    # ---- id look-ups through the public API ----
    def project_id(self, origin_id: str) -> int:
        rows = self.api().get(f"/rest/v1.0/companies/{COMPANY}/projects",
                              params={"filters[origin_id]": origin_id}).json()
        assert len(rows) == 1, rows
        return rows[0]["id"]

    def cost_code_id(self, project_id: int, code: str) -> int:
        rows = self.api().get("/rest/v1.0/cost_codes", params={"project_id": project_id, "per_page": 1000}).json()
        return next(r["id"] for r in rows if r["code"] == code)

    def lit_id(self, code: str) -> int:
        rows = self.api().get("/rest/v1.0/line_item_types", params={"company_id": COMPANY}).json()
        return next(r["id"] for r in rows if r["code"] == code)

    def wbs_id(self, project_id: int, cost_code: str, lit_code: str) -> int:
        base = f"/rest/v1.0/projects/{project_id}/work_breakdown_structure"
        segments = {s["name"]: s["id"] for s in self.api().get(f"{base}/segments").json()}
        created = self.api().patch(f"{base}/wbs_codes/bulk_create", json={"bulk": [{"segment_items": [
            {"segment_id": segments["Cost Code"], "segment_item_id": self.cost_code_id(project_id, cost_code)},
            {"segment_id": segments["Cost Type"], "segment_item_id": self.lit_id(lit_code)}]}]})
        assert created.status_code == 201, created.text
        return created.json()[0]["id"]

    def lines(self, project_id: int) -> list[dict[str, Any]]:
        return self.admin("GET", "/state", params={"project_id": project_id})["budget_line_items"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A hung emulator must fail a test, not the whole run (pytest-timeout is in requirements.txt)."""
    for item in items:
        if "tests/emulator" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.timeout(60))


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """One emulator subprocess for the whole session (tests that restart one start their own)."""
    db = tmp_path_factory.mktemp("procore") / "procore.db"
    with EmulatorServer(db, EXAMPLE_FIXTURE) as server:
        yield server


@pytest.fixture
def emu(emulator_server: EmulatorServer) -> Emu:
    """The shared emulator, re-seeded from the example fixture with faults off and default limits."""
    helper = Emu(emulator_server)
    helper.clean()
    return helper
