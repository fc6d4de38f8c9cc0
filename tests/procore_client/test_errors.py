"""401/403/404/422 fail at once with an error that names the project (and the line) and never a secret."""
from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from include.budget_import.load import BudgetLoader, ProjectTarget
from include.budget_import.plan import DesiredLine
from include.budget_import.prerequisites import JobBlockedError
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import (
    ProcoreAuthError,
    ProcoreError,
    ProcoreNotFoundError,
    ProcorePermissionError,
    ProcoreValidationError,
)

from .conftest import COMPANY, LOCKED, NO_TOOL, PROJECT, SECRET, VIEWER_ID, VIEWER_SECRET, Emu, RecordingSession, run_import


def assert_clear(exc: ProcoreError, project_id: int, secrets: set[str], log_text: str) -> None:
    text = str(exc) + repr(exc)
    assert f"project {project_id}" in text, text
    for secret in secrets:
        assert secret not in text and secret not in log_text


def test_403_for_a_read_only_app(emu: Emu, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = RecordingSession()
    client = emu.client(client_id=VIEWER_ID, secret=VIEWER_SECRET, session=session)
    with pytest.raises(ProcorePermissionError) as info:
        run_import(emu.loader(client), "override")
    assert info.value.status == 403 and "'Read Only' access to the Budget tool" in str(info.value)
    writes = [r for r in emu.requests() if r["method"] != "GET" and r["path"].startswith("/rest/")]
    assert writes == []  # asked before the first write of any kind: not even a cost type was created
    assert len(emu.requests(path_contains="/settings/permissions")) == 1
    assert_clear(info.value, PROJECT, session.bearers | {VIEWER_SECRET, SECRET}, caplog.text)


def test_a_read_only_app_with_nothing_to_write_is_not_refused(emu: Emu) -> None:
    """Permission is asked only when something would be written: an unchanged budget costs no extra call."""
    run_import(emu.loader(emu.client()), "override")
    viewer = emu.client(client_id=VIEWER_ID, secret=VIEWER_SECRET)
    emu.admin("DELETE", "/requests")
    outcome = run_import(emu.loader(viewer), "override")
    assert outcome.plan.write_count == 0
    assert emu.requests(path_contains="/settings/permissions") == []


def test_403_for_a_disabled_budget_tool(emu: Emu) -> None:
    api = ProcoreBudgetApi(emu.client())
    assert api.budget_tool_active(COMPANY, NO_TOOL) is False
    with pytest.raises(ProcorePermissionError) as info:
        api.budget_views(COMPANY, NO_TOOL)
    assert_clear(info.value, NO_TOOL, {SECRET}, "")
    assert "Budget tool is not active" in str(info.value)


def test_404_for_an_unknown_project(emu: Emu) -> None:
    api = ProcoreBudgetApi(emu.client())
    with pytest.raises(ProcoreNotFoundError) as info:
        api.budget_locked(COMPANY, 7777)
    assert_clear(info.value, 7777, {SECRET}, "")
    assert len(emu.requests(path_contains="/rest/")) == 1


def test_422_for_a_locked_budget_names_project_and_line(emu: Emu, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = RecordingSession()
    client = emu.client(session=session)
    loader = BudgetLoader(ProcoreBudgetApi(client), ProjectTarget("01", "20.10", COMPANY, LOCKED))
    # the budget is locked after the loader's own check (someone locks it mid-import): Procore's 422 is the guard
    emu.admin("PUT", f"/projects/{LOCKED}", json={"budget_locked": False})
    loader.require_write_permission()
    emu.admin("PUT", f"/projects/{LOCKED}", json={"budget_locked": True})
    loader.ensure_line_item_types({"L": "Labor", "M": "Material"})
    with pytest.raises(ProcoreValidationError) as info:
        loader.apply([DesiredLine("01-100", "L", Decimal("800.00")), DesiredLine("01-100", "M", Decimal("5.00"))], "additive")
    text = str(info.value)
    assert info.value.status == 422 and "locked budget" in text
    assert "01-100/M" in text, text  # the line Procore refused
    assert_clear(info.value, LOCKED, session.bearers | {SECRET}, caplog.text)
    assert emu.budget(LOCKED) == {("01-100", "L"): "700.25"}


def test_a_locked_budget_blocks_the_load_before_any_write(emu: Emu) -> None:
    """The article's "budget must be unlocked" is asked before the first write, and only then."""
    loader = BudgetLoader(ProcoreBudgetApi(emu.client()), ProjectTarget("01", "20.10", COMPANY, LOCKED))
    with pytest.raises(JobBlockedError) as info:
        loader.apply([DesiredLine("01-100", "L", Decimal("800.00")), DesiredLine("01-100", "M", Decimal("5.00"))], "additive")
    assert info.value.reason == "procore_budget_locked"
    assert emu.budget(LOCKED) == {("01-100", "L"): "700.25"}


def test_401_is_an_auth_error_naming_the_app(emu: Emu) -> None:
    client = emu.client(secret="wrong-one-5521")
    with pytest.raises(ProcoreAuthError) as info:
        ProcoreBudgetApi(client).budget_locked(COMPANY, PROJECT)
    assert info.value.status == 401 and "wrong-one-5521" not in str(info.value) + repr(info.value)
