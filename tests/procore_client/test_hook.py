"""ProcoreHook (on the http provider's HttpHook) builds a working client from an Airflow connection
and never puts the secret or the connection's extra on the wire as headers or Basic auth."""
from __future__ import annotations

import json
import logging

import pytest

from .conftest import CLIENT_ID, COMPANY, PROJECT, SECRET, Emu


def test_hook_builds_a_client_from_the_connection(emu: Emu, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AIRFLOW_CONN_PROCORE_CLIENT_TEST", json.dumps({
        "conn_type": "http", "host": emu.base_url, "login": CLIENT_ID, "password": SECRET,
        "extra": {"login_url": emu.base_url, "company_id": COMPANY, "companies": {"01": COMPANY}, "timeout": 7,
                  "max_attempts": 3},
    }))
    from include.budget_import.procore.hook import ProcoreHook

    hook = ProcoreHook(procore_conn_id="procore_client_test")
    assert hook.company_id_for("01") == COMPANY and hook.spectrum_company_codes() == ["01"]
    with pytest.raises(ValueError, match="'O1' is not mapped .*mapped companies are '01'"):
        hook.company_id_for("O1")  # a mistyped company is refused, never sent to the fallback company_id
    api = hook.get_api()
    assert api.client._timeout == (5.0, 7.0) and api.client._max_attempts == 3
    session = api.client._session
    assert session.auth is None
    assert not {"login_url", "company_id", "companies", "timeout", "max_attempts"} & {k.lower() for k in session.headers}
    assert [p["id"] for p in api.projects(COMPANY, origin_id="01|19.50")] == [PROJECT]
    assert api.budget_tool_active(COMPANY, PROJECT) is True
    assert SECRET not in caplog.text and SECRET not in repr(api.client) and SECRET not in repr(hook.get_client())
