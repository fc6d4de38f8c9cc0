"""Budget line items: create/show/update, the uniqueness and lock rules, atomic sync, v2 list/delete, views."""
from __future__ import annotations

import sqlite3
from decimal import Decimal

from standins.procore_emulator.contract import response_problems

from .conftest import COMPANY, HARBOR, RIVERSIDE, Emu, exact

BLI = "/rest/v1.0/budget_line_items"
V2 = f"/rest/v2.0/companies/{COMPANY}/projects/{{p}}/budget_line_items"
LOCKED = "The original_budget_amount cannot be updated for a locked budget."
DUPLICATE = "wbs_code_id: This Budget Code already exists"


def _create(emu: Emu, project: int, cost_code: str, lit: str, **fields: object):
    return emu.api().post(BLI, json={"project_id": project, "budget_line_item": {
        "cost_code_id": emu.cost_code_id(project, cost_code), "line_item_type_id": emu.lit_id(lit), **fields}})


def test_create_returns_the_full_line_item(emu: Emu) -> None:
    answer = _create(emu, RIVERSIDE, "03-300", "S", original_budget_amount=Decimal("1234.56"), uom="ls")
    assert answer.status_code == 201
    line = exact(answer)
    assert '"original_budget_amount":1234.56' in answer.text
    assert line["original_budget_amount"] == Decimal("1234.56") and line["revised_budget"] == Decimal("1234.56")
    for key in ("approved_budget_changes", "pending_budget_changes", "projected_budget", "committed_costs",
                "direct_costs", "quantity", "unit_cost", "calculation_strategy"):
        assert key in line
    assert line["cost_code"] == {"id": emu.cost_code_id(RIVERSIDE, "03-300"), "name": "Concrete", "code": "03-300",
                                 "full_code": "03-300"}
    assert line["line_item_type"] == {"id": emu.lit_id("S"), "name": "Subcontract"}
    assert line["wbs_code"]["flat_code"] == "03-300.S" and line["wbs_code"]["description"] == "Concrete.Subcontract"
    assert line["currency_configuration"] == {"currency_iso_code": "USD"}
    shown = emu.api().get(f"{BLI}/{line['id']}", params={"project_id": RIVERSIDE})
    assert shown.status_code == 200 and exact(shown) == line


def test_create_requires_cost_code_and_type(emu: Emu) -> None:
    answer = emu.api().post(BLI, json={"project_id": RIVERSIDE, "budget_line_item": {
        "cost_code_id": emu.cost_code_id(RIVERSIDE, "03-300"), "original_budget_amount": 5}})
    assert answer.status_code == 400 and "line_item_type_id" in answer.json()["errors"]  # the spec requires it
    foreign = emu.api().post(BLI, json={"project_id": RIVERSIDE, "budget_line_item": {
        "cost_code_id": 1, "line_item_type_id": emu.lit_id("L"), "original_budget_amount": 5}})
    assert foreign.status_code == 422 and foreign.json() == {"errors": "cost_code_id: is invalid"}
    assert len(emu.lines(RIVERSIDE)) == 2


def test_one_line_per_cost_code_and_type(emu: Emu) -> None:
    first = _create(emu, RIVERSIDE, "03-300", "L", original_budget_amount=10)
    assert first.status_code == 201
    again = _create(emu, RIVERSIDE, "03-300", "L", original_budget_amount=20)
    assert again.status_code == 422
    assert again.json() == {"errors": DUPLICATE}
    seeded = _create(emu, RIVERSIDE, "01-100", "L", original_budget_amount=1)
    assert seeded.json() == {"errors": DUPLICATE}
    assert [line["original_budget_amount"] for line in emu.lines(RIVERSIDE) if line["cost_code"] == "03-300"] == ["10"]


def test_update_and_move(emu: Emu) -> None:
    api = emu.api()
    line = emu.lines(RIVERSIDE)[0]
    patched = api.patch(f"{BLI}/{line['id']}", json={"project_id": RIVERSIDE, "budget_line_item": {
        "original_budget_amount": Decimal("99.99"), "uom": "hrs"}})
    assert patched.status_code == 200 and exact(patched)["original_budget_amount"] == Decimal("99.99")
    assert emu.lines(RIVERSIDE)[0]["original_budget_amount"] == "99.99"
    taken = api.patch(f"{BLI}/{line['id']}", json={"project_id": RIVERSIDE, "budget_line_item": {
        "cost_code_id": emu.cost_code_id(RIVERSIDE, "02-200"), "line_item_type_id": emu.lit_id("M")}})
    assert taken.status_code == 422 and taken.json()["errors"] == DUPLICATE
    assert api.get(f"{BLI}/1", params={"project_id": RIVERSIDE}).status_code == 404


def test_locked_budget_refuses_amount_writes_and_deletes(emu: Emu) -> None:
    api = emu.api()
    line = emu.lines(HARBOR)[0]
    create = _create(emu, HARBOR, "01-100", "M", original_budget_amount=5)
    patch = api.patch(f"{BLI}/{line['id']}", json={"project_id": HARBOR, "budget_line_item": {"original_budget_amount": 5}})
    sync = api.post(f"{BLI}/sync", json={"project_id": HARBOR, "budget_line_items": [
        {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": 5}]})
    delete = api.delete(V2.format(p=HARBOR) + f"/{line['id']}")
    for answer in (create, patch, sync, delete):
        assert answer.status_code == 422
        assert LOCKED in answer.json()["errors"]
    assert create.json() == {"errors": LOCKED} and delete.json() == {"errors": LOCKED}
    assert emu.lines(HARBOR) == [line]
    # writes that do not touch the amount still work on a locked budget
    uom = api.patch(f"{BLI}/{line['id']}", json={"project_id": HARBOR, "budget_line_item": {"uom": "ea"}})
    assert uom.status_code == 200 and uom.json()["uom"] == "ea"
    # after unlocking, the same amount write goes through
    assert api.delete(f"/rest/v1.0/projects/{HARBOR}/budget/lock").status_code == 200
    assert api.patch(f"{BLI}/{line['id']}", json={"project_id": HARBOR,
                                                  "budget_line_item": {"original_budget_amount": 5}}).status_code == 200


SYNCED_KEYS = {"id", "original_budget_amount", "uom", "quantity", "unit_cost", "calculation_strategy", "wbs_code",
               "currency_configuration"}


def test_sync_creates_and_updates(emu: Emu) -> None:
    api = emu.api()
    existing = emu.lines(RIVERSIDE)
    new_wbs = emu.wbs_id(RIVERSIDE, "03-300", "M")
    answer = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
        {"id": existing[0]["id"], "wbs_code_id": existing[0]["wbs_code_id"],
         "original_budget_amount": Decimal("12345678901.23")},
        {"wbs_code_id": new_wbs, "original_budget_amount": Decimal("0.01"), "uom": "ls"},
    ]})
    assert answer.status_code == 200
    body = exact(answer)
    assert response_problems("POST", f"{BLI}/sync", 200, body) == []
    assert all(set(b) == SYNCED_KEYS for b in body)  # exactly the spec's line item, no cost_code / line_item_type
    assert [b["original_budget_amount"] for b in body] == [Decimal("12345678901.23"), Decimal("0.01")]
    assert '"original_budget_amount":12345678901.23' in answer.text and '"original_budget_amount":0.01' in answer.text
    assert body[0]["id"] == existing[0]["id"] and body[1]["wbs_code"]["id"] == new_wbs
    assert body[1]["wbs_code"] == {"id": new_wbs, "flat_code": "03-300.M", "description": "Concrete.Material"}
    assert body[1]["currency_configuration"] == {"currency_iso_code": "USD"}
    state = {(line["cost_code"], line["line_item_type"]): line["original_budget_amount"] for line in emu.lines(RIVERSIDE)}
    assert state == {("01-100", "L"): "12345678901.23", ("02-200", "M"): "2500.50", ("03-300", "M"): "0.01"}


def test_sync_is_all_or_nothing(emu: Emu) -> None:
    api = emu.api()
    before = emu.lines(RIVERSIDE)
    fresh = emu.wbs_id(RIVERSIDE, "03-300", "L")
    mine, taken = before[0]["wbs_code_id"], before[1]["wbs_code_id"]
    line = before[0]["id"]
    refused = [  # each reaches the emulator (it follows the spec) and is refused as a whole: 422
        ([{"id": line, "wbs_code_id": mine, "original_budget_amount": 1},
          {"wbs_code_id": taken, "original_budget_amount": 2}], DUPLICATE),
        ([{"wbs_code_id": fresh, "original_budget_amount": 1},
          {"wbs_code_id": fresh, "original_budget_amount": 2}], DUPLICATE),
        ([{"wbs_code_id": fresh, "original_budget_amount": 1},
          {"id": 77, "wbs_code_id": taken, "original_budget_amount": 2}], "id: Budget Line Item 77 not found"),
        ([{"wbs_code_id": fresh, "original_budget_amount": 1},
          {"id": line, "wbs_code_id": taken, "original_budget_amount": 2}], "does not match"),
        ([{"wbs_code_id": fresh, "original_budget_amount": 1},
          {"wbs_code_id": 5, "original_budget_amount": 2}], "wbs_code_id: is invalid"),
    ]
    for items, text in refused:
        answer = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": items})
        assert answer.status_code == 422, items
        assert set(answer.json()) == {"errors"} and text in answer.json()["errors"], answer.text  # no details[]
        assert emu.lines(RIVERSIDE) == before, items
    broken = [  # each breaks the spec: refused with 400 before the emulator looks at it
        ([{"id": line, "original_budget_amount": 1}], "wbs_code_id"),
        ([{"wbs_code_id": fresh}, {"original_budget_amount": 2}], "wbs_code_id"),
        ([{"id": line, "wbs_code_id": mine, "original_budget_amount": "NaN"}], "original_budget_amount"),
        ([{"id": line, "wbs_code_id": mine, "original_budget_amount": "12abc"}], "original_budget_amount"),
        ([{"id": line, "wbs_code_id": mine, "original_budget_amount": None}], "original_budget_amount"),
        ([{"id": line, "wbs_code_id": mine, "description": "x"}], "description"),
    ]
    for items, name in broken:
        answer = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": items})
        assert answer.status_code == 400, items
        assert name in answer.json()["errors"], answer.text
        assert emu.lines(RIVERSIDE) == before, items


def test_sync_update_without_wbs_code_id_is_refused_naming_it(emu: Emu) -> None:
    line = emu.lines(RIVERSIDE)[0]
    answer = emu.api().post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
        {"id": line["id"], "original_budget_amount": 3}]})
    assert answer.status_code == 400
    assert "'wbs_code_id' is a required property" in answer.json()["errors"]
    violations = emu.admin("GET", "/contract")["violations"]
    assert violations[-1]["kind"] == "request" and violations[-1]["path"] == f"{BLI}/sync"
    assert any("wbs_code_id" in p for p in violations[-1]["problems"])
    assert emu.lines(RIVERSIDE)[0] == line


def test_sync_rejects_non_finite_json_numbers(emu: Emu) -> None:
    line = emu.lines(RIVERSIDE)[0]
    raw = (f'{{"project_id": {RIVERSIDE}, "budget_line_items": [{{"id": {line["id"]}, '
           f'"wbs_code_id": {line["wbs_code_id"]}, "original_budget_amount": NaN}}]}}')
    answer = emu.api().post(f"{BLI}/sync", data=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "original_budget_amount" in answer.json()["errors"]
    assert emu.lines(RIVERSIDE)[0] == line


def test_sync_limit_is_1000_items(emu: Emu) -> None:
    api = emu.api()
    line = emu.lines(RIVERSIDE)[0]
    items = [{"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": i} for i in range(1001)]
    too_many = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": items})
    assert too_many.status_code == 422 and "1000" in too_many.json()["errors"]
    assert emu.lines(RIVERSIDE)[0] == line
    ok = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": items[:1000]})
    assert ok.status_code == 200 and len(ok.json()) == 1000
    assert emu.lines(RIVERSIDE)[0]["original_budget_amount"] == "999"


def test_thousand_new_lines_in_one_sync(emu: Emu) -> None:
    api = emu.api()
    answer = api.patch("/rest/v1.0/cost_codes/sync", params={"project_id": RIVERSIDE}, json={"updates": [
        {"code": f"50-{i:03d}", "name": f"Code {i}"} for i in range(500)]})
    assert answer.json()["errors"] == []
    items_by_code = {i["path_code"]: i["id"] for i in emu.segment_items(RIVERSIDE, "cost_code")}
    types = [emu.type_item(RIVERSIDE, "L"), emu.type_item(RIVERSIDE, "M")]
    bulk = [emu.pair(RIVERSIDE, items_by_code[f"50-{i:03d}"], t) for i in range(500) for t in types]
    created = api.patch(f"/rest/v1.0/projects/{RIVERSIDE}/work_breakdown_structure/wbs_codes/bulk_create",
                        json={"bulk": bulk}).json()
    assert created["errors"] == [] and len(created["entities"]) == 1000
    items = [{"wbs_code_id": w["id"], "original_budget_amount": Decimal(f"{i}.{i % 100:02d}")}
             for i, w in enumerate(created["entities"])]
    answer = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": items})
    assert answer.status_code == 200 and answer.elapsed.total_seconds() < 5
    assert len(emu.lines(RIVERSIDE)) == 1002
    total = sum(Decimal(line["original_budget_amount"]) for line in emu.lines(RIVERSIDE))
    assert total == sum(i["original_budget_amount"] for i in items) + Decimal("4000.50")


def test_money_round_trip_is_exact(emu: Emu) -> None:
    api = emu.api()
    amounts = ["12345678901.23", "0.01", "-42.10", "0.3", "100"]
    lines = emu.lines(RIVERSIDE)
    for amount in amounts:
        line = lines[0]
        api.patch(f"{BLI}/{line['id']}", json={"project_id": RIVERSIDE,
                                               "budget_line_item": {"original_budget_amount": Decimal(amount)}})
        assert emu.lines(RIVERSIDE)[0]["original_budget_amount"] == amount
        v1 = exact(api.get(f"{BLI}/{line['id']}", params={"project_id": RIVERSIDE}))
        assert v1["original_budget_amount"] == Decimal(amount)
        v2 = api.get(V2.format(p=RIVERSIDE)).json()["data"]
        assert next(r for r in v2 if r["id"] == str(line["id"]))["original_budget_amount"] == amount
    # a JSON number (not a string) is read without going through a float
    raw = f'{{"project_id": {RIVERSIDE}, "budget_line_item": {{"original_budget_amount": 0.30000000000000001}}}}'
    answer = api.patch(f"{BLI}/{lines[0]['id']}", data=raw,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 422  # more decimals than the emulator accepts, not silently 0.3


def test_automatic_calculation(emu: Emu) -> None:
    answer = _create(emu, RIVERSIDE, "03-300", "L", calculation_strategy="automatic", quantity=3,
                     unit_cost=Decimal("0.10"), uom="ea")
    assert answer.status_code == 201
    assert exact(answer)["original_budget_amount"] == Decimal("0.30")


def test_v2_list_and_delete(emu: Emu) -> None:
    api = emu.api()
    answer = api.get(V2.format(p=RIVERSIDE), params={"per_page": 500})
    assert answer.status_code == 200 and answer.headers["Per-Page"] == "100"
    data = answer.json()["data"]
    assert len(data) == 2
    row = data[0]
    assert isinstance(row["id"], str) and isinstance(row["original_budget_amount"], str)
    assert row["original_budget_amount"] == "1500.00" and row["wbs_code"]["flat_code"] == "01-100.L"
    assert isinstance(row["wbs_code"]["id"], str) and row["cost_code_id"] == "3001"
    gone = api.delete(V2.format(p=RIVERSIDE) + f"/{row['id']}")
    assert gone.status_code == 204 and gone.content == b""
    assert [line["id"] for line in emu.lines(RIVERSIDE)] == [int(data[1]["id"])]
    assert api.delete(V2.format(p=RIVERSIDE) + f"/{row['id']}").status_code == 404
    assert api.get(f"/rest/v2.0/companies/1002/projects/{RIVERSIDE}/budget_line_items").status_code == 403


DETAIL_KEYS = {"id", "deletable", "company_id", "company", "project_id", "wbs_code_id", "biller_id", "biller",
               "biller_type", "root_cost_code_id", "root_cost_code", "cost_code_id", "cost_code_origin_id",
               "category_id", "project", "cost_code", "category", "budget_modifications", "original_budget_amount",
               "budget_forecast", "currency_configuration", "unbudgeted_reason"}


def test_budget_views_and_detail_rows(emu: Emu) -> None:
    api = emu.api()
    answer = api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE})
    views = answer.json()
    assert response_problems("GET", "/rest/v1.0/budget_views", 200, views) == []
    assert [(v["id"], v["name"]) for v in views] == [(8001, "Procore Standard Budget"), (8002, "Forecast Budget")]
    assert answer.headers["Total"] == "2"
    assert set(views[0]) == {"id", "name", "description", "created_at", "updated_at", "role", "links"}
    view = views[0]["id"]
    path = f"/rest/v1.0/budget_views/{view}/detail_rows"
    rows = exact(api.get(path, params={"project_id": RIVERSIDE, "budget_row_type": "budgeted"}))
    assert response_problems("GET", path, 200, rows) == []
    lines = emu.lines(RIVERSIDE)
    assert [r["id"] for r in rows] == [line["id"] for line in lines]
    assert all(set(r) == DETAIL_KEYS for r in rows)  # only the spec's documented keys
    first = rows[0]
    assert first["cost_code"] == "01-100 - General Conditions" and first["category"] == "Labor"
    assert first["cost_code_id"] == 3001 and first["root_cost_code_id"] == 3001
    assert first["root_cost_code"] == "01-100 - General Conditions"
    assert first["category_id"] == emu.lit_id("L") and first["wbs_code_id"] == lines[0]["wbs_code_id"]
    assert first["original_budget_amount"] == Decimal("1500.00") and first["budget_modifications"] == 0
    assert (first["project"], first["company"], first["project_id"]) == ("Riverside Clinic", "Acme Builders", RIVERSIDE)
    assert first["currency_configuration"] == {"currency_iso_code": "USD"} and first["deletable"] is True
    assert rows[1]["cost_code_origin_id"] == "01|19.50|02-200"
    # every view shows the same line items
    other = exact(api.get("/rest/v1.0/budget_views/8002/detail_rows", params={"project_id": RIVERSIDE}))
    assert other == rows
    unbudgeted = api.get(path, params={"project_id": RIVERSIDE, "budget_row_type": "unbudgeted"})
    assert unbudgeted.json() == [] and unbudgeted.headers["Total"] == "0"
    assert api.get(path, params={"project_id": RIVERSIDE, "budget_row_type": "bogus"}).status_code == 400
    missing = api.get("/rest/v1.0/budget_views/1/detail_rows", params={"project_id": RIVERSIDE})
    assert missing.status_code == 404 and missing.json() == {"errors": "Budget View 1 not found"}
    # another company's view is not one of ours
    other_view = emu.api("other-client", company_id=1002).get("/rest/v1.0/budget_views", params={
        "project_id": emu.api("other-client", company_id=1002).get("/rest/v1.0/companies/1002/projects").json()[0]["id"]
    }).json()[0]["id"]
    assert api.get(f"/rest/v1.0/budget_views/{other_view}/detail_rows",
                   params={"project_id": RIVERSIDE}).status_code == 404


def test_detail_rows_name_the_root_cost_code(emu: Emu) -> None:
    api = emu.api()
    answer = api.patch("/rest/v1.0/cost_codes/sync", params={"project_id": RIVERSIDE}, json={"updates": [
        {"code": "10", "name": "Division 10", "origin_id": "div-10"},
        {"code": "100", "name": "Specialties", "parent_origin_id": "div-10"}]}).json()
    parent, child = answer["entities"]
    created = _create(emu, RIVERSIDE, "10-100", "L", original_budget_amount=7)
    assert created.status_code == 201, created.text
    rows = api.get("/rest/v1.0/budget_views/8001/detail_rows", params={"project_id": RIVERSIDE}).json()
    row = next(r for r in rows if r["cost_code_id"] == child["id"])
    assert row["cost_code"] == "10-100 - Specialties"
    assert (row["root_cost_code_id"], row["root_cost_code"]) == (parent["id"], "10 - Division 10")


def _detail_pages(emu: Emu, per_page: int) -> list[tuple[int, str, str]]:
    """Every detail row of Riverside read page by page: (id, cost code, amount)."""
    api, rows, page = emu.api(), [], 1
    while True:
        answer = api.get("/rest/v1.0/budget_views/8001/detail_rows",
                         params={"project_id": RIVERSIDE, "per_page": per_page, "page": page})
        assert answer.status_code == 200, answer.text
        got = exact(answer)
        rows += [(r["id"], r["cost_code"], str(r["original_budget_amount"])) for r in got]
        if len(got) < per_page or len(rows) >= int(answer.headers["Total"]):
            return rows
        page += 1


def test_detail_row_pages_follow_every_change(emu: Emu) -> None:
    """The emulator keeps each budget's row order between pages; a write through the API, or a change
    committed to its database file by another connection, must show on the next page read."""
    before = _detail_pages(emu, per_page=1)
    assert [code for _, code, _ in before] == ["01-100 - General Conditions", "02-200 - Site Work"]
    created = _create(emu, RIVERSIDE, "01-100", "M", original_budget_amount=Decimal("10.00"))
    assert created.status_code == 201, created.text
    after_create = _detail_pages(emu, per_page=1)
    assert [r[0] for r in after_create] == [before[0][0], created.json()["id"], before[1][0]]
    with sqlite3.connect(emu.server.db_path) as outside:  # a hand edit, as a test of the client makes one
        outside.execute("UPDATE budget_line_items SET original_budget_amount = '99.99' WHERE id = ?", (before[0][0],))
        outside.execute("UPDATE cost_codes SET full_code = '99-900' WHERE id = 3001")
    after_edit = _detail_pages(emu, per_page=1)
    assert after_edit == [before[1], (before[0][0], "99-900 - General Conditions", "99.99"),
                          (created.json()["id"], "99-900 - General Conditions", "10.00")]
    assert _detail_pages(emu, per_page=2) == after_edit
