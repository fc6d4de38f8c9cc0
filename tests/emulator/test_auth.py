"""OAuth client credentials, bearer tokens and the Procore-Company-Id header."""
from __future__ import annotations

import time
from pathlib import Path

import requests

from standins.procore_emulator.server import EmulatorServer

from .conftest import COMPANY, EXAMPLE_FIXTURE, OTHER_COMPANY, ApiSession, Emu

GRANT = {"grant_type": "client_credentials"}


def test_token_from_form_fields(emu: Emu) -> None:
    answer = emu.anon.post("/oauth/token", data={**GRANT, "client_id": "demo-client", "client_secret": "demo-secret"})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "created_at"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 5400
    assert abs(body["created_at"] - time.time()) < 60
    check = emu.anon.get("/rest/v1.0/companies", headers={"Authorization": f"Bearer {body['access_token']}",
                                                           "Procore-Company-Id": str(COMPANY)})
    assert check.status_code == 200 and check.json()[0]["id"] == COMPANY


def test_token_from_http_basic(emu: Emu) -> None:
    answer = emu.anon.post("/oauth/token", data=GRANT, auth=("viewer-client", "viewer-secret"))
    assert answer.status_code == 200
    assert answer.json()["access_token"]


def test_token_from_json_body(emu: Emu) -> None:
    answer = emu.anon.post("/oauth/token", json={**GRANT, "client_id": "demo-client", "client_secret": "demo-secret"})
    assert answer.status_code == 200


def test_bad_secret_and_unknown_client_are_invalid_client(emu: Emu) -> None:
    for creds in ({"client_id": "demo-client", "client_secret": "wrong"}, {"client_id": "nobody", "client_secret": "x"}):
        answer = emu.anon.post("/oauth/token", data={**GRANT, **creds})
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
    basic = emu.anon.post("/oauth/token", data=GRANT, auth=("demo-client", "wrong"))
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"


def test_grant_type_is_checked(emu: Emu) -> None:
    missing = emu.anon.post("/oauth/token", data={"client_id": "demo-client", "client_secret": "demo-secret"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert "grant_type" in missing.json()["error_description"]  # refused by the contract check, Doorkeeper's form
    wrong = emu.anon.post("/oauth/token", data={"grant_type": "password", "client_id": "demo-client",
                                                "client_secret": "demo-secret"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "unsupported_grant_type"


def test_token_from_query_parameters(emu: Emu) -> None:
    answer = emu.anon.post("/oauth/token", params={**GRANT, "client_id": "demo-client", "client_secret": "demo-secret"})
    assert answer.status_code == 200 and answer.json()["access_token"]


def test_rest_calls_need_a_valid_bearer_token(emu: Emu) -> None:
    headers = {"Procore-Company-Id": str(COMPANY)}
    assert emu.anon.get("/rest/v1.0/companies", headers=headers).status_code == 401
    bad = emu.anon.get("/rest/v1.0/companies", headers={**headers, "Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.json() == {"errors": "The access token is invalid or has expired"}
    basic = emu.anon.get("/rest/v1.0/companies", headers=headers, auth=("demo-client", "demo-secret"))
    assert basic.status_code == 401


def test_company_header_is_required(emu: Emu) -> None:
    api = emu.api(company_id=None)
    for path in ("/rest/v1.0/companies", f"/rest/v1.0/companies/{COMPANY}/projects",
                 "/rest/v1.0/projects/2001/budget"):
        answer = api.get(path)
        assert answer.status_code == 400, path
        assert "Procore-Company-Id" in answer.json()["errors"]
    answer = api.get("/rest/v1.0/companies", headers={"Procore-Company-Id": "acme"})
    assert answer.status_code == 400


def test_wrong_company_is_not_connected(emu: Emu) -> None:
    answer = emu.api(company_id=OTHER_COMPANY).get(f"/rest/v1.0/companies/{OTHER_COMPANY}/projects")
    assert answer.status_code == 403
    assert answer.json() == {"errors": "App is not connected to this company"}
    # right header, but a path naming another company
    answer = emu.api().get(f"/rest/v1.0/companies/{OTHER_COMPANY}/projects")
    assert answer.status_code == 403 and answer.json()["errors"] == "App is not connected to this company"
    # and the other company's client cannot see ours
    answer = emu.api("other-client", company_id=COMPANY).get("/rest/v1.0/projects/2001/budget")
    assert answer.status_code == 403


def test_admin_can_expire_all_tokens(emu: Emu) -> None:
    api = emu.api()
    assert api.get("/rest/v1.0/companies").status_code == 200
    assert emu.admin("POST", "/tokens/expire")["expired"] >= 1
    assert api.get("/rest/v1.0/companies").status_code == 401


def test_token_expires_after_its_ttl(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path / "ttl.db", EXAMPLE_FIXTURE, extra_args=["--token-ttl", "1"]) as server:
        session = ApiSession(server.base_url)
        answer = session.post("/oauth/token", data={**GRANT, "client_id": "demo-client",
                                                     "client_secret": "demo-secret"})
        assert answer.json()["expires_in"] == 1
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}", "Procore-Company-Id": str(COMPANY)}
        assert session.get("/rest/v1.0/companies", headers=headers).status_code == 200
        time.sleep(1.3)
        expired = session.get("/rest/v1.0/companies", headers=headers)
        assert expired.status_code == 401
        assert isinstance(expired, requests.Response) and "expired" in expired.json()["errors"]


def test_one_app_installed_in_two_companies_reaches_both_and_no_other(emulator_server, tmp_path):
    import requests

    base = emulator_server.base_url
    fixture = {"companies": [
        {"id": 7001, "name": "A", "clients": [{"client_id": "app", "client_secret": "s", "permission": "standard"}], "projects": []},
        {"id": 7002, "name": "B", "clients": [{"client_id": "app", "client_secret": "s", "permission": "read_only"}], "projects": []},
        {"id": 7003, "name": "C", "clients": [], "projects": []},
    ]}
    requests.post(f"{base}/_emulator/reset", json=fixture, timeout=10).raise_for_status()
    token = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials", "client_id": "app", "client_secret": "s"},
                          timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{base}/rest/v1.0/companies", headers={**auth, "Procore-Company-Id": "7001"}, timeout=10).json()
    assert sorted(c["id"] for c in listed) == [7001, 7002]
    for company, status in ((7001, 200), (7002, 200), (7003, 403)):
        answer = requests.get(f"{base}/rest/v1.0/companies/{company}/projects", headers={**auth, "Procore-Company-Id": str(company)}, timeout=10)
        assert answer.status_code == status, company
    requests.post(f"{base}/_emulator/reset", timeout=10).raise_for_status()
