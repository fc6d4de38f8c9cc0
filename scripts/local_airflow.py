"""Run this project's DAGs on this machine: a project-local AIRFLOW_HOME (SQLite metadata DB), the
connections as AIRFLOW_CONN_* variables, and `airflow` CLI calls. Used by `make demo` and the tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@dataclass(frozen=True)
class ProcoreTarget:
    base_url: str
    client_id: str
    client_secret: str
    companies: dict[str, int]  # Spectrum company code -> Procore company id


def procore_target_from_fixture(base_url: str, fixture_path: Path) -> ProcoreTarget:
    """The demo credentials and company map of an emulator fixture (its first standard client)."""
    fixture = json.loads(Path(fixture_path).read_text(encoding="utf-8"))
    companies = fixture["companies"]
    client = next(c for c in companies[0]["clients"] if c.get("permission", "standard") == "standard")
    codes = {}
    for company in companies:
        code = next((p["origin_id"].split("|")[0] for p in company.get("projects", []) if p.get("origin_id")), None)
        if code:
            codes[code] = int(company["id"])
    return ProcoreTarget(base_url, client["client_id"], client["client_secret"], codes)


def _emulator_rate_limits() -> str:
    from standins.procore_emulator.ratelimit import Limits

    limits = Limits()
    return f"{limits.hourly_limit}/{limits.hourly_window_seconds:g},{limits.spike_limit}/{limits.spike_window_seconds:g}"


EMULATOR_RATE_LIMITS = _emulator_rate_limits()  # PROCORE_RATE_LIMITS for the local emulator's default limits


def airflow_env(home: Path, spectrum_db: Path, procore: ProcoreTarget, reports: Path | None = None) -> dict[str, str]:
    url = urlparse(procore.base_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA": "true",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # ROOT/config: airflow_local_settings.py, the scheduler's and Celery worker's preload (include/budget_import/preload.py)
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "config")]) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
            "BUDGET_IMPORT_REPORTS_DIR": str(reports or home / "budget_reports"),
            # the shared request budget at the emulator's limits (a real site: Procore's, the default; settings.py)
            "PROCORE_RATE_LIMITS": EMULATOR_RATE_LIMITS,
            "AIRFLOW_CONN_SPECTRUM_DB": json.dumps({"conn_type": "odbc", "schema": str(spectrum_db), "extra": {"driver": "SQLite3"}}),
            "AIRFLOW_CONN_PROCORE_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": url.hostname,
                    "port": url.port,
                    "schema": url.scheme,
                    "login": procore.client_id,
                    "password": procore.client_secret,
                    "extra": {"login_url": procore.base_url, "company_id": next(iter(procore.companies.values())), "companies": procore.companies,
                              "timeout": 30},
                }
            ),
        }
    )
    return env


def without_retries(env: dict[str, str]) -> dict[str, str]:
    """A failing task fails at once instead of after the DAGs' retries and backoff (tests, benchmarks): both
    Airflow's default and the import DAGs' own BUDGET_IMPORT_TASK_RETRIES (default_args), which overrides it."""
    env["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"] = "0"
    env["BUDGET_IMPORT_TASK_RETRIES"] = "0"
    return env


def airflow(env: dict[str, str], *args: str, check: bool = True, capture: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AIRFLOW, *args], env=env, cwd=ROOT, text=True, capture_output=capture, check=check, timeout=timeout)


PROCORE_POOL_SLOTS = 4


def migrate(env: dict[str, str]) -> None:
    """Metadata DB up to date, and the pool that bounds concurrent Procore work."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", "procore_api", str(PROCORE_POOL_SLOTS), "Jobs writing to Procore at once (keep under its rate limits)")


def dags_test(env: dict[str, str], dag_id: str, conf: dict[str, Any] | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["dags", "test", dag_id]
    if conf:
        args += ["-c", json.dumps(conf)]
    return airflow(env, *args, check=check)
