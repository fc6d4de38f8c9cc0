"""The preflight DAG for real: `airflow dags test spectrum_budget_preflight` against the sample Spectrum and the
emulator (tests/e2e/conftest.py's Airflow home). A plain run writes nothing to Procore and reports the sample's
unlinked job; a run with the `link` param sets that project's origin_id (read back through the emulator's API)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from scripts.local_airflow import dags_test

pytestmark = pytest.mark.e2e
LAKESIDE = 2008  # the sample's project for 01/22.00 (same name and number, no origin_id)


def origin_of(emulator, project_id: int, company_id: int = 1001) -> str | None:
    token = requests.post(f"{emulator.url}/oauth/token", data={"grant_type": "client_credentials", "client_id": "demo-client",
                                                              "client_secret": "demo-secret"}, timeout=30).json()["access_token"]
    rows = requests.get(f"{emulator.url}/rest/v1.0/companies/{company_id}/projects", params={"filters[id]": str(project_id)}, timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Procore-Company-Id": str(company_id)}).json()
    return rows[0]["origin_id"]


def latest(env: dict[str, str]) -> dict:
    return json.loads((Path(env["BUDGET_IMPORT_REPORTS_DIR"]) / "preflight" / "latest.json").read_text(encoding="utf-8"))


def test_preflight_dag_reports_and_links(airflow_home, emulator):
    emulator.reset()
    try:
        result = dags_test(airflow_home, "spectrum_budget_preflight")
        log = result.stdout + result.stderr
        assert result.returncode == 0, log[-4000:]
        report = latest(airflow_home)
        assert report["status"] == "warning" and report["counts"]["failed"] == 0, report["checks"]
        assert report["run_id"].startswith("manual__")
        assert [(u["company_code"], u["job_number"]) for u in report["unlinked"]] == [("01", "22.00")]
        assert report["unlinked"][0]["suggestions"][0]["procore_project_id"] == LAKESIDE
        assert report["link"] is None
        assert emulator.writes() == [], "the preflight wrote to Procore"

        admin = dict(airflow_home)
        conn = json.loads(admin["AIRFLOW_CONN_PROCORE_API"])
        admin["AIRFLOW_CONN_PROCORE_API"] = json.dumps({**conn, "login": "admin-client", "password": "admin-secret"})
        link = {"company_code": "01", "job_number": "22.00", "procore_project_id": LAKESIDE}
        result = dags_test(admin, "spectrum_budget_preflight", {"link": link})
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        assert origin_of(emulator, LAKESIDE) == "01|22.00"
        report = latest(airflow_home)
        assert report["link"]["changed"] is True and report["unlinked"] == []
        assert [(w["method"], w["path"]) for w in emulator.writes()] == [("PATCH", f"/rest/v1.0/projects/{LAKESIDE}")]
    finally:
        emulator.reset()  # the session's emulator back to the sample (other e2e tests expect 22.00 unlinked)
