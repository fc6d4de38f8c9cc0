"""End-to-end fixtures: the sample database, the emulator over real HTTP, a migrated Airflow home."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from scripts.local_airflow import airflow_env, dags_test, migrate, procore_target_from_fixture
from standins.procore_emulator.server import EmulatorServer


class Emulator:
    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = server.base_url

    def reset(self) -> None:
        requests.post(f"{self.url}/_emulator/reset", timeout=30).raise_for_status()
        requests.delete(f"{self.url}/_emulator/requests", timeout=30).raise_for_status()

    def budget(self, project_id: int) -> dict[str, str]:
        """{"<cost code>|<cost type>": "<amount>"} of a project's budget lines, as the emulator stores them."""
        state = requests.get(f"{self.url}/_emulator/state", params={"project_id": project_id}, timeout=30).json()
        lines = state["budget_line_items"]
        keys = [f"{line['cost_code']}|{line['line_item_type']}" for line in lines]
        assert len(keys) == len(set(keys)), f"duplicate budget lines in project {project_id}: {keys}"
        return {key: f"{line['original_budget_amount']}" for key, line in zip(keys, lines)}

    def writes(self) -> list[dict]:
        entries = requests.get(f"{self.url}/_emulator/requests", timeout=30).json()
        entries = entries.get("requests", entries) if isinstance(entries, dict) else entries
        return [e for e in entries if e["method"] != "GET" and "/oauth/" not in e["path"]]

    def clear_log(self) -> None:
        requests.delete(f"{self.url}/_emulator/requests", timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def emulator(demo_sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("emulator")
    with EmulatorServer(db_path=folder / "procore.db", fixture_path=demo_sample.fixture_path, reset=True) as server:
        yield Emulator(server)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory, demo_sample, emulator) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = airflow_env(home, demo_sample.db_path, procore_target_from_fixture(emulator.url, demo_sample.fixture_path), home / "reports")
    env["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"] = "0"
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
