"""Paging on every list: page/per_page in, Total / Per-Page / Link out, like Procore (api-pagination)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from .conftest import COMPANY, RIVERSIDE, Emu

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(header: str | None) -> dict[str, dict[str, list[str]]]:
    return {rel: parse_qs(urlparse(url).query) for url, rel in LINK.findall(header or "")}


def test_link_total_and_per_page_headers(emu: Emu) -> None:
    api = emu.api()
    path = "/rest/v1.0/cost_codes"
    api.patch(path + "/sync", params={"project_id": RIVERSIDE},
              json={"updates": [{"code": f"Z{i:02d}", "name": "z"} for i in range(7)]})  # 10 codes in all

    first = api.get(path, params={"project_id": RIVERSIDE, "per_page": 3})
    assert first.headers["Total"] == "10" and first.headers["Per-Page"] == "3"
    rels = links(first.headers["Link"])
    assert list(rels) == ["last", "next"]
    assert rels["next"]["page"] == ["2"] and rels["last"]["page"] == ["4"]
    assert rels["next"]["per_page"] == ["3"] and rels["next"]["project_id"] == [str(RIVERSIDE)]
    assert first.headers["Link"].startswith(f"<{emu.base_url}{path}?")

    middle = api.get(path, params={"project_id": RIVERSIDE, "per_page": 3, "page": 2})
    rels = links(middle.headers["Link"])
    assert list(rels) == ["first", "prev", "last", "next"]
    assert [rels[r]["page"][0] for r in ("first", "prev", "last", "next")] == ["1", "1", "4", "3"]

    last = api.get(path, params={"project_id": RIVERSIDE, "per_page": 3, "page": 4})
    assert len(last.json()) == 1 and list(links(last.headers["Link"])) == ["first", "prev"]
    beyond = api.get(path, params={"project_id": RIVERSIDE, "per_page": 3, "page": 9})
    assert beyond.json() == [] and beyond.headers["Total"] == "10"
    single = api.get(path, params={"project_id": RIVERSIDE})
    assert single.headers["Per-Page"] == "100" and "Link" not in single.headers and len(single.json()) == 10


def test_links_keep_filters(emu: Emu) -> None:
    api = emu.api()
    api.patch("/rest/v1.0/cost_codes/sync", params={"project_id": RIVERSIDE}, json={"updates": [
        {"code": "Z1", "name": "z", "origin_id": "o1"}, {"code": "Z2", "name": "z", "origin_id": "o2"}]})
    answer = api.get("/rest/v1.0/cost_codes", params=[("project_id", RIVERSIDE), ("filters[origin_id][]", "o1"),
                                                      ("filters[origin_id][]", "o2"), ("per_page", 1)])
    assert [r["code"] for r in answer.json()] == ["Z1"] and answer.headers["Total"] == "2"
    assert links(answer.headers["Link"])["next"]["filters[origin_id][]"] == ["o1", "o2"]


def test_following_next_links_visits_every_row_once(emu: Emu) -> None:
    api = emu.api()
    url: str | None = f"{emu.base_url}/rest/v1.0/companies/{COMPANY}/projects?per_page=1"
    seen: list[int] = []
    while url:
        answer = api.get(url)
        seen.extend(p["id"] for p in answer.json())
        url = next((u for u, rel in LINK.findall(answer.headers.get("Link", "")) if rel == "next"), None)
    assert len(seen) == len(set(seen)) == 4


def test_every_list_is_paged(emu: Emu) -> None:
    api = emu.api()
    view = api.get("/rest/v1.0/budget_views", params={"project_id": RIVERSIDE}).json()[0]["id"]
    seg = emu.segments(RIVERSIDE)
    lists = [
        ("/rest/v1.0/companies", {}),
        (f"/rest/v1.0/companies/{COMPANY}/projects", {}),
        (f"/rest/v1.0/projects/{RIVERSIDE}/tools", {}),
        ("/rest/v1.0/cost_codes", {"project_id": RIVERSIDE}),
        ("/rest/v1.0/line_item_types", {"company_id": COMPANY}),
        (f"/rest/v1.0/projects/{RIVERSIDE}/work_breakdown_structure/segments", {}),
        (f"/rest/v1.0/projects/{RIVERSIDE}/work_breakdown_structure/wbs_codes", {}),
        (f"/rest/v1.0/projects/{RIVERSIDE}/work_breakdown_structure/segments/{seg['cost_code']}/segment_items", {}),
        (f"/rest/v1.0/projects/{RIVERSIDE}/work_breakdown_structure/segments/{seg['line_item_type']}/segment_items",
         {}),
        ("/rest/v1.0/budget_views", {"project_id": RIVERSIDE}),
        (f"/rest/v1.0/budget_views/{view}/detail_rows", {"project_id": RIVERSIDE, "budget_row_type": "all"}),
        (f"/rest/v2.0/companies/{COMPANY}/projects/{RIVERSIDE}/budget_line_items", {}),
    ]
    for path, params in lists:
        answer = api.get(path, params={**params, "per_page": 1})
        assert answer.status_code == 200, path
        body = answer.json()
        rows = body["data"] if isinstance(body, dict) else body
        assert len(rows) == 1 and answer.headers["Per-Page"] == "1", path
        total = int(answer.headers["Total"])
        assert (total > 1) == ("next" in links(answer.headers.get("Link"))), path


def test_per_page_is_capped_and_bad_values_rejected(emu: Emu) -> None:
    api = emu.api()
    assert api.get("/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE, "per_page": 50000}).headers[
        "Per-Page"] == "10000"
    assert api.get("/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE, "page": 0}).status_code == 400
    assert api.get("/rest/v1.0/cost_codes", params={"project_id": RIVERSIDE, "per_page": "x"}).status_code == 400
