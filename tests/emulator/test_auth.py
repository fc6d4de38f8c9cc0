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
    wrong = emu.anon.post("/oauth/token", data={"grant_type": "password", "client_id": "demo-client",
                                                "client_secret": "demo-secret"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "unsupported_grant_type"


def test_rest_calls_need_a_valid_bearer_token(emu: Emu) -> None:
    headers = {"Procore-Company-Id": str(COMPANY)}
    assert emu.anon.get("/rest/v1.0/companies", headers=headers).status_code == 401
    bad = emu.anon.get("/rest/v1.0/companies", headers={**headers, "Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and "message" in bad.json()
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
    assert answer.json() == {"message": "App is not connected to this company"}
    # right header, but a path naming another company
    answer = emu.api().get(f"/rest/v1.0/companies/{OTHER_COMPANY}/projects")
    assert answer.status_code == 403 and answer.json()["message"] == "App is not connected to this company"
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
        assert isinstance(expired, requests.Response) and "expired" in expired.json()["message"]
