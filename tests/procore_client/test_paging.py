"""Every list is read completely by following Link rel=next, one GET per page and no more."""
from __future__ import annotations

from urllib.parse import parse_qs

from .conftest import COMPANY, PAGED, Emu


def test_a_list_longer_than_a_page_is_read_completely(emu: Emu) -> None:
    client = emu.client()
    client.get_json("/rest/v1.0/companies", company_id=COMPANY)  # token first, so the log below is the list only
    emu.admin("DELETE", "/requests")
    reads_before = client.stats.reads
    codes = list(client.paged("/rest/v1.0/cost_codes", company_id=COMPANY, params={"project_id": PAGED}, per_page=10,
                              project_id=PAGED))
    assert sorted(c["code"] for c in codes) == [f"{n:02d}-000" for n in range(1, 26)]
    assert len({c["id"] for c in codes}) == 25
    gets = emu.requests(method="GET", path_contains="/cost_codes")
    assert len(gets) == 3 and client.stats.reads - reads_before == 3  # 10 + 10 + 5
    assert [parse_qs(g["query"])["page"] for g in gets] == [["1"], ["2"], ["3"]]


def test_an_exact_multiple_of_the_page_size_costs_no_extra_call(emu: Emu) -> None:
    client = emu.client()
    codes = list(client.paged("/rest/v1.0/cost_codes", company_id=COMPANY, params={"project_id": PAGED}, per_page=5,
                              project_id=PAGED))
    assert len(codes) == 25
    assert len(emu.requests(method="GET", path_contains="/cost_codes")) == 5


def test_v2_list_is_clamped_to_100_and_still_read_completely(emu: Emu) -> None:
    """v2.0 wraps items in {"data": [...]} and caps per_page; asking for 1000 still reads every page."""
    client = emu.client()
    path = f"/rest/v2.0/companies/{COMPANY}/projects/2001/budget_line_items"
    lines = list(client.paged(path, company_id=COMPANY, per_page=2, project_id=2001))
    assert len(lines) == 3 and all(isinstance(line["original_budget_amount"], str) for line in lines)
    assert len(emu.requests(method="GET", path_contains="/budget_line_items")) == 2


def test_a_page_read_after_a_fault_is_not_skipped(emu: Emu) -> None:
    """A 503 on page 2 is retried for page 2: nothing lost, nothing read twice."""
    client = emu.client()
    emu.faults(rules=[{"kind": "error", "status": 503, "method": "GET", "path_contains": "/cost_codes", "skip": 1, "times": 2}],
               retry_after=0)
    codes = list(client.paged("/rest/v1.0/cost_codes", company_id=COMPANY, params={"project_id": PAGED}, per_page=10,
                              project_id=PAGED))
    assert len(codes) == 25 and len({c["id"] for c in codes}) == 25
    gets = emu.requests(method="GET", path_contains="/cost_codes")
    assert [g["status"] for g in gets] == [200, 503, 503, 200, 200]
    assert client.stats.retries == 2
