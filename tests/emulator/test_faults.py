"""Fault injection: 5xx, 429, slow answers, dropped connections and committed-but-lost writes."""
from __future__ import annotations

import json
import socket
import time
from decimal import Decimal
from urllib.parse import urlparse

import pytest
import requests

from .conftest import COMPANY, RIVERSIDE, Emu

SYNC = "/rest/v1.0/budget_line_items/sync"


def _statuses(api: requests.Session, count: int) -> list[int]:
    return [api.get("/rest/v1.0/companies").status_code for _ in range(count)]


def test_server_errors_with_retry_after_on_503(emu: Emu) -> None:
    api = emu.api()
    emu.admin("PUT", "/faults", json={"error_rate": 1.0, "error_statuses": [503], "retry_after": 4})
    answer = api.get("/rest/v1.0/companies")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "4"
    assert answer.json() == {"errors": "Service Unavailable"} and "X-Rate-Limit-Remaining" in answer.headers
    emu.admin("PUT", "/faults", json={"error_rate": 1.0, "error_statuses": [500, 502]})
    assert set(_statuses(api, 12)) <= {500, 502}
    assert emu.anon.get("/_emulator/state").status_code == 200  # never on the admin API
    assert emu.admin("GET", "/faults")["injected"]["error"] == 12  # counters restart with each config


def test_random_faults_are_deterministic_per_seed(emu: Emu) -> None:
    api = emu.api()
    runs = []
    for seed in (7, 7, 8):
        emu.admin("PUT", "/faults", json={"seed": seed, "error_rate": 0.3, "rate_limit_rate": 0.2})
        runs.append(_statuses(api, 30))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {200, 429} <= set(runs[0]) and set(runs[0]) & {500, 502, 503}


def test_injected_429_has_retry_after(emu: Emu) -> None:
    api = emu.api()
    emu.admin("PUT", "/faults", json={"rate_limit_rate": 1.0, "retry_after": 3})
    answer = api.get("/rest/v1.0/companies")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"
    assert answer.json()["message"].startswith("You have surpassed the max number of requests")


def test_slow_answers(emu: Emu) -> None:
    api = emu.api()
    emu.admin("PUT", "/faults", json={"slow_rate": 1.0, "slow_seconds": 0.5})
    started = time.monotonic()
    assert api.get("/rest/v1.0/companies").status_code == 200
    assert time.monotonic() - started >= 0.5
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get("/rest/v1.0/companies", timeout=0.2)


def test_slow_write_is_applied_even_when_the_client_gives_up(emu: Emu) -> None:
    """A timed-out write is ambiguous on a real server: the request arrived and is still processed."""
    api = emu.api()
    line = emu.lines(RIVERSIDE)[0]
    emu.admin("PUT", "/faults", json={"rules": [{"kind": "slow", "seconds": 0.6, "method": "POST", "path_contains": SYNC}]})
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post(SYNC, json={"project_id": RIVERSIDE, "budget_line_items": [
            {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": Decimal("321.00")}]}, timeout=0.2)
    time.sleep(0.8)
    assert emu.lines(RIVERSIDE)[0]["original_budget_amount"] == "321.00"


def test_dropped_connection_is_a_connection_error_and_nothing_is_applied(emu: Emu) -> None:
    api = emu.api()
    line = emu.lines(RIVERSIDE)[0]
    emu.admin("PUT", "/faults", json={"drop_rate": 1.0})
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/rest/v1.0/companies")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(SYNC, json={"project_id": RIVERSIDE, "budget_line_items": [
            {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": 1}]})
    assert emu.lines(RIVERSIDE)[0] == line
    with pytest.raises(requests.exceptions.ConnectionError):
        emu.anon.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "demo-client",
                                            "client_secret": "demo-secret"})
    emu.admin("PUT", "/faults", json={})
    assert api.get("/rest/v1.0/companies").status_code == 200  # the same session recovers


def test_lost_response_write_was_committed(emu: Emu) -> None:
    api = emu.api()
    line = emu.lines(RIVERSIDE)[0]
    emu.admin("PUT", "/faults", json={"lost_response_rate": 1.0})
    assert api.get("/rest/v1.0/companies").status_code == 200  # reads are not writes: answered normally
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(SYNC, json={"project_id": RIVERSIDE, "budget_line_items": [
            {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": Decimal("777.77")}]})
    assert emu.lines(RIVERSIDE)[0]["original_budget_amount"] == "777.77"
    log = emu.admin("GET", "/requests", params={"path_contains": "/sync"})
    assert [(e["status"], e["fault"]) for e in log] == [(200, "lost_response")]


def test_rules_target_exact_requests(emu: Emu) -> None:
    api = emu.api()
    line = emu.lines(RIVERSIDE)[0]
    emu.admin("PUT", "/faults", json={"rules": [
        {"kind": "error", "status": 502, "method": "POST", "path_contains": "/budget_line_items/sync", "times": 2},
        {"kind": "drop", "path_contains": "/budget_views", "skip": 1, "times": 1}]})
    body = {"project_id": RIVERSIDE, "budget_line_items": [{"id": line["id"], "wbs_code_id": line["wbs_code_id"],
                                                                "original_budget_amount": 3}]}
    assert [api.post(SYNC, json=body).status_code for _ in range(3)] == [502, 502, 200]
    assert api.get("/rest/v1.0/companies").status_code == 200
    assert api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE}).status_code == 200  # skipped
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE})
    assert api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE}).status_code == 200
    config = emu.admin("GET", "/faults")
    assert [r["times"] for r in config["rules"]] == [0, 0]
    assert config["injected"]["error"] == 2 and config["injected"]["drop"] == 1


def test_request_log_records_and_clears(emu: Emu) -> None:
    api = emu.api()
    api.get("/rest/v1.0/companies")
    api.get("/rest/v1.0/projects/1/budget")
    emu.anon.get("/_emulator/state")
    log = emu.admin("GET", "/requests")
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/oauth/token", 200), ("GET", "/rest/v1.0/companies", 200),
        ("GET", "/rest/v1.0/projects/1/budget", 404)]
    assert all(e["client_id"] == "demo-client" and e["time"] > 0 and e["duration_ms"] >= 0 for e in log)
    assert emu.admin("DELETE", "/requests")["cleared"] == 3
    assert emu.admin("GET", "/requests") == []


def test_bad_fault_config_is_refused(emu: Emu) -> None:
    for bad in ({"error_rate": 2}, {"nope": 1}, {"error_rate": 0.6, "drop_rate": 0.6},
                {"error_statuses": [404]}, {"rules": [{"kind": "explode"}]}):
        assert emu.anon.put("/_emulator/faults", json=bad).status_code == 422, bad
    assert emu.admin("GET", "/faults")["error_rate"] == 0


def test_a_client_killed_mid_upload_leaves_no_request_and_no_violation(emu: Emu) -> None:
    """A task killed while sending a sync (tests/reliability) cuts its body short: the emulator neither
    applies nor contract-checks a request that never fully arrived (a real server gets none either)."""
    line = emu.lines(RIVERSIDE)[0]
    since = max((v["seq"] for v in emu.admin("GET", "/contract")["violations"]), default=0)
    body = json.dumps({"project_id": RIVERSIDE, "budget_line_items": [
        {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": 9}]}).encode()
    url = urlparse(emu.base_url)
    head = (f"POST {SYNC} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nAuthorization: Bearer {emu.token()}\r\n"
            f"Procore-Company-Id: {COMPANY}\r\nUser-Agent: spectrum-procore-budget/test\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head + body[: len(body) // 2])
    deadline = time.monotonic() + 60  # the server notices the closed socket in its own time: wait for its log entry
    while True:
        log = emu.admin("GET", "/requests", params={"path_contains": "/sync"})
        if log and log[-1]["duration_ms"] is not None:
            break
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert [(e["status"], e["fault"]) for e in log] == [(None, "client_gone")]
    assert [v for v in emu.admin("GET", "/contract")["violations"] if v["seq"] > since] == []
    assert emu.lines(RIVERSIDE)[0] == line
