"""OAuth token handling: fetched once and cached, renewed on expiry and once on a 401, and a wrong
secret fails with a clear ProcoreAuthError that carries neither the secret nor any token."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.budget_import.procore.errors import ProcoreAuthError, ProcoreUnavailableError
from standins.procore_emulator.server import EmulatorServer

from .conftest import CLIENT_ID, COMPANY, PROJECT, SECRET, Emu, RecordingSession, fixture_data, run_import

COMPANIES = "/rest/v1.0/companies"


def token_requests(emu: Emu) -> list[dict]:
    return emu.requests(path_contains="/oauth/token")


def test_token_is_fetched_once_and_cached(emu: Emu) -> None:
    client = emu.client()
    for _ in range(5):
        client.get_json(COMPANIES, company_id=COMPANY)
    assert client.stats.token_fetches == 1
    assert len(token_requests(emu)) == 1
    calls = emu.requests(path_contains="/rest/")
    assert len(calls) == 5 and all(c["status"] == 200 and c["client_id"] == CLIENT_ID for c in calls)


def test_token_renewed_once_on_401_after_server_side_expiry(emu: Emu) -> None:
    client = emu.client()
    client.get_json(COMPANIES, company_id=COMPANY)
    emu.admin("POST", "/tokens/expire")
    assert client.get_json(COMPANIES, company_id=COMPANY)[0]["id"] == COMPANY
    assert client.stats.token_fetches == 2
    statuses = [c["status"] for c in emu.requests(path_contains="/rest/")]
    assert statuses == [200, 401, 200]  # one refused call, one renewal, the same call again


@pytest.fixture(scope="module")
def short_ttl_emulator(tmp_path_factory: pytest.TempPathFactory, client_fixture_file: Path) -> Iterator[EmulatorServer]:
    db = tmp_path_factory.mktemp("ttl") / "procore.db"
    with EmulatorServer(db, client_fixture_file, extra_args=["--token-ttl", "2"]) as server:
        yield server


def test_token_renewed_before_it_expires(short_ttl_emulator: EmulatorServer) -> None:
    emu = Emu(short_ttl_emulator)
    emu.admin("DELETE", "/requests")
    client = emu.client()
    client.get_json(COMPANIES, company_id=COMPANY)
    client.get_json(COMPANIES, company_id=COMPANY)
    assert client.stats.token_fetches == 1  # a 2-second token is still cached for back-to-back calls
    time.sleep(2.1)
    client.get_json(COMPANIES, company_id=COMPANY)
    assert client.stats.token_fetches == 2
    assert [c["status"] for c in emu.requests(path_contains="/rest/")] == [200, 200, 200]  # renewed before a 401


def _assert_no_secret(text: str, secrets: set[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret or token leaked: ...{secret[:4]}..."


def test_wrong_secret_fails_clearly_without_leaking(emu: Emu, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-secret-93e1"
    client = emu.client(secret=wrong)
    with pytest.raises(ProcoreAuthError) as info:
        client.get_json(f"/rest/v1.0/projects/{PROJECT}/budget", company_id=COMPANY, project_id=PROJECT)
    exc = info.value
    assert exc.status == 401
    assert CLIENT_ID in str(exc) and "access token" in str(exc)
    assert len(token_requests(emu)) == 1, "a refused secret must not be retried"
    _assert_no_secret(str(exc) + repr(exc) + repr(client) + caplog.text, {wrong, SECRET})


def test_revoked_app_renews_once_then_fails_clearly(emu: Emu, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = RecordingSession()
    client = emu.client(session=session)
    client.get_json(COMPANIES, company_id=COMPANY)
    revoked = fixture_data()
    revoked["companies"][0]["clients"] = [c for c in revoked["companies"][0]["clients"] if c["client_id"] != CLIENT_ID]
    emu.admin("POST", "/reset", json=revoked)  # the app is uninstalled: its token and its secret stop working
    with pytest.raises(ProcoreAuthError) as info:
        client.get_json(f"/rest/v1.0/projects/{PROJECT}/budget", company_id=COMPANY, project_id=PROJECT)
    assert [c["status"] for c in emu.requests(path_contains="/rest/")] == [200, 401]
    assert [c["status"] for c in token_requests(emu)] == [200, 401]
    assert session.bearers
    _assert_no_secret(str(info.value) + repr(info.value) + caplog.text, session.bearers | {SECRET})


def test_no_log_line_carries_the_token_or_secret(emu: Emu, caplog: pytest.LogCaptureFixture) -> None:
    """A whole import under renewals, retries and ambiguous writes, logged at DEBUG (urllib3 included)."""
    caplog.set_level(logging.DEBUG)
    session = RecordingSession()
    client = emu.client(session=session)
    client.get_json(COMPANIES, company_id=COMPANY)
    emu.admin("POST", "/tokens/expire")
    emu.faults(seed=3, error_rate=0.15, drop_rate=0.05, lost_response_rate=0.1, rate_limit_rate=0.05, retry_after=0)
    run_import(emu.loader(client), "override")
    assert len(session.bearers) == 2 and client.stats.retries > 0
    assert "Procore" in caplog.text  # the client did log
    _assert_no_secret(caplog.text, session.bearers | {SECRET})


def test_token_endpoint_faults_are_retried_without_nesting(emu: Emu) -> None:
    """A 503 and a dropped connection on /oauth/token are retried; when they never stop, the call fails
    once with a clear error after the token's own bounded attempts (not attempts x attempts)."""
    client = emu.client(max_attempts=3)
    emu.faults(retry_after=0, rules=[{"kind": "error", "status": 503, "path_contains": "/oauth/token", "times": 1},
                                     {"kind": "drop", "path_contains": "/oauth/token", "times": 1}])
    assert client.get_json(COMPANIES, company_id=COMPANY)[0]["id"] == COMPANY
    assert [c["status"] for c in token_requests(emu)] == [503, None, 200] and client.stats.token_fetches == 3
    emu.admin("POST", "/tokens/expire")
    emu.admin("DELETE", "/requests")
    emu.faults(error_rate=1.0, error_statuses=[502], path_contains="/oauth/token")
    with pytest.raises(ProcoreUnavailableError) as info:
        client.get_json(f"/rest/v1.0/projects/{PROJECT}/budget", company_id=COMPANY, project_id=PROJECT)
    assert "/oauth/token" in str(info.value) and f"project {PROJECT}" in str(info.value) and "3 attempts" in str(info.value)
    assert len(token_requests(emu)) == 3 and len(emu.requests(path_contains="/rest/")) == 1  # the 401 that asked for it
