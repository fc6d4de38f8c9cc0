"""The import against the emulator's spec shapes: a Spanish-language company, several budget views,
a refused line named among many, and permission asked before the first write (over real HTTP; the
contract check of tests/conftest.py fails any test whose traffic breaks Procore's spec)."""
from __future__ import annotations

import math
from decimal import Decimal

import pytest

from include.budget_import.plan import DesiredLine
from include.budget_import.procore.errors import ProcoreValidationError

from .conftest import COMPANY, PROJECT, Emu, desired_lines, fixture_data, intended_budget, run_import

SYNC = "/budget_line_items/sync"


def test_a_spanish_language_company_imports_by_segment_type(emu: Emu) -> None:
    data = fixture_data()
    data["companies"][0]["wbs_segment_names"] = {"cost_code": "Código de costo", "line_item_type": "Tipo de costo"}
    emu.admin("POST", "/reset", json=data)
    client = emu.client()
    run_import(emu.loader(client), "override")
    assert emu.budget() == intended_budget("override")
    segments = client.get_json(f"/rest/v1.0/projects/{PROJECT}/work_breakdown_structure/segments", company_id=COMPANY)
    assert {s["name"] for s in segments} == {"Código de costo", "Tipo de costo"}


def test_several_budget_views_read_the_same_budget(emu: Emu) -> None:
    data = fixture_data()
    data["companies"][0]["budget_views"] = [{"name": "Owner view"}, {"name": "Procore Standard Budget"}, {"name": "Forecast"}]
    emu.admin("POST", "/reset", json=data)
    run_import(emu.loader(emu.client()), "additive")
    assert emu.budget() == intended_budget("additive")
    again = run_import(emu.loader(emu.client()), "additive")
    assert again.plan.write_count == 0  # the second run reads the same lines through the first view


def test_creates_and_updates_go_in_one_sync_carrying_wbs_codes(emu: Emu) -> None:
    run_import(emu.loader(emu.client()), "override")
    assert emu.budget() == intended_budget("override")
    assert len(emu.requests(method="POST", path_contains=SYNC)) == 1  # 4 creates + 1 update in one call


def test_a_refused_line_among_many_is_named_and_found_in_few_calls(emu: Emu) -> None:
    """Procore's 422 does not say which item it refused: the loader halves the batch to name it."""
    many = [DesiredLine(f"{n:02d}-000", "L", Decimal(f"{n}.00")) for n in range(1, 26)]
    bad = DesiredLine("13-000", "L", Decimal("1000000000000000"))  # beyond what Procore takes
    desired = [bad if d.cost_code == bad.cost_code else d for d in many]
    loader = emu.loader(emu.client(), project_id=2004)  # the project with 25 cost codes
    loader.ensure_line_item_types({"L": "Labor"})
    emu.admin("DELETE", "/requests")
    with pytest.raises(ProcoreValidationError) as info:
        loader.apply(desired, "override")
    text = str(info.value)
    assert "[refused: 13-000/L]" in text, text
    calls = len(emu.requests(method="POST", path_contains=SYNC))
    assert calls <= 2 * math.ceil(math.log2(len(desired))) + 1, calls
    held = emu.budget(2004)
    assert ("13-000", "L") not in held and len(held) == len(desired) - 1  # every other line was written, exactly once


def test_a_refusal_of_every_line_stops_after_one_halving(emu: Emu) -> None:
    loader = emu.loader(emu.client())
    loader.require_write_permission()  # asked while unlocked; locked before the write, so every line is refused
    loader.ensure_line_item_types({"L": "Labor", "M": "Material", "S": "Subcontract", "E": "Equipment"})
    loader.ensure_cost_codes({"04-400": "Electrical", "05-500": "Finishes"})
    emu.admin("PUT", f"/projects/{PROJECT}", json={"budget_locked": True})
    emu.admin("DELETE", "/requests")
    with pytest.raises(ProcoreValidationError, match="locked budget") as info:
        loader.apply(desired_lines(), "additive")
    assert "04-400/L" in str(info.value) and "05-500/M" in str(info.value)
    assert len(emu.requests(method="POST", path_contains=SYNC)) == 3  # the batch, then each half once


class Facts(dict):
    """An in-memory CompanyFacts store (what RunCompanyFacts keeps in the run folder)."""

    def put(self, name: str, value: object) -> None:
        self[name] = value


def test_a_bulk_create_answering_201_with_errors_is_not_a_success(emu: Emu) -> None:
    """A stale cost-type segment item (kept for the run) makes Procore refuse the WBS code: the job fails
    naming the line, although the call answered 201, and no budget line is written."""
    from include.budget_import.load import BudgetLoader, ProjectTarget
    from include.budget_import.procore.api import ProcoreBudgetApi

    facts = Facts(cost_type_segment_items={"L": 1, "M": 2, "S": 3})  # ids Procore never gave
    loader = BudgetLoader(ProcoreBudgetApi(emu.client()), ProjectTarget("01", "19.50", COMPANY, PROJECT), facts)
    before = emu.budget()
    with pytest.raises(ProcoreValidationError) as info:
        loader.apply([DesiredLine("03-300", "S", Decimal("5.00"))], "additive")
    assert "Procore refused 1 WBS codes: 03-300/S" in str(info.value), str(info.value)
    assert [r["status"] for r in emu.requests(path_contains="bulk_create")] == [201]
    assert emu.requests(path_contains=SYNC) == [] and emu.budget() == before
