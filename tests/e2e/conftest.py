"""End-to-end fixtures: a migrated Airflow home wired to the sample database and the emulator."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.local_airflow import airflow_env, dags_test, migrate, procore_target_from_fixture, without_retries


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory, demo_sample, emulator) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = airflow_env(home, demo_sample.db_path, procore_target_from_fixture(emulator.url, demo_sample.fixture_path), home / "reports")
    without_retries(env)
    migrate(env)
    return env


def run_dag(env: dict[str, str], dag_id: str, conf: dict | None = None) -> Path:
    """`airflow dags test`; returns the run's report folder (the newest under runs/)."""
    runs = Path(env["BUDGET_IMPORT_REPORTS_DIR"]) / "runs"
    before = set(runs.glob("*")) if runs.is_dir() else set()
    result = dags_test(env, dag_id, conf)
    new = sorted(set(runs.glob("*")) - before)
    assert new, f"{dag_id} wrote no report:\n{(result.stdout + result.stderr)[-3000:]}"
    run = new[-1]
    run.joinpath("dags_test.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    return run


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
