"""Shared fixtures: the sample Spectrum database (real SQLite ODBC driver) and its oracle manifest."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from scripts.local_airflow import EMULATOR_RATE_LIMITS
from standins.procore_emulator.server import EmulatorServer

# The shared Procore request budget (settings.procore_rate_limits) defaults to Procore's documented limits;
# every emulator the tests start runs at its own, higher defaults unless a test lowers them (and sets
# PROCORE_RATE_LIMITS itself, as tests/procore_client/test_shared_budget.py does).
os.environ.setdefault("PROCORE_RATE_LIMITS", EMULATOR_RATE_LIMITS)

ROOT = Path(__file__).resolve().parent.parent
CLIENT_USER_AGENT = "spectrum-procore-budget"  # the project's ProcoreClient sends spectrum-procore-budget/<version>


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: harmless where it is not installed or turned off
def pytest_xdist_make_scheduler(config, log):
    """Under `-n` with xdist's default distribution, a folder whose session fixtures are costly stays on one
    worker (tests/xdist_groups.py); a `--dist` asked for by name is left to xdist."""
    if config.getoption("dist") != "load":
        return None
    from tests.xdist_groups import FolderGroupScheduling

    return FolderGroupScheduling(config, log)


def _blamed(violation: dict) -> bool:
    """A wrong answer is always the emulator's fault; a wrong request only counts when our client sent it
    (tests that send bad requests on purpose with plain `requests` only get them refused)."""
    return violation["kind"] == "response" or str(violation.get("user_agent") or "").startswith(CLIENT_USER_AGENT)


@pytest.fixture(autouse=True)
def procore_contract_check():
    """After every test, ask each emulator this process runs for the contract violations recorded since the
    last check (one local call per emulator; nothing when none runs) and fail on ours."""
    yield
    servers = EmulatorServer.unreported()
    if not servers:
        return
    found = []
    for server in servers:
        try:
            found += [v for v in server.new_violations() if _blamed(v)]
        except (OSError, ValueError):  # a server that died mid-test: its own test fails for that
            continue
    if found:
        lines = [f"{v['kind']} {v['method']} {v['path']} -> {v['status']} ({v['user_agent']}): " + "; ".join(v["problems"])
                 for v in found[:20]]
        more = f"\n... and {len(found) - 20} more" if len(found) > 20 else ""
        pytest.fail("Procore contract violations:\n" + "\n".join(lines) + more, pytrace=False)


@dataclass(frozen=True)
class Sample:
    db_path: Path
    manifest_path: Path
    fixture_path: Path

    @property
    def odbc(self) -> str:
        return f"DRIVER={{SQLite3}};Database={self.db_path}"

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))


def build_sample(folder: Path, profile: str = "demo", *extra: str) -> Sample:
    folder.mkdir(parents=True, exist_ok=True)
    sample = Sample(folder / "spectrum.db", folder / "manifest.json", folder / "procore_fixture.json")
    subprocess.run(
        [sys.executable, "-m", "standins.spectrum_sample", "build", "--profile", profile, "--odbc", sample.odbc,
         "--manifest", str(sample.manifest_path), "--procore-fixture", str(sample.fixture_path), *extra],
        cwd=ROOT, check=True, capture_output=True,
    )
    return sample


@pytest.fixture(scope="session")
def demo_sample(tmp_path_factory) -> Sample:
    return build_sample(tmp_path_factory.mktemp("demo_sample"))


@pytest.fixture()
def spectrum_conn(demo_sample):
    import pyodbc

    conn = pyodbc.connect(demo_sample.odbc)
    yield conn
    conn.close()


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
        return {key: f"{line['original_budget_amount']}" for key, line in zip(keys, lines, strict=True)}

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
