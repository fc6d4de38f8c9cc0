"""The emulator against Procore's spec as data (include/budget_import/procore/contract): every operation's
answer has the documented shape, the documented refusals, and the contract check of all traffic."""
from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from include.budget_import.procore import contract as spec
from standins.procore_emulator import contract as fast
from standins.procore_emulator.server import EmulatorServer

from .conftest import (
    COMPANY,
    EXAMPLE_FIXTURE,
    HARBOR,
    RIVERSIDE,
    SPANISH_FIXTURE,
    WBS,
    ApiSession,
    Emu,
    exact,
)

BLI = "/rest/v1.0/budget_line_items"
V2 = f"/rest/v2.0/companies/{COMPANY}/projects/{RIVERSIDE}/budget_line_items"
SEGMENT_KEYS = {"id", "name", "type", "position", "delimiter", "required", "structure", "segment_items_count",
                "project_can_modify_origin_project", "project_can_delete_origin_company"}
ITEM_KEYS = {"id", "code", "name", "parent_id", "path_ids", "path_code", "path_codes", "path_names", "is_parent",
             "in_use", "status", "segment", "created_at", "updated_at"}


def documented(answer: requests.Response, method: str | None = None) -> Any:
    """The answer's body (Decimals kept) after checking it against the contract."""
    request = answer.request
    path = requests.utils.urlparse(request.url).path
    body = exact(answer) if answer.content else None
    problems = spec.response_problems(method or request.method, path, answer.status_code, body)
    assert problems == [], problems
    return body


# ---- every operation -----------------------------------------------------------------------------

def test_every_operation_answers_its_documented_shape(emu: Emu) -> None:
    api = emu.api()
    seg = emu.segments(RIVERSIDE)
    line = emu.lines(RIVERSIDE)[0]
    base = WBS.format(p=RIVERSIDE)
    calls: list[tuple[str, str, requests.Response]] = []
    since = max((v["seq"] for v in emu.admin("GET", "/contract")["violations"]), default=0)
    checked = emu.admin("GET", "/contract")["checked"]

    def call(method: str, path: str, session: ApiSession | None = None, **kwargs: Any) -> Any:
        answer = (session or api).request(method, path, **kwargs)
        assert answer.status_code < 300, (method, path, answer.text)
        op = spec.operation_for(method, path.split("?")[0])
        assert op is not None, path
        calls.append((op.name, path, answer))
        return documented(answer)

    call("POST", "/oauth/token", emu.anon, data={"grant_type": "client_credentials", "client_id": "demo-client",
                                                 "client_secret": "demo-secret"})
    call("GET", "/rest/v1.0/companies")
    call("GET", f"/rest/v1.0/companies/{COMPANY}/projects", params={"filters[origin_id]": "01|19.50"})
    call("PATCH", f"/rest/v1.0/projects/{RIVERSIDE}", emu.api("admin-client"), json={"company_id": COMPANY, "project": {"origin_id": "01|19.50"}})
    call("GET", f"/rest/v1.0/projects/{RIVERSIDE}/tools")
    call("GET", "/rest/v1.0/settings/permissions", params={"project_id": RIVERSIDE})
    call("GET", f"/rest/v1.0/projects/{RIVERSIDE}/budget")
    call("POST", f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock")
    call("DELETE", f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock")
    call("GET", "/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE, "view": "erp_compact"})
    call("PATCH", "/rest/v1.0/cost_codes/sync", params={"project_id": RIVERSIDE},
         json={"updates": [{"code": "07-700", "name": "Roofing", "origin_id": "01|19.50|07-700"}]})
    call("GET", "/rest/v1.0/line_item_types", params={"company_id": COMPANY})
    call("PATCH", "/rest/v1.0/line_item_types/sync",
         json={"company_id": COMPANY, "updates": [{"code": "E", "name": "Equipment", "base_type": "equipment"}]})
    call("GET", f"{base}/segments")
    call("GET", f"{base}/segments/{seg['cost_code']}/segment_items")
    call("GET", f"{base}/segments/{seg['line_item_type']}/segment_items")
    item = call("POST", f"{base}/segments/{seg['cost_code']}/segment_items", json={"code": "08-800", "name": "Doors"})
    call("GET", f"{base}/wbs_codes", params={"filters[status]": "active"})
    call("POST", f"{base}/wbs_codes", json=emu.pair(RIVERSIDE, item["id"], emu.type_item(RIVERSIDE, "L")))
    bulk = call("PATCH", f"{base}/wbs_codes/bulk_create", json={"bulk": [
        emu.pair(RIVERSIDE, item["id"], emu.type_item(RIVERSIDE, "M"))]})
    call("GET", "/rest/v1.0/budget_views", params={"project_id": RIVERSIDE})
    call("GET", "/rest/v1.0/budget_views/8001/detail_rows", params={"project_id": RIVERSIDE})
    call("POST", f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
        {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": Decimal("1.25")},
        {"wbs_code_id": bulk["entities"][0]["id"], "original_budget_amount": 3}]})
    created = call("POST", BLI, json={"project_id": RIVERSIDE, "budget_line_item": {
        "cost_code_id": emu.cost_code_id(RIVERSIDE, "03-300"), "line_item_type_id": emu.lit_id("S"),
        "original_budget_amount": Decimal("9.99")}})
    call("GET", f"{BLI}/{created['id']}", params={"project_id": RIVERSIDE})
    call("PATCH", f"{BLI}/{created['id']}", json={"project_id": RIVERSIDE, "budget_line_item": {"uom": "ls"}})
    call("GET", V2)
    call("DELETE", f"{V2}/{created['id']}")

    covered = {name for name, _, _ in calls}
    assert covered == {op.name for op in spec.operations()}  # every operation of the contract, none left out
    report = emu.admin("GET", "/contract", params={"since": since})
    assert report["mode"] == "check" and report["checked"] - checked >= len(calls)
    assert report["violations"] == []


# ---- WBS: segments, segment items, WBS codes -----------------------------------------------------

def test_segments_carry_type_and_the_spec_fields(emu: Emu) -> None:
    segments = documented(emu.api().get(WBS.format(p=RIVERSIDE) + "/segments"))
    assert all(set(s) == SEGMENT_KEYS for s in segments)  # no invented `code`
    cost_code, cost_type = segments
    assert cost_code == {"id": 9000000001, "name": "Cost Code", "type": "cost_code", "position": 1, "delimiter": ".",
                         "required": True, "structure": "tiered", "segment_items_count": 3,
                         "project_can_modify_origin_project": True, "project_can_delete_origin_company": False}
    assert cost_type["type"] == "line_item_type" and cost_type["name"] == "Cost Type"
    assert (cost_type["structure"], cost_type["project_can_modify_origin_project"]) == ("flat", False)
    assert cost_type["segment_items_count"] == 3 and cost_type["position"] == 2


def test_segment_items_nest_their_segment_and_have_ids_of_their_own(emu: Emu) -> None:
    api = emu.api()
    seg = emu.segments(RIVERSIDE)
    base = WBS.format(p=RIVERSIDE)
    codes = documented(api.get(f"{base}/segments/{seg['cost_code']}/segment_items"))
    types = documented(api.get(f"{base}/segments/{seg['line_item_type']}/segment_items"))
    cost_codes = {c["code"]: c for c in api.get("/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE}).json()}
    lits = {t["code"]: t for t in api.get("/rest/v1.0/line_item_types", params={"company_id": COMPANY}).json()}
    assert [i["code"] for i in codes] == ["01-100", "02-200", "03-300"]
    assert [i["code"] for i in types] == ["L", "M", "S"]
    for item in codes + types:
        assert set(item) == ITEM_KEYS and "segment_id" not in item
        assert item["status"] == "active" and item["id"] > 2**32
    general = codes[0]
    assert general["segment"]["id"] == seg["cost_code"] and general["segment"]["type"] == "cost_code"
    assert general["segment"]["name"] == "Cost Code" and general["segment"]["structure"] == "tiered"
    assert (general["path_code"], general["path_codes"], general["path_names"]) == (
        "01-100", ["01-100"], ["General Conditions"])
    assert general["path_ids"] == [general["id"]] and general["parent_id"] is None and general["in_use"] is True
    assert codes[2]["in_use"] is False  # 03-300 has no WBS code yet
    assert types[0]["segment"]["type"] == "line_item_type" and types[0]["name"] == "Labor"
    # the ids are not the cost code / line item type ids, and unique across everything
    item_ids = [i["id"] for i in codes + types]
    entity_ids = {c["id"] for c in cost_codes.values()} | {t["id"] for t in lits.values()}
    assert not set(item_ids) & entity_ids and len(set(item_ids)) == len(item_ids)
    assert codes[0]["id"] != cost_codes["01-100"]["id"] == 3001 and types[0]["id"] != lits["L"]["id"] == 6001
    # stable: the same ids on every read
    assert [i["id"] for i in api.get(f"{base}/segments/{seg['cost_code']}/segment_items").json()] == item_ids[:3]
    unknown = api.get(f"{base}/segments/123/segment_items")
    assert unknown.status_code == 404 and set(unknown.json()) == {"errors"}


def test_segment_items_stable_across_a_restart(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path / "items.db", EXAMPLE_FIXTURE) as server:
        helper = Emu(server)
        before = helper.segment_items(RIVERSIDE, "cost_code")
        server.restart()
        helper = Emu(server)
        assert helper.segment_items(RIVERSIDE, "cost_code") == before


def test_creating_a_cost_code_segment_item(emu: Emu) -> None:
    api = emu.api()
    seg = emu.segments(RIVERSIDE)
    path = WBS.format(p=RIVERSIDE) + f"/segments/{seg['cost_code']}/segment_items"
    parent = documented(api.post(path, json={"code": "20", "name": "Division 20"}))
    child = api.post(path, json={"code": "200", "name": "Plumbing", "parent_id": parent["id"]})
    assert child.status_code == 201
    child = documented(child)
    assert (child["code"], child["path_code"], child["parent_id"]) == ("200", "20-200", parent["id"])
    assert child["path_ids"] == [parent["id"], child["id"]] and child["path_names"] == ["Division 20", "Plumbing"]
    assert child["segment"]["type"] == "cost_code" and child["in_use"] is False
    listed = {c["full_code"]: c for c in api.get("/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE}).json()}
    assert listed["20-200"]["name"] == "Plumbing" and listed["20-200"]["parent"] == {"id": listed["20"]["id"]}
    assert listed["20-200"]["id"] != child["id"]
    taken = api.post(path, json={"code": "01-100", "name": "Again"})
    assert taken.status_code == 422 and taken.json() == {"errors": {"code": ["has already been taken"]}}
    blank = api.post(path, json={"code": " ", "name": "x"})
    assert blank.status_code == 422 and blank.json() == {"errors": {"code": ["can't be blank"]}}
    orphan = api.post(path, json={"code": "X", "name": "x", "parent_id": listed["20"]["id"]})  # a cost code id
    assert orphan.status_code == 422 and orphan.json() == {"errors": {"parent_id": ["is invalid"]}}
    cost_type = api.post(WBS.format(p=RIVERSIDE) + f"/segments/{seg['line_item_type']}/segment_items",
                         json={"code": "Q", "name": "Quality"})
    assert cost_type.status_code == 403 and set(cost_type.json()) == {"errors"}  # project_can_modify_origin_project
    assert emu.api("viewer-client").post(path, json={"code": "21", "name": "r"}).status_code == 403
    assert api.post(WBS.format(p=RIVERSIDE) + "/segments/5/segment_items",
                    json={"code": "Z", "name": "z"}).status_code == 404


def test_creating_one_wbs_code(emu: Emu) -> None:
    api = emu.api()
    path = WBS.format(p=RIVERSIDE) + "/wbs_codes"
    pair = emu.pair(RIVERSIDE, emu.cost_code_item(RIVERSIDE, "03-300"), emu.type_item(RIVERSIDE, "L"))
    created = api.post(path, json=pair)
    assert created.status_code == 201
    body = documented(created)
    assert body["flat_code"] == "03-300.L" and body["description"] == "Concrete.Labor"
    assert [i["segment"]["type"] for i in body["segment_items"]] == ["cost_code", "line_item_type"]
    again = documented(api.post(path, json={**pair, "description": "Concrete labour"}))
    assert again["id"] == body["id"] and again["description"] == "Concrete labour"  # returned, not duplicated
    assert len(api.get(path).json()) == 3
    bad = api.post(path, json=emu.pair(RIVERSIDE, 1, 2))
    assert bad.status_code == 422 and list(bad.json()["errors"]) == ["segment_items"]
    one_segment = api.post(path, json={"segment_items": pair["segment_items"][:1]})
    assert one_segment.status_code == 422 and "required" in one_segment.json()["errors"]["segment_items"][0]
    assert api.post(path, json={"segment_items": []}).status_code == 400  # the spec wants at least one
    assert emu.api("viewer-client").post(path, json=pair).status_code == 403


def test_bulk_create_reports_each_bad_entry_and_creates_the_others(emu: Emu) -> None:
    api = emu.api()
    path = WBS.format(p=RIVERSIDE) + "/wbs_codes/bulk_create"
    good = emu.pair(RIVERSIDE, emu.cost_code_item(RIVERSIDE, "03-300"), emu.type_item(RIVERSIDE, "M"),
                    description="Concrete materials")
    foreign_type = emu.pair(RIVERSIDE, emu.cost_code_item(RIVERSIDE, "03-300"), 6001)  # a line item type id
    answer = api.patch(path, json={"bulk": [foreign_type, good]})
    assert answer.status_code == 201
    body = documented(answer)
    assert [(c["flat_code"], c["description"]) for c in body["entities"]] == [("03-300.M", "Concrete materials")]
    assert body["errors"] == [{"segment_items": foreign_type["segment_items"],
                               "errors": {"segment_items": ["Cost Type: segment item 6001 is not in this company"]}}]
    # an existing pair with a description: updated, never duplicated
    renamed = documented(api.patch(path, json={"bulk": [{**good, "description": "Concrete, materials"}]}))
    assert renamed["entities"][0]["id"] == body["entities"][0]["id"]
    assert renamed["entities"][0]["description"] == "Concrete, materials"
    assert emu.api("viewer-client").patch(path, json={"bulk": [good]}).status_code == 403


def test_wbs_codes_filters(emu: Emu) -> None:
    api = emu.api()
    path = WBS.format(p=RIVERSIDE) + "/wbs_codes"
    assert len(documented(api.get(path, params={"filters[status]": "active"}))) == 2
    assert api.get(path, params={"filters[status]": "inactive"}).json() == []
    time.sleep(1.1)  # timestamps have whole seconds
    mark = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    emu.wbs_id(RIVERSIDE, "03-300", "S")
    recent = api.get(path, params={"filters[updated_at]": f"{mark}...2999-01-01T00:00:00Z"}).json()
    assert [c["flat_code"] for c in recent] == ["03-300.S"]
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(api.get(path, params={"filters[updated_at]": f"{day}...{day}"}).json()) == 3
    assert api.get(path, params={"filters[updated_at]": "2000-01-01...2000-01-02"}).json() == []
    assert api.get(path, params={"filters[updated_at]": "yesterday"}).status_code == 400


# ---- a non-English company -----------------------------------------------------------------------

def test_a_spanish_company_tells_segments_apart_by_type(emu: Emu) -> None:
    emu.admin("POST", "/reset", json=__import__("json").loads(SPANISH_FIXTURE.read_text(encoding="utf-8")))
    api = emu.api("andina-client", company_id=1101)
    base = WBS.format(p=2101)
    segments = documented(api.get(f"{base}/segments"))
    assert [(s["type"], s["name"]) for s in segments] == [("cost_code", "Código de costo"),
                                                         ("line_item_type", "Tipo de costo")]
    seg = {s["type"]: s["id"] for s in segments}
    codes = documented(api.get(f"{base}/segments/{seg['cost_code']}/segment_items"))
    child = next(i for i in codes if i["path_code"] == "01-100")
    assert child["segment"]["name"] == "Código de costo" and child["path_names"] == ["Condiciones generales",
                                                                                    "Supervisión"]
    assert child["parent_id"] == next(i["id"] for i in codes if i["path_code"] == "01") and child["in_use"] is True
    types = documented(api.get(f"{base}/segments/{seg['line_item_type']}/segment_items"))
    material = next(i for i in types if i["code"] == "MAT")
    created = documented(api.patch(f"{base}/wbs_codes/bulk_create", json={"bulk": [{"segment_items": [
        {"segment_id": seg["cost_code"], "segment_item_id": child["id"]},
        {"segment_id": seg["line_item_type"], "segment_item_id": material["id"]}]}]}))
    assert created["errors"] == [] and created["entities"][0]["flat_code"] == "01-100.MAT"
    views = documented(api.get("/rest/v1.0/budget_views", params={"project_id": 2101}))
    assert [v["name"] for v in views] == ["Presupuesto estándar de Procore"]
    rows = documented(api.get(f"/rest/v1.0/budget_views/{views[0]['id']}/detail_rows", params={"project_id": 2101}))
    assert rows[0]["cost_code"] == "01-100 - Supervisión" and rows[0]["category"] == "Mano de obra"
    assert rows[0]["root_cost_code"] == "01 - Condiciones generales"
    assert '"original_budget_amount":2500.75' in api.get(f"/rest/v1.0/budget_views/{views[0]['id']}/detail_rows",
                                                         params={"project_id": 2101}).text
    emu.admin("POST", "/reset")


# ---- permissions, companies, views ---------------------------------------------------------------

@pytest.mark.parametrize(("client_id", "level", "can_create"), [
    ("admin-client", {"id": 4, "name": "Admin"}, True),
    ("demo-client", {"id": 3, "name": "Standard"}, True),
    ("viewer-client", {"id": 2, "name": "Read Only"}, False),
    ("no-budget-client", {"id": 1, "name": "None"}, False),
])
def test_permissions_follow_the_fixture_permission(emu: Emu, client_id: str, level: dict, can_create: bool) -> None:
    api = emu.api(client_id)
    body = documented(api.get("/rest/v1.0/settings/permissions", params={"project_id": RIVERSIDE}))
    budget = next(t for t in body["tools"] if t["name"] == "budgeting")
    assert budget["friendly_name"] == "Budget" and budget["user_access_level"] == level
    assert budget["can_create"] is can_create and budget["permitted_actions"] == [] and budget["trial"] is False
    assert budget["domain_id"] == RIVERSIDE and budget["available_for_user"] is (level["name"] != "None")
    assert set(budget) == {"id", "name", "friendly_name", "domain_id", "tab_group", "available_for_user", "url",
                           "user_access_level", "permitted_actions", "can_create", "trial"}
    assert len(body["tools"]) > 1
    company = documented(api.get("/rest/v1.0/settings/permissions", params={"company_id": COMPANY}))
    assert next(t for t in company["tools"] if t["name"] == "budgeting")["user_access_level"] == level


def test_permissions_refusals_and_the_admin_permission_writes(emu: Emu) -> None:
    api = emu.api()
    assert api.get("/rest/v1.0/settings/permissions").status_code == 400
    assert api.get("/rest/v1.0/settings/permissions", params={"company_id": 1002}).status_code == 403
    assert api.get("/rest/v1.0/settings/permissions", params={"project_id": 123}).status_code == 404
    hillside = emu.project_id("01|21.03")  # Budget tool inactive
    tools = api.get("/rest/v1.0/settings/permissions", params={"project_id": hillside}).json()["tools"]
    assert next(t for t in tools if t["name"] == "budgeting")["available_for_user"] is False
    admin = emu.api("admin-client")
    line = emu.lines(RIVERSIDE)[0]
    synced = admin.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
        {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": 42}]})
    assert synced.status_code == 200 and emu.lines(RIVERSIDE)[0]["original_budget_amount"] == "42"


def test_companies_shape(emu: Emu) -> None:
    companies = documented(emu.api().get("/rest/v1.0/companies"))
    assert companies == [{"id": COMPANY, "name": "Acme Builders", "is_active": True, "logo_url": None,
                          "my_company": True}]


def test_several_budget_views_are_listed_and_paged(emu: Emu) -> None:
    api = emu.api()
    first = api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE, "per_page": 1})
    assert [v["id"] for v in documented(first)] == [8001] and first.headers["Total"] == "2"
    second = api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE, "per_page": 1, "page": 2})
    assert [v["name"] for v in second.json()] == ["Forecast Budget"]
    assert second.json()[0]["description"] == "Budget with forecast columns"
    assert api.get("/rest/v1.0/budget_views", params={"project_id": HARBOR}).json()[1]["id"] == 8002


# ---- error bodies --------------------------------------------------------------------------------

def test_error_bodies_are_the_documented_form(emu: Emu) -> None:
    api = emu.api()
    answers = {
        401: emu.anon.get("/rest/v1.0/companies", headers={"Procore-Company-Id": str(COMPANY)}),
        403: emu.api("viewer-client").post(f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock"),
        404: api.get("/rest/v1.0/projects/123/budget"),
        400: api.get("/rest/v1.0/cost_codes"),
        422: api.post(BLI, json={"project_id": RIVERSIDE, "budget_line_item": {
            "cost_code_id": 3001, "line_item_type_id": emu.lit_id("L"), "original_budget_amount": 1}}),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"errors"} and isinstance(answer.json()["errors"], str), answer.text
        documented(answer)
    assert api.get("/rest/v1.0/no_such_endpoint").json() == {"errors": "Not Found"}
    oauth = emu.anon.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "x",
                                                "client_secret": "y"})
    assert set(oauth.json()) == {"error", "error_description"}  # Doorkeeper's form on /oauth


# ---- the contract check itself -------------------------------------------------------------------

def test_a_request_that_breaks_the_spec_is_refused_and_recorded(emu: Emu) -> None:
    api = emu.api()
    emu.admin("DELETE", "/contract")
    answer = api.post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
        {"wbs_code_id": "5", "original_budget_amount": "1.00"}]}, headers={"User-Agent": "contract-test/1"})
    assert answer.status_code == 400
    assert answer.json()["errors"].count("; ") == 1  # two problems joined
    report = emu.admin("GET", "/contract")
    (violation,) = report["violations"]
    assert {k: violation[k] for k in ("kind", "operation", "method", "path", "status", "user_agent")} == {
        "kind": "request", "operation": "POST /rest/v1.0/budget_line_items/sync", "method": "POST",
        "path": f"{BLI}/sync", "status": 400, "user_agent": "contract-test/1"}
    assert len(violation["problems"]) == 2 and all("budget_line_items[0]" in p for p in violation["problems"])
    log = emu.admin("GET", "/requests", params={"path_contains": "/sync"})
    assert [e["status"] for e in log] == [400]  # counted and logged like any other answer
    # an undocumented operation is recorded but answered by the app (404), not refused
    assert api.get("/rest/v1.0/no_such_endpoint").status_code == 404
    last = emu.admin("GET", "/contract", params={"since": violation["seq"]})["violations"]
    assert [(v["kind"], v["operation"], v["status"]) for v in last] == [("request", None, 404)]
    assert emu.admin("DELETE", "/contract")["cleared"] == 2
    assert emu.admin("GET", "/contract")["violations"] == []


def test_our_clients_bad_requests_are_collected_for_the_suite(emu: Emu) -> None:
    """The suite's fixture fails a test on a bad request from the project's client (its User-Agent)."""
    server = emu.server
    server.new_violations()  # whatever came before
    answer = emu.api().get("/rest/v1.0/cost_codes", headers={"User-Agent": "spectrum-procore-budget/0-test"})
    assert answer.status_code == 400
    assert server in EmulatorServer.running()
    found = server.new_violations()  # drained here, so the suite's check sees nothing left
    assert [(v["kind"], v["user_agent"]) for v in found] == [("request", "spectrum-procore-budget/0-test")]
    assert "project_id" in found[0]["problems"][0]
    assert server.new_violations() == []


def test_contract_off_answers_without_checking(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path / "off.db", EXAMPLE_FIXTURE, contract="off") as server:
        helper = Emu(server)
        line = helper.lines(RIVERSIDE)[0]
        answer = helper.api().post(f"{BLI}/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
            {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": "5.50"}]})
        assert answer.status_code == 200  # a string amount: the spec would refuse it, the emulator reads it
        assert helper.admin("GET", "/contract") == {"mode": "off", "checked": 0, "violations": []}


def test_stopped_servers_keep_their_unreported_violations(tmp_path: Path) -> None:
    server = EmulatorServer(tmp_path / "stop.db", EXAMPLE_FIXTURE)
    with server:
        assert ApiSession(server.base_url).get("/rest/v1.0/companies").status_code == 401
        assert ApiSession(server.base_url).post("/oauth/token", data={}).status_code == 400
    assert server in EmulatorServer.unreported()
    found = server.new_violations()
    assert [v["path"] for v in found] == ["/oauth/token"]
    assert server not in EmulatorServer.unreported()


FAST_CASES = [
    ("POST", f"{BLI}/sync", {"project_id": 1, "budget_line_items": [{"wbs_code_id": 2, "original_budget_amount": 1}]}),
    ("POST", f"{BLI}/sync", {"project_id": 1, "budget_line_items": [{"id": 2, "original_budget_amount": 1}]}),
    ("POST", f"{BLI}/sync", {"project_id": 1, "budget_line_items": [{"wbs_code_id": True}]}),
    ("POST", f"{BLI}/sync", {"project_id": 1, "budget_line_items": [{"wbs_code_id": 2, "original_budget_amount": "1"}]}),
    ("POST", f"{BLI}/sync", {"project_id": 1, "budget_line_items": [{"wbs_code_id": 2, "quantity": Decimal("1.5")}]}),
    ("POST", f"{BLI}/sync", {"project_id": 1, "budget_line_items": [{"wbs_code_id": 2, "extra": 1}]}),
    ("POST", f"{BLI}/sync", [1]),
    ("PATCH", "/rest/v1.0/projects/1/work_breakdown_structure/wbs_codes/bulk_create", {"bulk": [{"segment_items": []}]}),
    ("PATCH", "/rest/v1.0/line_item_types/sync", {"company_id": 1, "updates": [{"code": "L", "base_type": "labor"}]}),
    ("PATCH", "/rest/v1.0/line_item_types/sync", {"company_id": 1, "updates": [{"code": "L", "base_type": "x"}]}),
    ("POST", "/oauth/token", {"grant_type": "password"}),
    ("POST", "/rest/v1.0/projects/1/budget/lock", None),
    ("POST", "/rest/v1.0/projects/1/budget/lock", {"x": 1}),
]
FAST_ANSWERS = [
    ("GET", "/rest/v1.0/companies", 200, [{"id": 1, "name": "A"}]),
    ("GET", "/rest/v1.0/companies", 200, [{"id": "1"}]),
    ("GET", "/rest/v1.0/companies", 401, {"message": "no"}),
    ("GET", "/rest/v1.0/companies", 401, {"errors": "no", "error": {"message": "both"}}),
    ("GET", "/rest/v1.0/companies", 401, {"error": {"message": "x", "code": 1}}),
    ("GET", "/rest/v1.0/companies", 201, []),
    ("GET", "/rest/v1.0/projects/1/work_breakdown_structure/segments", 200, [{"id": 1}]),
    ("GET", "/rest/v1.0/projects/1/work_breakdown_structure/segments", 200, [{"id": 1, "type": "cost_code",
                                                                             "structure": "tiered"}]),
    ("GET", "/rest/v1.0/projects/1/work_breakdown_structure/segments", 200, [{"id": 1, "type": "x",
                                                                             "structure": "round"}]),
    ("GET", "/rest/v1.0/budget_views/1/detail_rows", 200, [{"id": None, "original_budget_amount": Decimal("1.5")}]),
    ("GET", "/rest/v1.0/budget_views/1/detail_rows", 200, [{"original_budget_amount": "1.5"}]),
    ("GET", "/rest/v1.0/settings/permissions", 200, {"tools": [{"user_access_level": None}]}),
    ("GET", "/rest/v1.0/settings/permissions", 200, {"tools": [{"user_access_level": {"id": "4"}}]}),
    ("DELETE", f"{V2}/1", 204, None),
    ("DELETE", f"{V2}/1", 204, {}),
]


@pytest.mark.parametrize(("method", "path", "body"), FAST_CASES)
def test_the_fast_check_agrees_with_the_contract_on_requests(method: str, path: str, body: Any) -> None:
    expected = spec.request_problems(method, path, {}, body)
    assert fast.request_problems(method, path, {}, body) == expected
    op = spec.operation_for(method, path)
    assert op is not None
    check = fast.fast_operations()[op.name].request
    if check is not None:  # the predicate alone says what jsonschema says
        assert check(body) is (expected == [])


@pytest.mark.parametrize(("method", "path", "status", "body"), FAST_ANSWERS)
def test_the_fast_check_agrees_with_the_contract_on_answers(method: str, path: str, status: int, body: Any) -> None:
    expected = spec.response_problems(method, path, status, body)
    assert fast.response_problems(method, path, status, body) == expected
    op = spec.operation_for(method, path)
    assert op is not None
    operation = fast.fast_operations()[op.name]
    check = operation.responses.get(str(status)) or (operation.error_body if status >= 400 else None)
    if check is not None:  # the predicate alone says what jsonschema says
        assert check(body) is (expected == [])
