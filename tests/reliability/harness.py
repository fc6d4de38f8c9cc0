"""Shared pieces of the reliability suites: a fast-failing Procore client, fault control on the
emulator, real pipeline runs with Airflow-like task retries, the oracle checks, and the records that
`scripts/reliability_figures.py` turns into docs/reliability.md's table.

Nothing here mocks the pipeline: runs read the sample Spectrum database through the SQLite ODBC driver
and talk to the Procore emulator over HTTP. Only the client's waits are shortened (`FastSleep`,
small `max_wait_s`) so hundreds of faulty runs fit in CI.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient

CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-secret"
COMPANY_IDS = {"01": 1001, "02": 1002}
TASK_ATTEMPTS = 3  # the DAGs' retries=2: a job's task runs at most three times
RECORD_ENV = "RELIABILITY_RECORD"


# --- records for the figures -----------------------------------------------------------------------
_record_lock = threading.Lock()


def record(kind: str, **fields: Any) -> None:
    """Append one JSON line to $RELIABILITY_RECORD (set by scripts/reliability_figures.py)."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    with _record_lock, open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, **fields}, default=str) + "\n")


# --- the client ----------------------------------------------------------------------------------------
class FastSleep:
    """The client's sleep: real, but capped, and it remembers what it was asked for."""

    def __init__(self, cap_s: float = 0.01) -> None:
        self.cap_s = cap_s
        self.asked_s = 0.0
        self.calls = 0

    def __call__(self, seconds: float) -> None:
        self.calls += 1
        self.asked_s += seconds
        time.sleep(min(seconds, self.cap_s))


class CountingSession(requests.Session):
    """A requests session that counts API calls and can expire every issued token on the emulator
    every `expire_every` calls (a token expiring mid-run, again and again)."""

    def __init__(self, emulator_url: str, expire_every: int = 0) -> None:
        super().__init__()
        self.emulator_url = emulator_url
        self.expire_every = expire_every
        self.calls = 0
        self.expired = 0

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        self.calls += 1
        if self.expire_every and self.calls % self.expire_every == 0:
            requests.post(f"{self.emulator_url}/_emulator/tokens/expire", timeout=10).raise_for_status()
            self.expired += 1
        return super().request(method, url, *args, **kwargs)


def make_api(
    url: str, *, session: requests.Session | None = None, read_timeout: float = 10.0, max_attempts: int = 8,
    max_wait_s: float = 5.0, sleep: FastSleep | None = None, client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
) -> ProcoreBudgetApi:
    return ProcoreBudgetApi(
        ProcoreClient(
            session=session or requests.Session(), api_base=url, login_url=url, client_id=client[0], client_secret=client[1],
            timeout=(2.0, read_timeout), max_attempts=max_attempts, max_wait_s=max_wait_s, sleep=sleep or FastSleep(),
        )
    )


# --- the emulator's knobs ------------------------------------------------------------------------------
def set_faults(url: str, config: dict[str, Any] | None = None) -> None:
    requests.put(f"{url}/_emulator/faults", json=config or {}, timeout=10).raise_for_status()


def injected(url: str) -> dict[str, int]:
    return dict(requests.get(f"{url}/_emulator/faults", timeout=10).json()["injected"])


def set_limits(url: str, **limits: float) -> None:
    requests.put(f"{url}/_emulator/limits", json=limits, timeout=10).raise_for_status()


DEFAULT_LIMITS = {"hourly_limit": 100000, "hourly_window_seconds": 3600, "spike_limit": 1000, "spike_window_seconds": 10}


def project_lines(url: str, project_id: int) -> list[dict[str, Any]]:
    state = requests.get(f"{url}/_emulator/state", params={"project_id": project_id}, timeout=30).json()
    return state["budget_line_items"]


def issued_tokens(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [row[0] for row in db.execute("SELECT token FROM tokens")]


# --- checking a job against the oracle -------------------------------------------------------------------
@dataclass
class JobCheck:
    """How one job's Procore budget compares with the oracle's (after all task attempts)."""

    job: str
    expected_lines: int
    lost: int = 0  # expected lines missing or with another amount
    duplicates: int = 0  # budget lines beyond the first for one cost code / cost type
    extra: int = 0  # lines the oracle does not expect
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_budget(url: str, project_id: int, expected: dict[str, str], job: str) -> JobCheck:
    lines = project_lines(url, project_id)
    keys = Counter(f"{line['cost_code']}|{line['line_item_type']}" for line in lines)
    have = {f"{line['cost_code']}|{line['line_item_type']}": f"{line['original_budget_amount']}" for line in lines}
    check = JobCheck(job=job, expected_lines=len(expected))
    check.duplicates = sum(n - 1 for n in keys.values() if n > 1)
    check.lost = sum(1 for key, amount in expected.items() if have.get(key) != amount)
    check.extra = sum(1 for key in have if key not in expected)
    if check.duplicates:
        check.problems.append(f"{job}: duplicated lines {[k for k, n in keys.items() if n > 1]}")
    if check.lost:
        check.problems.append(f"{job}: lines missing or wrong: {[(k, a, have.get(k)) for k, a in expected.items() if have.get(k) != a][:10]}")
    if check.extra:
        check.problems.append(f"{job}: unexpected lines {[k for k in have if k not in expected][:10]}")
    return check


def check_accounting(result: dict[str, Any], spec: dict[str, Any], job: str) -> list[str]:
    """Every extracted row is a line item, skipped or rejected, with the oracle's counts and reasons."""
    problems = []
    stages = result.get("stages", {})
    extracted = stages.get("extract", {}).get("extracted")
    shaped = stages.get("reshape", {})
    total = sum(shaped.get(k, 0) for k in ("line_items", "skipped", "rejected"))
    if not (total == extracted == len(spec["lines"])):
        problems.append(f"{job}: rows not accounted for: line items+skipped+rejected={total}, extracted={extracted}, oracle={len(spec['lines'])}")
    counts = {k: shaped.get(k if k != "line_item" else "line_items", 0) for k in ("line_item", "skipped", "rejected")}
    if counts != spec["line_counts"]:
        problems.append(f"{job}: outcomes {counts} != oracle {spec['line_counts']}")
    reasons = Counter(stages.get("validate", {}).get("by_reason", {}))
    if reasons != Counter(line["reason"] for line in spec["lines"] if line["reason"]):
        problems.append(f"{job}: reasons {dict(reasons)} != oracle")
    return problems


def expected_budget(spec: dict[str, Any], mode: str) -> dict[str, str]:
    return spec["expected_budget"] if mode == "override" else spec["expected_budget_keep_existing"]


def job_spec(manifest: dict[str, Any], company: str, job: str) -> dict[str, Any]:
    return next(j for j in manifest["jobs"] if j["company_code"] == company and j["job_number"] == job)


def secret_leaks(texts: list[str], needles: list[str]) -> list[str]:
    return [f"{needle[:4]}… in {text[:120]!r}" for text in texts for needle in needles if needle and needle in text]
