"""The client's reading of Procore's documented shapes: exact JSON numbers, WBS segments told apart by
type (any language), permission levels. Answers here are built from the spec's examples."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from include.budget_import.procore import contract
from include.budget_import.procore.jsonbody import decode_json, encode_json
from include.budget_import.procore.permissions import budget_access
from include.budget_import.procore.wbs import WbsIndex, pair_of, segment_ids, segment_item_key


def test_amounts_go_out_as_exact_json_numbers() -> None:
    body = {"project_id": 5, "budget_line_items": [{"wbs_code_id": 7, "original_budget_amount": Decimal("12345678901.23")},
                                                   {"id": 9, "wbs_code_id": 8, "original_budget_amount": Decimal("0.10")}]}
    text = encode_json(body)
    assert '"original_budget_amount":12345678901.23' in text and '"original_budget_amount":0.10' in text
    assert decode_json(text) == body
    assert contract.request_problems("POST", "/rest/v1.0/budget_line_items/sync", {}, decode_json(text)) == []
    with pytest.raises(TypeError):
        encode_json({"amount": 0.1})  # a float has already lost the cent
    with pytest.raises(ValueError):
        encode_json({"amount": Decimal("NaN")})
    assert json.loads(encode_json({"s": 'a"\u00e9'})) == {"s": 'a"\u00e9'}


# The WBS tutorial's project pattern, as a Spanish-language company would see it (names translated).
SEGMENTS = [
    {"id": 447332, "name": "Código de costo", "type": "cost_code", "position": 1, "delimiter": ".", "structure": "tiered"},
    {"id": 447333, "name": "Tipo de costo", "type": "line_item_type", "position": 2, "delimiter": ".", "structure": "flat"},
]


def item(item_id: int, code: str, segment: dict, path_code: str | None = None) -> dict:
    return {"id": item_id, "code": code, "name": code, "path_code": path_code or code, "path_codes": [code],
            "segment": {k: segment[k] for k in ("id", "name", "type", "position", "delimiter", "structure")}, "status": "active"}


def test_segments_are_told_apart_by_type_not_by_their_translated_name() -> None:
    assert segment_ids(SEGMENTS, 1) == {"cost_code": 447332, "line_item_type": 447333}
    wbs = {"id": 182877777, "flat_code": "01-100.L", "segment_items": [item(654142250, "01-100", SEGMENTS[0]), item(918922, "L", SEGMENTS[1])]}
    assert contract.response_problems("GET", "/rest/v1.0/projects/1/work_breakdown_structure/wbs_codes", 200, [wbs]) == []
    assert pair_of(wbs, segment_ids(SEGMENTS, 1)) == ("01-100", "L")
    index = WbsIndex()
    index.add_codes([wbs], segment_ids(SEGMENTS, 1))
    assert index.id_of(("01-100", "L")) == 182877777 and index.key_of(182877777) == ("01-100", "L")


def test_a_tiered_cost_code_is_its_path_and_a_project_without_the_segments_is_refused() -> None:
    tiered = item(5, "300", SEGMENTS[0], path_code="02-300")
    assert segment_item_key(tiered, "cost_code") == "02-300"
    assert segment_item_key({**tiered, "path_code": None, "path_codes": ["02", "300"]}, "cost_code") == "02-300"
    with pytest.raises(Exception, match="no segment of type line_item_type"):
        segment_ids(SEGMENTS[:1], 77)


@pytest.mark.parametrize(("level", "may"), [("Admin", True), ("Standard", True), ("Read Only", False), ("None", False)])
def test_budget_permission_levels(level: str, may: bool) -> None:
    tools = [{"id": 1, "name": "directory", "user_access_level": {"id": 4, "name": "Admin"}},
             {"id": 2, "name": "budgeting", "friendly_name": "Budget", "user_access_level": {"id": 3, "name": level}}]
    assert contract.response_problems("GET", "/rest/v1.0/settings/permissions", 200, {"tools": tools}) == []
    access = budget_access(tools)
    assert access.may_write is may
    assert may or level in access.why_not(9)


def test_a_manifest_without_a_budget_tool_holds_the_job() -> None:
    access = budget_access([{"id": 1, "name": "directory", "user_access_level": {"id": 4, "name": "Admin"}}])
    assert not access.may_write and "names no Budget tool" in access.why_not(9)


def test_the_contract_names_a_spec_object_for_every_operation_and_refuses_invented_shapes() -> None:
    for op in contract.document()["operations"]:
        assert op["spec_operation"], op["operation"]
    assert contract.response_problems("PATCH", "/rest/v1.0/projects/1/work_breakdown_structure/wbs_codes/bulk_create", 201, [{"id": 1}])
    assert contract.request_problems("POST", "/rest/v1.0/budget_line_items/sync", {},
                                     {"project_id": 1, "budget_line_items": [{"id": 5, "original_budget_amount": 1}]})
    assert contract.response_problems("POST", "/rest/v1.0/budget_line_items/sync", 422, {"errors": "x"}) == []
    assert contract.response_problems("POST", "/rest/v1.0/budget_line_items/sync", 422,
                                      {"errors": "x", "details": [{"index": 0}]})  # an invented per-item index
    assert contract.response_problems("POST", "/rest/v1.0/budget_line_items/sync", 422, {"message": 5})
