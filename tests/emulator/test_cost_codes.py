"""Cost codes, line item types and WBS codes: lists, the generic sync rules, bulk create."""
from __future__ import annotations

from .conftest import COMPANY, HARBOR, RIVERSIDE, WBS, Emu

CC = "/rest/v1.0/cost_codes"
LIT = "/rest/v1.0/line_item_types"


def test_cost_codes_erp_compact_shape_and_filter(emu: Emu) -> None:
    api = emu.api()
    rows = api.get(CC, params={"project_id": RIVERSIDE, "view": "erp_compact"}).json()
    assert [r["code"] for r in rows] == ["01-100", "02-200", "03-300"]
    first = rows[0]
    assert {"id", "code", "full_code", "name", "parent", "origin_id", "origin_data", "line_item_types"} <= set(first)
    assert first["id"] == 3001 and first["full_code"] == "01-100" and first["parent"] is None
    assert [t["code"] for t in first["line_item_types"]] == ["L"]  # it has a budget code with Labor
    match = api.get(CC, params={"project_id": RIVERSIDE, "filters[origin_id]": "01|19.50|02-200"}).json()
    assert [r["code"] for r in match] == ["02-200"]
    assert api.get(CC).status_code == 400  # project_id is required


def test_cost_code_sync_creates_updates_and_reports_errors(emu: Emu) -> None:
    api = emu.api()
    answer = api.patch(CC + "/sync", params={"project_id": RIVERSIDE}, json={"updates": [
        {"code": "04-400", "name": "Masonry", "origin_id": "01|19.50|04-400"},           # new by origin_id
        {"code": "02-200", "name": "Site Work & Utilities", "origin_id": "01|19.50|02-200"},  # update by origin_id
        {"id": 3001, "code": "01-100", "name": "General Requirements"},                  # update by id
        {"code": "05-500", "name": "Metals"},                                            # neither -> create
        {"id": 42, "code": "x", "name": "y"},                                            # unknown id
        {"code": "03-300", "name": "Concrete again"},                                    # duplicate code
        {"code": "06-600", "name": "Wood", "origin_id": "01|20.10|01-100"},              # origin of another project
        {"code": "", "name": ""},
    ]})
    assert answer.status_code == 200
    body = answer.json()
    assert [e["code"] for e in body["entities"]] == ["04-400", "02-200", "01-100", "05-500"]
    assert body["entities"][2]["name"] == "General Requirements" and body["entities"][2]["id"] == 3001
    assert all(e["id"] > 2**32 for e in body["entities"] if e["code"] in ("04-400", "05-500"))
    errors = body["errors"]
    assert errors[0]["id"] == 42 and errors[0]["errors"] == {"id": ["Entity with this ID not found"]}
    assert errors[1]["code"] == "03-300" and "code" in errors[1]["errors"]
    assert errors[2]["errors"] == {"origin_id": ["has already been taken"]}
    assert set(errors[3]["errors"]) == {"code", "name"}
    listed = {r["code"]: r for r in api.get(CC, params={"project_id": RIVERSIDE}).json()}
    assert set(listed) == {"01-100", "02-200", "03-300", "04-400", "05-500"}
    assert listed["02-200"]["name"] == "Site Work & Utilities"
    # the same code in another project is fine: codes are unique per project
    other = api.patch(CC + "/sync", params={"project_id": HARBOR}, json={"updates": [{"code": "04-400", "name": "M"}]})
    assert other.json()["errors"] == [] and len(other.json()["entities"]) == 1


def test_cost_code_parent_gives_full_code(emu: Emu) -> None:
    api = emu.api()
    body = api.patch(CC + "/sync", params={"project_id": RIVERSIDE}, json={"updates": [
        {"code": "10", "name": "Division 10", "origin_id": "div-10"},
        {"code": "100", "name": "Specialties", "parent_origin_id": "div-10"}]}).json()
    assert body["errors"] == []
    parent, child = body["entities"]
    assert child["parent"] == {"id": parent["id"]} and child["full_code"] == "10-100"


def test_sync_over_1000_items_is_422(emu: Emu) -> None:
    updates = [{"code": f"X{i}", "name": f"n{i}"} for i in range(1001)]
    answer = emu.api().patch(CC + "/sync", params={"project_id": RIVERSIDE}, json={"updates": updates})
    assert answer.status_code == 422
    assert len(emu.api().get(CC, params={"project_id": RIVERSIDE}).json()) == 3
    ok = emu.api().patch(CC + "/sync", params={"project_id": RIVERSIDE}, json={"updates": updates[:1000]})
    assert ok.status_code == 200 and len(ok.json()["entities"]) == 1000


def test_line_item_types_list_and_sync(emu: Emu) -> None:
    api = emu.api()
    rows = api.get(LIT, params={"company_id": COMPANY}).json()
    assert [r["code"] for r in rows] == ["L", "M", "S"]
    assert set(rows[0]) >= {"id", "name", "code", "base_type", "origin_id", "origin_data"}
    assert api.get(LIT, params={"project_id": RIVERSIDE}).json() == rows
    assert api.get(LIT).status_code == 400
    assert api.get(LIT, params={"company_id": 1002}).status_code == 403
    body = api.patch(LIT + "/sync", json={"company_id": COMPANY, "updates": [
        {"code": "E", "name": "Equipment", "base_type": "equipment", "origin_id": "CT|E"},
        {"origin_id": "CT|M", "code": "M", "name": "Materials"},
        {"code": "L", "name": "Labor twice"},
        {"id": 1, "code": "Z", "name": "z"},
    ]}).json()
    assert [(e["code"], e["name"]) for e in body["entities"]] == [("E", "Equipment"), ("M", "Materials")]
    assert [list(e["errors"]) for e in body["errors"]] == [["code"], ["id"]]
    assert len(api.get(LIT, params={"company_id": COMPANY}).json()) == 4


def test_wbs_segments_codes_and_bulk_create(emu: Emu) -> None:
    api = emu.api()
    base = WBS.format(p=RIVERSIDE)
    segments = api.get(f"{base}/segments").json()
    assert [(s["type"], s["name"]) for s in segments] == [("cost_code", "Cost Code"), ("line_item_type", "Cost Type")]
    seg = emu.segments(RIVERSIDE)
    codes = api.get(f"{base}/wbs_codes").json()
    assert sorted(c["flat_code"] for c in codes) == ["01-100.L", "02-200.M"]
    first = next(c for c in codes if c["flat_code"] == "01-100.L")
    assert first["status"] == "active"
    cc_item, type_item = first["segment_items"]
    assert (cc_item["segment"]["id"], cc_item["segment"]["type"]) == (seg["cost_code"], "cost_code")
    assert (type_item["segment"]["id"], type_item["segment"]["type"]) == (seg["line_item_type"], "line_item_type")
    assert cc_item["id"] == emu.cost_code_item(RIVERSIDE, "01-100") != 3001  # its own id, not the cost code's
    assert type_item["id"] == emu.type_item(RIVERSIDE, "L") != emu.lit_id("L")
    created = api.patch(f"{base}/wbs_codes/bulk_create", json={"bulk": [
        emu.pair(RIVERSIDE, emu.cost_code_item(RIVERSIDE, "03-300"), emu.type_item(RIVERSIDE, "S")),
        emu.pair(RIVERSIDE, cc_item["id"], type_item["id"])]})
    assert created.status_code == 201
    assert created.json()["errors"] == []
    assert [c["flat_code"] for c in created.json()["entities"]] == ["03-300.S", "01-100.L"]
    assert created.json()["entities"][1]["id"] == first["id"]  # the existing pair is returned, not duplicated
    assert len(api.get(f"{base}/wbs_codes").json()) == 3
    # one bad entry: it is reported, the good ones are created all the same
    bad = emu.pair(RIVERSIDE, 999, 999)
    mixed = api.patch(f"{base}/wbs_codes/bulk_create", json={"bulk": [
        emu.pair(RIVERSIDE, emu.cost_code_item(RIVERSIDE, "02-200"), emu.type_item(RIVERSIDE, "S")), bad]})
    assert mixed.status_code == 201
    assert [c["flat_code"] for c in mixed.json()["entities"]] == ["02-200.S"]
    (refused,) = mixed.json()["errors"]
    assert refused["segment_items"] == bad["segment_items"] and list(refused["errors"]) == ["segment_items"]
    assert len(api.get(f"{base}/wbs_codes").json()) == 4
    # the cost code id itself is not a segment item id
    assert api.patch(f"{base}/wbs_codes/bulk_create", json={"bulk": [
        emu.pair(RIVERSIDE, 3001, emu.type_item(RIVERSIDE, "S"))]}).json()["errors"][0]["errors"]["segment_items"]
    # over 1000 entries: 422 and nothing applied
    many = [emu.pair(RIVERSIDE, emu.cost_code_item(RIVERSIDE, "03-300"), emu.type_item(RIVERSIDE, "L"))] * 1001
    too_many = api.patch(f"{base}/wbs_codes/bulk_create", json={"bulk": many})
    assert too_many.status_code == 422 and "1000" in too_many.json()["errors"]
    assert len(api.get(f"{base}/wbs_codes").json()) == 4
