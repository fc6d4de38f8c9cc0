"""Transient failures: 429s honour Retry-After, 5xx and dropped connections on reads are retried with
backoff, slow answers hit a bounded timeout, attempts are bounded, and a create whose outcome is
unknown is never blindly repeated."""
from __future__ import annotations

import time
from decimal import Decimal
from email.utils import formatdate

import pytest
import requests

from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from include.budget_import.procore.errors import (
    AmbiguousWriteError,
    ProcoreError,
    ProcoreUnavailableError,
)
from standins.procore_emulator.server import free_port

from .conftest import CLIENT_ID, COMPANY, PROJECT, SECRET, Emu, RecordingSleep

BUDGET = f"/rest/v1.0/projects/{PROJECT}/budget"
SYNC = "/budget_line_items/sync"


def read_budget(client: ProcoreClient) -> dict:
    return client.get_json(BUDGET, company_id=COMPANY, project_id=PROJECT)


def gap_after(entries: list[dict], index: int) -> float:
    return entries[index + 1]["time"] - entries[index]["time"]


def test_injected_429s_by_rule_honour_retry_after(emu: Emu) -> None:
    sleep = RecordingSleep()
    client = emu.client(sleep=sleep)
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(retry_after=1, rules=[{"kind": "rate_limit", "method": "GET", "path_contains": "/budget", "times": 1}])
    assert read_budget(client) == {"locked": False}
    calls = emu.requests(path_contains="/budget")
    assert [c["status"] for c in calls] == [429, 200]
    assert gap_after(calls, 0) >= 1.0  # the server saw the retry no sooner than Retry-After
    assert client.stats.rate_limited == 1 and client.stats.retries == 1
    assert max(sleep.calls) >= 1.0 and client.stats.waited_for_limits_s >= 1.0


def test_random_429s_honour_retry_after(emu: Emu) -> None:
    client = emu.client()
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(seed=11, rate_limit_rate=0.3, retry_after=1, methods=["GET"])
    for _ in range(5):
        assert read_budget(client) == {"locked": False}
    calls = emu.requests(path_contains="/budget")
    limited = [i for i, c in enumerate(calls) if c["status"] == 429]
    assert limited and len(calls) == 5 + len(limited) and client.stats.rate_limited == len(limited)
    assert all(gap_after(calls, i) >= 1.0 for i in limited)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_on_reads_are_retried(emu: Emu, status: int) -> None:
    sleep = RecordingSleep()
    client = emu.client(sleep=sleep)
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(retry_after=0, rules=[{"kind": "error", "status": status, "method": "GET", "path_contains": "/budget", "times": 2}])
    assert read_budget(client) == {"locked": False}
    assert [c["status"] for c in emu.requests(path_contains="/budget")] == [status, status, 200]
    assert client.stats.retries == 2
    assert len(sleep.calls) == 2 and sleep.calls[1] >= sleep.calls[0] * 1.0  # backoff, not a tight loop


def test_a_500_does_not_wait_for_the_rate_limit_window(emu: Emu) -> None:
    """X-Rate-Limit-Reset is when the limit window resets; it says nothing about when a 500 heals."""
    sleep = RecordingSleep()
    client = emu.client(sleep=sleep, max_wait_s=30)
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(rules=[{"kind": "error", "status": 500, "method": "GET", "path_contains": "/budget", "times": 1}])
    started = time.monotonic()
    read_budget(client)
    assert sleep.total < 1.0 and time.monotonic() - started < 3.0  # not the seconds left in the limit window


def test_503_retry_after_is_honoured(emu: Emu) -> None:
    client = emu.client()
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(retry_after=1, rules=[{"kind": "error", "status": 503, "method": "GET", "path_contains": "/budget", "times": 1}])
    read_budget(client)
    calls = emu.requests(path_contains="/budget")
    assert [c["status"] for c in calls] == [503, 200] and gap_after(calls, 0) >= 1.0


def test_dropped_connections_on_reads_are_retried(emu: Emu) -> None:
    client = emu.client()
    emu.faults(rules=[{"kind": "drop", "method": "GET", "path_contains": "/budget", "times": 2}])
    assert read_budget(client) == {"locked": False}
    assert [c["status"] for c in emu.requests(path_contains="/budget")] == [None, None, 200]
    assert client.stats.retries == 2


def test_slow_answer_past_the_timeout_is_retried(emu: Emu) -> None:
    client = emu.client(timeout=(2.0, 0.8))
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(rules=[{"kind": "slow", "seconds": 1.6, "method": "GET", "path_contains": "/budget", "times": 1}])
    assert read_budget(client) == {"locked": False}
    assert client.stats.retries == 1
    assert len(emu.requests(path_contains="/budget")) == 2


def test_always_slow_fails_clearly_after_bounded_attempts(emu: Emu) -> None:
    client = emu.client(timeout=(2.0, 0.2), max_attempts=3)
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(slow_rate=1.0, slow_seconds=0.5, methods=["GET"])
    started = time.monotonic()
    with pytest.raises(ProcoreUnavailableError) as info:
        read_budget(client)
    message = str(info.value)
    assert "3 attempts" in message and "ReadTimeout" in message and f"project {PROJECT}" in message, message
    assert time.monotonic() - started < 4.0
    time.sleep(0.6)  # let the emulator finish the slow answers before counting them
    assert len(emu.requests(path_contains="/budget")) == 3


def test_attempts_are_bounded(emu: Emu) -> None:
    client = emu.client(max_attempts=4)
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(error_rate=1.0, error_statuses=[502], methods=["GET"])
    with pytest.raises(ProcoreUnavailableError) as info:
        read_budget(client)
    assert "4 attempts" in str(info.value) and "502" in str(info.value)
    assert len(emu.requests(path_contains="/budget")) == 4 and client.stats.retries == 3


def test_a_long_retry_after_fails_at_once_instead_of_retrying_early(emu: Emu) -> None:
    client = emu.client(max_wait_s=5)
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)
    emu.faults(retry_after=60, rules=[{"kind": "rate_limit", "method": "GET", "path_contains": "/budget", "times": 5}])
    started = time.monotonic()
    with pytest.raises(ProcoreError) as info:
        read_budget(client)
    assert time.monotonic() - started < 3.0  # not 60 s, nor max_wait_s
    assert "60" in str(info.value) and f"project {PROJECT}" in str(info.value)
    assert len(emu.requests(path_contains="/budget")) == 1  # no hammering


# --- a create (bulk sync without ids) is not idempotent -----------------------------------------
def new_line_wbs(api: ProcoreBudgetApi) -> int:
    """The wbs code of 03-300 / S, a pair without a budget line in the fixture."""
    segments = {s["type"]: s["id"] for s in api.wbs_segments(COMPANY, PROJECT)}
    codes = {i["code"]: i["id"] for i in api.segment_items(COMPANY, PROJECT, segments["cost_code"])}
    types = {i["code"]: i["id"] for i in api.segment_items(COMPANY, PROJECT, segments["line_item_type"])}
    created = api.bulk_create_wbs_codes(COMPANY, PROJECT, [{"segment_items": [
        {"segment_id": segments["cost_code"], "segment_item_id": codes["03-300"]},
        {"segment_id": segments["line_item_type"], "segment_item_id": types["S"]}]}])
    assert created["errors"] == []
    return int(created["entities"][0]["id"])


def create_line(api: ProcoreBudgetApi, wbs_id: int) -> list[dict]:
    return api.sync_budget_line_items(COMPANY, PROJECT, [{"wbs_code_id": wbs_id, "original_budget_amount": Decimal("42.00")}])


def test_create_after_429_is_retried_and_made_once(emu: Emu) -> None:
    api = ProcoreBudgetApi(emu.client())
    wbs = new_line_wbs(api)
    emu.faults(retry_after=0, rules=[{"kind": "rate_limit", "method": "POST", "path_contains": SYNC, "times": 1}])
    assert len(create_line(api, wbs)) == 1
    assert [c["status"] for c in emu.requests(path_contains=SYNC)] == [429, 200]
    assert emu.budget()[("03-300", "S")] == "42.00"


@pytest.mark.parametrize("kind", ["error", "drop", "lost_response", "slow"])
def test_create_with_unknown_outcome_is_ambiguous_and_not_repeated(emu: Emu, kind: str) -> None:
    api = ProcoreBudgetApi(emu.client(timeout=(2.0, 0.5)))
    wbs = new_line_wbs(api)
    rule = {"kind": kind, "method": "POST", "path_contains": SYNC, "times": 1, "status": 503, "seconds": 1.0 if kind == "slow" else 0.0}
    emu.faults(retry_after=0, rules=[rule])
    with pytest.raises(AmbiguousWriteError) as info:
        create_line(api, wbs)
    assert f"project {PROJECT}" in str(info.value)
    if kind == "slow":
        time.sleep(1.5)  # the emulator answers (and commits) after its delay
    assert len(emu.requests(path_contains=SYNC)) == 1  # sent exactly once
    committed = kind in ("lost_response", "slow")
    assert (("03-300", "S") in emu.budget()) is committed


def test_updates_by_id_are_idempotent_and_retried(emu: Emu) -> None:
    api = ProcoreBudgetApi(emu.client())
    line = next(line for line in emu.admin("GET", "/state", params={"project_id": PROJECT})["budget_line_items"]
                if line["cost_code"] == "02-200")
    emu.faults(retry_after=0, rules=[{"kind": "lost_response", "method": "POST", "path_contains": SYNC, "times": 1},
                                     {"kind": "error", "status": 502, "method": "POST", "path_contains": SYNC, "times": 1}])
    api.sync_budget_line_items(COMPANY, PROJECT, [{"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": Decimal("9.99")}])
    assert [c["status"] for c in emu.requests(path_contains=SYNC)] == [200, 502, 200]
    assert emu.budget()[("02-200", "M")] == "9.99"


def test_a_create_that_never_reached_procore_is_retried_not_ambiguous(emu: Emu) -> None:
    """Connection refused: nothing was sent, so even a create may be repeated (and is, boundedly)."""
    closed = free_port()
    client = ProcoreClient(session=requests.Session(), api_base=f"http://127.0.0.1:{closed}", login_url=emu.base_url,
                           client_id=CLIENT_ID, client_secret=SECRET, max_attempts=3, backoff_initial_s=0.01,
                           sleep=RecordingSleep())
    with pytest.raises(ProcoreUnavailableError) as info:
        ProcoreBudgetApi(client).sync_budget_line_items(COMPANY, PROJECT, [{"wbs_code_id": 1, "original_budget_amount": Decimal("1")}])
    assert not isinstance(info.value, AmbiguousWriteError)
    assert "3 attempts" in str(info.value) and "ConnectionError" in str(info.value) and client.stats.retries == 2


def test_retry_after_as_an_http_date() -> None:
    client = ProcoreClient(session=requests.Session(), api_base="http://127.0.0.1:9", login_url="http://127.0.0.1:9",
                           client_id="x", client_secret="y")
    answer = requests.Response()
    answer.status_code = 503
    answer.headers["Retry-After"] = formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (client._retry_after(answer, 503) or 0) <= 31
    answer.headers["Retry-After"] = "soon"
    assert client._retry_after(answer, 503) is None
