"""State lives in the SQLite file: it survives a restart; --reset (or a fresh db) seeds from the fixture."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from standins.procore_emulator.server import EmulatorServer

from .conftest import COMPANY, EXAMPLE_FIXTURE, RIVERSIDE, ApiSession


def _api(server: EmulatorServer, token: str) -> ApiSession:
    session = ApiSession(server.base_url)
    session.headers.update({"Authorization": f"Bearer {token}", "Procore-Company-Id": str(COMPANY)})
    return session


def test_state_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "persist.db"
    with EmulatorServer(db, EXAMPLE_FIXTURE) as server:
        token = ApiSession(server.base_url).post("/oauth/token", data={
            "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
        ).json()["access_token"]
        api = _api(server, token)
        line = api.get(f"/rest/v2.0/companies/{COMPANY}/projects/{RIVERSIDE}/budget_line_items").json()["data"][0]
        assert api.post("/rest/v1.0/budget_line_items/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
            {"id": int(line["id"]), "wbs_code_id": int(line["wbs_code"]["id"]),
             "original_budget_amount": Decimal("424242.42")}]}).status_code == 200
        assert api.post(f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock").status_code == 201

        server.restart()
        api = _api(server, token)  # the same token still works
        after = api.get(f"/rest/v2.0/companies/{COMPANY}/projects/{RIVERSIDE}/budget_line_items").json()["data"][0]
        assert after["original_budget_amount"] == "424242.42" and after["id"] == line["id"]
        assert api.get(f"/rest/v1.0/projects/{RIVERSIDE}/budget").json() == {"locked": True}

    with EmulatorServer(db, EXAMPLE_FIXTURE, reset=True) as server:  # --reset re-seeds
        state = json.loads(ApiSession(server.base_url).get(f"/_emulator/state?project_id={RIVERSIDE}").text)
        assert state["budget_locked"] is False
        assert state["budget_line_items"][0]["original_budget_amount"] == "1500.00"


def test_reset_from_a_fixture_in_the_body(tmp_path: Path) -> None:
    fixture = {"companies": [{"name": "Tiny Co", "clients": [{"client_id": "c", "client_secret": "s"}],
                              "line_item_types": [{"code": "L", "name": "Labor"}],
                              "projects": [{"name": "P", "origin_id": "J1",
                                            "cost_codes": [{"code": "1", "name": "One"}],
                                            "budget_line_items": [{"cost_code": "1", "line_item_type": "L",
                                                                   "original_budget_amount": 0.1}]}]}]}
    with EmulatorServer(tmp_path / "body.db", EXAMPLE_FIXTURE) as server:
        admin = ApiSession(server.base_url)
        answer = admin.post("/_emulator/reset", json=fixture)
        assert answer.status_code == 200 and answer.json()["counts"]["budget_line_items"] == 1
        token = admin.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "c",
                                                 "client_secret": "s"}).json()["access_token"]
        company = admin.get("/_emulator/state").json()["counts"]["companies"]
        assert company == 1
        assert admin.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "demo-client",
                                                "client_secret": "demo-secret"}).status_code == 401
        assert token
        bad = admin.post("/_emulator/reset", json={"companies": [{"name": "x", "projects": [
            {"name": "p", "budget_line_items": [{"cost_code": "missing", "line_item_type": "L"}]}]}]})
        assert bad.status_code == 422 and "missing" in bad.json()["errors"]
        server.restart()
        assert ApiSession(server.base_url).get("/_emulator/state").json()["counts"]["companies"] == 1
