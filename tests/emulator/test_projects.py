"""Companies, projects (origin_id filter), project tools, the budget lock, permissions and big ids."""
from __future__ import annotations

from .conftest import COMPANY, HARBOR, RIVERSIDE, Emu, exact

BUDGET_PATHS = ("/rest/v1.0/projects/{p}/budget", "/rest/v1.0/budget_views?project_id={p}",
                "/rest/v2.0/companies/1001/projects/{p}/budget_line_items")


def test_companies_lists_the_callers_company(emu: Emu) -> None:
    answer = emu.api().get("/rest/v1.0/companies")
    assert answer.status_code == 200
    assert answer.json() == [{"id": COMPANY, "name": "Acme Builders", "is_active": True, "logo_url": None,
                              "my_company": True}]


def test_projects_shape_and_origin_id_filter(emu: Emu) -> None:
    api = emu.api()
    rows = api.get(f"/rest/v1.0/companies/{COMPANY}/projects", params={"filters[origin_id]": "01|19.50"}).json()
    assert rows == [{"id": RIVERSIDE, "name": "Riverside Clinic", "project_number": "19.50", "origin_id": "01|19.50",
                     "origin_data": None, "company": {"id": COMPANY, "name": "Acme Builders"}, "active": True}]
    assert api.get(f"/rest/v1.0/companies/{COMPANY}/projects", params={"filters[origin_id]": "nope"}).json() == []
    by_id = api.get(f"/rest/v1.0/companies/{COMPANY}/projects", params={"filters[id]": f"{RIVERSIDE},{HARBOR}"})
    assert sorted(p["id"] for p in by_id.json()) == [RIVERSIDE, HARBOR]
    everything = api.get(f"/rest/v1.0/companies/{COMPANY}/projects").json()
    assert len(everything) == 4 and all(p["company"]["id"] == COMPANY for p in everything)


def test_ids_above_32_bits_survive_json(emu: Emu) -> None:
    api = emu.api()
    projects = exact(api.get(f"/rest/v1.0/companies/{COMPANY}/projects"))
    harbor = next(p for p in projects if p["name"] == "Harbor Warehouse")
    assert harbor["id"] == HARBOR > 2**32
    auto = next(p for p in projects if p["name"] == "Hillside School")
    assert auto["id"] > 2**32  # auto-assigned ids start above 2**32
    assert api.get(f"/rest/v1.0/projects/{HARBOR}/budget").json() == {"locked": True}
    lines = emu.lines(RIVERSIDE)
    assert lines and all(line["id"] > 2**32 for line in lines)


def test_unknown_project_is_404(emu: Emu) -> None:
    api = emu.api()
    assert api.get("/rest/v1.0/projects/123456/budget").status_code == 404
    assert api.get("/rest/v1.0/projects/123456/tools").status_code == 404
    assert api.get("/rest/v1.0/cost_codes", params={"project_id": 123456}).status_code == 404
    # a project of another company is not visible either
    other = emu.api("other-client", company_id=1002)
    elsewhere = other.get("/rest/v1.0/companies/1002/projects").json()[0]["id"]
    assert api.get(f"/rest/v1.0/projects/{elsewhere}/budget").status_code == 404


def test_tools_list_and_budget_tool(emu: Emu) -> None:
    api = emu.api()
    tools = api.get(f"/rest/v1.0/projects/{RIVERSIDE}/tools").json()
    assert all(set(t) == {"id", "engine_name", "is_active", "position", "required", "title"} for t in tools)
    budget = next(t for t in tools if t["engine_name"] == "budgeting")
    assert budget["title"] == "Budget" and budget["is_active"] is True
    hillside = emu.project_id("01|21.03")
    active = api.get(f"/rest/v1.0/projects/{hillside}/tools", params={"filters[is_active]": "true"}).json()
    assert "budgeting" not in {t["engine_name"] for t in active} and active
    inactive = api.get(f"/rest/v1.0/projects/{hillside}/tools", params={"filters[is_active]": "false"}).json()
    assert [t["engine_name"] for t in inactive] == ["budgeting"]


def test_disabled_budget_tool_answers_403_on_budget_endpoints(emu: Emu) -> None:
    api = emu.api()
    hillside = emu.project_id("01|21.03")
    for template in BUDGET_PATHS:
        answer = api.get(template.format(p=hillside))
        assert answer.status_code == 403, template
        assert "Budget tool" in answer.json()["errors"]
    assert api.post(f"/rest/v1.0/projects/{hillside}/budget/lock").status_code == 403
    sync = api.post("/rest/v1.0/budget_line_items/sync", json={"project_id": hillside, "budget_line_items": []})
    assert sync.status_code == 403
    # switching the tool on through the admin API makes the same calls work
    emu.admin("PUT", f"/projects/{hillside}", json={"budget_tool_active": True})
    assert api.get(f"/rest/v1.0/projects/{hillside}/budget").json() == {"locked": False}


def test_budget_lock_round_trip(emu: Emu) -> None:
    api = emu.api()
    assert api.get(f"/rest/v1.0/projects/{RIVERSIDE}/budget").json() == {"locked": False}
    locked = api.post(f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock")
    assert (locked.status_code, locked.json()) == (201, {"locked": True})
    assert api.get(f"/rest/v1.0/projects/{RIVERSIDE}/budget").json() == {"locked": True}
    unlocked = api.delete(f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock")
    assert (unlocked.status_code, unlocked.json()) == (200, {"locked": False})
    assert emu.admin("GET", "/state", params={"project_id": RIVERSIDE})["budget_locked"] is False


def test_read_only_client_reads_but_cannot_write(emu: Emu) -> None:
    viewer = emu.api("viewer-client")
    assert viewer.get(f"/rest/v1.0/projects/{RIVERSIDE}/budget").status_code == 200
    assert viewer.get(f"/rest/v2.0/companies/{COMPANY}/projects/{RIVERSIDE}/budget_line_items").status_code == 200
    assert viewer.get("/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE}).status_code == 200
    line = emu.lines(RIVERSIDE)[0]
    writes = [
        viewer.post(f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock"),
        viewer.delete(f"/rest/v1.0/projects/{RIVERSIDE}/budget/lock"),
        viewer.post("/rest/v1.0/budget_line_items", json={"project_id": RIVERSIDE, "budget_line_item": {
            "cost_code_id": emu.cost_code_id(RIVERSIDE, "03-300"), "line_item_type_id": emu.lit_id("L")}}),
        viewer.patch(f"/rest/v1.0/budget_line_items/{line['id']}",
                     json={"project_id": RIVERSIDE, "budget_line_item": {"original_budget_amount": 1}}),
        viewer.post("/rest/v1.0/budget_line_items/sync", json={"project_id": RIVERSIDE, "budget_line_items": [
            {"id": line["id"], "wbs_code_id": line["wbs_code_id"], "original_budget_amount": 1}]}),
        viewer.delete(f"/rest/v2.0/companies/{COMPANY}/projects/{RIVERSIDE}/budget_line_items/{line['id']}"),
        viewer.patch("/rest/v1.0/cost_codes/sync", params={"project_id": RIVERSIDE},
                     json={"updates": [{"code": "09-900", "name": "Finishes"}]}),
        viewer.patch("/rest/v1.0/line_item_types/sync", json={"company_id": COMPANY,
                                                              "updates": [{"code": "E", "name": "Equipment"}]}),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes)
    assert all(w.json() == {"errors": "You do not have permission to perform this action"} for w in writes)
    assert emu.lines(RIVERSIDE)[0] == line  # nothing changed
    assert emu.admin("GET", "/state", params={"project_id": RIVERSIDE})["budget_locked"] is False


def test_permission_none_cannot_read_the_budget(emu: Emu) -> None:
    blind = emu.api("no-budget-client")
    for template in BUDGET_PATHS:
        assert blind.get(template.format(p=RIVERSIDE)).status_code == 403, template
    line = emu.lines(RIVERSIDE)[0]
    assert blind.get(f"/rest/v1.0/budget_line_items/{line['id']}", params={"project_id": RIVERSIDE}).status_code == 403
    assert blind.get(f"/rest/v1.0/companies/{COMPANY}/projects").status_code == 200


def test_auto_assigned_ids_start_above_32_bits(emu: Emu) -> None:
    fixture = {"companies": [{"name": "No Ids Inc", "clients": [{"client_id": "demo-client",
                                                                 "client_secret": "demo-secret"}],
                              "line_item_types": [{"code": "L", "name": "Labor"}],
                              "projects": [{"name": "P", "cost_codes": [{"code": "1", "name": "One"}],
                                            "budget_line_items": [{"cost_code": "1", "line_item_type": "L"}]}]}]}
    emu.admin("POST", "/reset", json=fixture)
    state = emu.admin("GET", "/state")
    assert state["counts"]["budget_line_items"] == 1
    (project,) = state["projects"]
    project_id = project["id"]
    assert project_id > 2**32 and project["company_id"] > 2**32
    body = emu.admin("GET", "/state", params={"project_id": project_id})
    line = body["budget_line_items"][0]
    assert line["id"] > 2**32 and line["wbs_code_id"] > 2**32 and line["original_budget_amount"] == "0"
    api = emu.api(company_id=project["company_id"])
    assert api.get("/rest/v1.0/companies").json()[0]["id"] == project["company_id"]
    codes = api.get("/rest/v1.0/cost_codes", params={"project_id": project_id}).json()
    assert codes[0]["id"] > 2**32 and codes[0]["line_item_types"][0]["id"] > 2**32
