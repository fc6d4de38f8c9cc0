"""Slowing down before the limit: the client reads X-Rate-Limit-* and spreads its calls instead of
running into 429s (Procore counts failed requests too)."""
from __future__ import annotations

import time

import pytest

from include.budget_import.procore.errors import ProcoreRateLimitError

from .conftest import COMPANY, PROJECT, Emu, RecordingSleep

BUDGET = f"/rest/v1.0/projects/{PROJECT}/budget"


def test_spike_window_is_respected_without_429s(emu: Emu) -> None:
    sleep = RecordingSleep()
    client = emu.client(sleep=sleep)
    emu.admin("PUT", "/limits", json={"spike_limit": 5, "spike_window_seconds": 1})
    for _ in range(30):
        client.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)
    statuses = [c["status"] for c in emu.requests()]
    assert len(statuses) == 31 and statuses.count(429) == 0  # 30 calls + the token
    assert client.stats.rate_limited == 0
    assert client.stats.waited_for_limits_s > 0 and sleep.total > 0


def test_both_windows_are_respected(emu: Emu) -> None:
    """A tight 'hourly' window and a spike window at once: each is paced as it runs low."""
    client = emu.client()
    emu.admin("PUT", "/limits", json={"hourly_limit": 12, "hourly_window_seconds": 3, "spike_limit": 5, "spike_window_seconds": 1})
    for _ in range(20):
        client.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)
    assert [c["status"] for c in emu.requests()].count(429) == 0
    assert client.stats.rate_limited == 0 and client.stats.waited_for_limits_s > 0


def test_two_workers_sharing_one_app_recover_from_429s(emu: Emu) -> None:
    """Parallel Airflow tasks share the app's limit: a worker that meets a 429 waits Retry-After."""
    first, second = emu.client(), emu.client()
    emu.admin("PUT", "/limits", json={"spike_limit": 6, "spike_window_seconds": 1})
    for _ in range(6):
        first.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)
        second.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)
    statuses = [c["status"] for c in emu.requests(path_contains="/rest/")]
    assert statuses.count(200) == 12
    assert statuses.count(429) <= 4  # each worker sees the other's use in the headers and paces
    assert first.stats.rate_limited + second.stats.rate_limited == statuses.count(429)


def test_a_spent_hourly_window_fails_at_once_without_calling(emu: Emu) -> None:
    """When the window will not reset within max_wait_s, the client says so instead of sleeping and
    then collecting a 429 (which Procore would count against the limit too)."""
    client = emu.client(max_wait_s=5)
    emu.admin("PUT", "/limits", json={"hourly_limit": 3})
    client.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)  # the token is call 1
    client.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)
    started = time.monotonic()
    with pytest.raises(ProcoreRateLimitError) as info:
        client.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)
    assert time.monotonic() - started < 0.5
    assert f"project {PROJECT}" in str(info.value) and "max_wait_s=5" in str(info.value)
    assert [c["status"] for c in emu.requests()] == [200, 200, 200]  # nothing sent past the limit
