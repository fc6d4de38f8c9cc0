"""UI plugin fixtures: the plugin package on sys.path, sample report folders for fast tests, and for the
e2e tests a demo-like run (real `airflow dags test` against the sample and the emulator) served by a
real `airflow api-server` on 127.0.0.1 with the simple auth manager."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.local_airflow import AIRFLOW, ROOT, airflow_env, dags_test, migrate, procore_target_from_fixture, without_retries
from tests.ui.browser import free_port

PLUGINS = ROOT / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))  # as Airflow does: plugins/ is on sys.path

with warnings.catch_warnings():  # Starlette warns once, at import, that its TestClient will move to httpx2
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*is deprecated.*")
    import fastapi.testclient  # noqa: F401

ARTIFACTS = ROOT / "var" / "test-artifacts" / "ui"
MANUAL_CONF = {"company_code": "01", "job_number": "19.50", "merge_mode": "override", "dry_run": False, "review": "never"}
NIGHTLY_CONF = {"dry_run": True}


# --- fast tests: report folders written by hand, in the pipeline's layout -------------------------
def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


def write_status(root: Path, status: dict[str, Any], result: dict[str, Any] | None = None) -> None:
    """The job's latest status in the reports root's state database, as the pipeline records it, with
    its run's history row from `result` (default: the status itself)."""
    from include.budget_import import job_status_store

    job_status_store.record_result(result if result is not None else status, status, root=root)


def finished(company: str, job: str, status: str, run_id: str, *, at: str = "2026-11-20T02:31:00+00:00", plan: dict[str, int] | None = None,
             rejected: int = 0, total: str = "1000.00", rejected_total: str = "0.00", procore_total: str | None = None,
             description: str = "Riverside Clinic", **extra: Any) -> dict[str, Any]:
    """A finished job's result as the pipeline writes it: `total` is Spectrum's (every extracted row),
    `rejected_total` the part of it that was rejected; the rest was imported."""
    from include.budget_import.totals import exact_text, job_totals

    plan = plan or {"create": 2, "update": 1, "delete": 0, "keep": 3}
    imported = exact_text(Decimal(total) - Decimal(rejected_total))
    spectrum = {"spectrum": total, "line_items": imported, "skipped": "0.00", "rejected": rejected_total, "unreadable_rows": 0}
    return {
        "company_code": company, "job_number": job, "status": status, "finished_at": at, "reason": None, "message": "",
        "mode": "override", "dry_run": status == "dry_run", "procore_project_id": 2001, "procore_project_name": description,
        "job_description": description, "run_id": run_id,
        "stages": {
            "extract": {"extracted": 6 + rejected},
            "validate": {"rows": 6 + rejected, "by_reason": {"missing_key": rejected} if rejected else {}},
            "reshape": {"line_items": 6, "skipped": 0, "rejected": rejected, "totals": spectrum},
            "load": {"mode": "override", "dry_run": status == "dry_run", "plan": plan, "reconciled": True,
                     "imported_total": imported, "procore_total": procore_total or imported, "api": {"calls": 9, "writes": 3}},
        },
        "totals": job_totals(spectrum, procore_total or imported),
        **extra,
    }


def blocked(company: str, job: str, reason: str, message: str, at: str = "2026-11-20T02:31:05+00:00") -> dict[str, Any]:
    return {"company_code": company, "job_number": job, "status": "blocked", "finished_at": at, "reason": reason, "message": message,
            "mode": "override", "dry_run": False}


@pytest.fixture()
def reports_root(tmp_path: Path) -> Path:
    """Two runs: a manual override of 01/19.50, then a nightly dry run (ready, blocked, failed validation)."""
    root = tmp_path / "budget_reports"
    manual_id, nightly_id = "manual__2026-11-20T02:30:00+00:00", "scheduled__2026-11-21T02:30:00+00:00"
    manual, nightly = root / "runs" / "manual__2026-11-20T02_30_00_00_00", root / "runs" / "scheduled__2026-11-21T02_30_00_00_00"

    synced = finished("01", "19.50", "synced", manual_id, total="2630361.54", plan={"create": 17, "update": 2, "delete": 2, "keep": 1})
    write_json(manual / "01_19.50" / "result.json", synced)
    write_json(manual / "summary.json", {"jobs": 1, "by_status": {"synced": 1}, "results": [synced], "failed_jobs": []})
    write_status(root, synced)
    write_json(manual / "01_19.50" / "plan.json", {
        "mode": "override", "counts": {"create": 1, "update": 1, "delete": 1, "keep": 1}, "dry_run": False, "project_id": 2001,
        "create": [{"cost_code": "01-500", "cost_type": "L", "amount_before": None, "amount_after": "216860.00"}],
        "update": [{"cost_code": "01-100", "cost_type": "L", "amount_before": "1500.00", "amount_after": "1850.00"}],
        "delete": [{"cost_code": "99-900", "cost_type": "O", "amount_before": "25000.00", "amount_after": None}],
        "keep": [{"cost_code": "01-200", "cost_type": "L", "amount_before": "12000.00", "amount_after": "12000.00"}],
    })
    write_json(manual / "01_19.50" / "validation.json", {
        "suite": "spectrum_budget_lines", "rows": 7, "success": False, "expectations": [
            {"rule": "missing_key", "expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "phase_code"},
             "success": False, "unexpected_count": 1, "element_count": 7, "failing_rows_sample": [{"phase_code": None, "row_id": 4}]},
            {"rule": "unknown_cost_type", "expectation": "expect_column_values_to_be_in_set", "kwargs": {"column": "cost_type", "value_set": ["E", "L"]},
             "success": True, "unexpected_count": 0, "element_count": 7, "failing_rows_sample": []},
        ],
    })
    (manual / "01_19.50" / "rejects.csv").write_text(
        "row_id,company_code,job_number,phase_code,cost_type,description,original_estimate,jtd_cost,outcome,reason,message\n"
        "4,01,19.50,,M,Misc. Materials,750.0000,120.0000,rejected,missing_key,Phase code or cost type is blank.\n", encoding="utf-8")
    write_json(manual / "01_19.50" / "reconciliation.json", {
        "success": True, "checked_lines": 2, "spectrum_total": "218710.00", "procore_total": "230710.00", "expectations": [],
        "lines": [{"cost_code": "01-500", "cost_type": "L", "spectrum_amount": "216860.00", "procore_amount": "216860.00", "checked": True},
                  {"cost_code": "01-100", "cost_type": "L", "spectrum_amount": "1850.00", "procore_amount": "1850.00", "checked": True}],
    })
    write_json(manual / "01_19.50" / "snapshot.json", {
        "company_code": "01", "job_number": "19.50", "project_id": 2001, "taken_at": "2026-11-20T02:30:40+00:00", "line_count": 2,
        "total": "26500.00", "lines": [{"id": 1, "cost_code": "01-100", "cost_type": "L", "amount": "1500.00"},
                                       {"id": 2, "cost_code": "99-900", "cost_type": "O", "amount": "25000.00"}],
    })
    (manual / "01_19.50" / "snapshot.pdf").write_bytes(b"%PDF-1.4\n% a stand-in\n")

    ready = finished("01", "20.01", "dry_run", nightly_id, at="2026-11-21T02:31:00+00:00", total="1112112.07", rejected_total="98334.57", procore_total="0.00",
                     plan={"create": 10, "update": 0, "delete": 0, "keep": 0}, rejected=8, description="Harbor Campus Bldg A")
    stopped = blocked("01", "21.10", "estimates_not_posted",
                      "Estimate entries are not posted in Spectrum: post them, then import. (2 unposted estimate entries)",
                      at="2026-11-21T02:31:01+00:00")
    invalid = blocked("02", "4410", "failed_validation", "A reshaped line item is not mapped to a Procore cost code and line item type.",
                      at="2026-11-21T02:31:02+00:00")
    for result in (ready, stopped, invalid):
        write_json(nightly / f"{result['company_code']}_{result['job_number']}" / "result.json", result)
    write_status(root, {**ready, "status": "ready"}, ready)
    # statuses that name no run (as blocked statuses once did): the Budgets page finds the run by its recorded result
    write_status(root, stopped, {**stopped, "run_id": nightly_id})
    write_status(root, invalid, {**invalid, "run_id": nightly_id})
    write_json(nightly / "summary.json", {"jobs": 3, "by_status": {"dry_run": 1, "blocked": 2}, "results": [ready, stopped, invalid], "failed_jobs": []})
    os.utime(manual, (1_700_000_000, 1_700_000_000))  # the nightly run is the newer one
    return root


@pytest.fixture()
def airflow_runs() -> dict:
    """What the app's Airflow lookup answers (run folder -> AirflowRun); a test may add runs to it."""
    from spectrum_budget_reports.reports import AirflowRun

    return {
        "manual__2026-11-20T02_30_00_00_00": AirflowRun("spectrum_budget_import", "manual__2026-11-20T02:30:00+00:00", "success"),
        "scheduled__2026-11-21T02_30_00_00_00": AirflowRun("spectrum_budget_nightly", "scheduled__2026-11-21T02:30:00+00:00", "success"),
    }


@pytest.fixture()
def client(reports_root: Path, airflow_runs: dict):
    """The app over the sample reports, logged in (the auth dependency overridden: login is not the point)."""
    from fastapi.testclient import TestClient

    from spectrum_budget_reports.app import create_app

    app = create_app(reports_root, task_label=lambda dag_id, run_id, task_id, map_index: {3: "01/21.10"}.get(map_index),
                     run_lookup=lambda: dict(airflow_runs))
    app.dependency_overrides[app.state.auth_dependency] = lambda: None
    with TestClient(app) as test_client:
        yield test_client


# --- e2e: a demo-like run served by a real api-server ---------------------------------------------
@pytest.fixture(scope="session")
def ui_airflow_home(tmp_path_factory, demo_sample, emulator) -> dict[str, str]:
    """A manual override import of 01/19.50, then the nightly DAG as a dry run of every linked job:
    synced, ready to import (with plans) and blocked jobs, as real reports."""
    emulator.reset()
    home = tmp_path_factory.mktemp("ui_airflow_home")
    env = airflow_env(home, demo_sample.db_path, procore_target_from_fixture(emulator.url, demo_sample.fixture_path), home / "reports")
    without_retries(env)
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin,viewer:viewer"
    migrate(env)
    for dag_id, conf in (("spectrum_budget_import", MANUAL_CONF), ("spectrum_budget_nightly", NIGHTLY_CONF)):
        result = dags_test(env, dag_id, conf)
        assert result.returncode == 0, f"{dag_id} failed:\n{(result.stdout + result.stderr)[-4000:]}"
    return env


@dataclass
class ApiServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def reports(self) -> Path:
        return Path(self.env["BUDGET_IMPORT_REPORTS_DIR"])

    def password(self, user: str) -> str:
        passwords = json.loads((Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text(encoding="utf-8"))
        return str(passwords[user])

    def token(self, user: str = "admin") -> str:
        response = requests.post(f"{self.url}/auth/token", json={"username": user, "password": self.password(user)}, timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


@pytest.fixture(scope="session")
def api_server(ui_airflow_home, tmp_path_factory) -> Iterator[ApiServer]:
    """`airflow api-server` on 127.0.0.1 (one worker), stopped by its process group in teardown."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("api_server") / "api-server.log"
    env = {**ui_airflow_home, "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", env, process, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"api-server exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if requests.get(f"{server.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"api-server did not answer in 90 s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group this test started (the api-server and its worker), then SIGKILL if needed."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # its worker processes too
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
