"""Fixtures for the emulator contract tests: one emulator subprocess per session, reset before each test.

Everything goes over real HTTP with `requests`; nothing is mocked.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from standins.procore_emulator.jsonio import dumps
from standins.procore_emulator.server import EmulatorServer

FIXTURES = Path(__file__).resolve().parents[2] / "standins" / "procore_emulator" / "fixtures"
EXAMPLE_FIXTURE = FIXTURES / "example.json"
SPANISH_FIXTURE = FIXTURES / "spanish.json"
COMPANY = 1001
OTHER_COMPANY = 1002
RIVERSIDE = 2001  # unlocked, Budget tool active
HARBOR = 9876543210123  # budget locked; an explicit id above 2**32
DEFAULT_LIMITS = {"hourly_limit": 100000, "hourly_window_seconds": 3600, "spike_limit": 1000,
                  "spike_window_seconds": 10}
CLIENTS = {"demo-client": "demo-secret", "viewer-client": "viewer-secret", "no-budget-client": "no-budget-secret",
           "admin-client": "admin-secret", "other-client": "other-secret", "andina-client": "andina-secret"}
WBS = "/rest/v1.0/projects/{p}/work_breakdown_structure"


def exact(response: requests.Response) -> Any:
    """The JSON body with numbers as Decimals, so tests see exactly what was on the wire."""
    return json.loads(response.text, parse_float=Decimal)


class ApiSession(requests.Session):
    """A requests session bound to the emulator's base URL (paths starting with / are relative to it).

    A `json=` body is written with the emulator's exact encoder, so a Decimal goes out as the exact
    JSON number it holds (Procore's spec wants amounts as numbers, not strings)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 15)
        if kwargs.get("json") is not None:
            kwargs["data"] = dumps(kwargs.pop("json"))
            kwargs["headers"] = {"Content-Type": "application/json", **(kwargs.get("headers") or {})}
        return super().request(method, self.base_url + url if url.startswith("/") else url, *args, **kwargs)


class Emu:
    """Helpers over one running emulator: tokens, authorised sessions, admin calls, id look-ups."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.anon = ApiSession(self.base_url)
        self._tokens: dict[str, str] = {}
        self._segments: dict[tuple[int, str, int], dict[str, int]] = {}

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

    def cost_code_id(self, project_id: int, full_code: str) -> int:
        rows = self.api().get("/rest/v1.0/cost_codes", params={"project_id": project_id, "per_page": 1000}).json()
        return next(r["id"] for r in rows if r["full_code"] == full_code)

    def lit_id(self, code: str) -> int:
        rows = self.api().get("/rest/v1.0/line_item_types", params={"company_id": COMPANY}).json()
        return next(r["id"] for r in rows if r["code"] == code)

    def segments(self, project_id: int, client_id: str = "demo-client", company_id: int = COMPANY) -> dict[str, int]:
        """Segment ids by `type` (never by the display name, which a company may translate)."""
        key = (project_id, client_id, company_id)
        if key not in self._segments:
            rows = self.api(client_id, company_id).get(WBS.format(p=project_id) + "/segments").json()
            self._segments[key] = {s["type"]: s["id"] for s in rows}
        return self._segments[key]

    def segment_items(self, project_id: int, kind: str, client_id: str = "demo-client",
                      company_id: int = COMPANY) -> list[dict[str, Any]]:
        segment = self.segments(project_id, client_id, company_id)[kind]
        answer = self.api(client_id, company_id).get(WBS.format(p=project_id) + f"/segments/{segment}/segment_items",
                                                     params={"per_page": 10000})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def cost_code_item(self, project_id: int, full_code: str) -> int:
        """The segment item id of a cost code (by its full code)."""
        return next(i["id"] for i in self.segment_items(project_id, "cost_code") if i["path_code"] == full_code)

    def type_item(self, project_id: int, code: str) -> int:
        """The segment item id of a line item type (cost type), by its code."""
        return next(i["id"] for i in self.segment_items(project_id, "line_item_type") if i["code"] == code)

    def pair(self, project_id: int, cost_code_item: int, type_item: int, **extra: Any) -> dict[str, Any]:
        """A WBS code request body for two segment item ids."""
        seg = self.segments(project_id)
        return {**extra, "segment_items": [{"segment_id": seg["cost_code"], "segment_item_id": cost_code_item},
                                           {"segment_id": seg["line_item_type"], "segment_item_id": type_item}]}

    def wbs_id(self, project_id: int, cost_code: str, lit_code: str) -> int:
        body = self.pair(project_id, self.cost_code_item(project_id, cost_code), self.type_item(project_id, lit_code))
        created = self.api().patch(WBS.format(p=project_id) + "/wbs_codes/bulk_create", json={"bulk": [body]})
        assert created.status_code == 201, created.text
        assert created.json()["errors"] == [], created.text
        return created.json()["entities"][0]["id"]

    def lines(self, project_id: int) -> list[dict[str, Any]]:
        return self.admin("GET", "/state", params={"project_id": project_id})["budget_line_items"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A hung emulator must fail a test, not the whole run (pytest-timeout is in requirements-dev.txt)."""
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
