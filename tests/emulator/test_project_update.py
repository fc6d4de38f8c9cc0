"""Update project (PATCH /rest/v1.0/projects/{id}, spec rest_v10_projects_id_patch: body Body31 = {company_id,
project: Project5}, answer Project3) in the emulator: what the preflight's link action sends. Over real HTTP."""
from __future__ import annotations

import pytest

from include.budget_import.procore import contract as spec

from .conftest import COMPANY, OTHER_COMPANY, RIVERSIDE, Emu


def path(project_id: int) -> str:
    return f"/rest/v1.0/projects/{project_id}"


def origin_ids(emu: Emu) -> dict[int, str | None]:
    rows = emu.api().get(f"/rest/v1.0/companies/{COMPANY}/projects", params={"per_page": 1000}).json()
    return {row["id"]: row["origin_id"] for row in rows}


def test_an_admin_app_sets_origin_id_and_the_answer_is_the_project(emu: Emu) -> None:
    answer = emu.api("admin-client").patch(path(RIVERSIDE), json={"company_id": COMPANY, "project": {"origin_id": "01|19.55"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert spec.response_problems("PATCH", path(RIVERSIDE), 200, body) == []
    assert body["id"] == RIVERSIDE and body["origin_id"] == "01|19.55" and body["name"] == "Riverside Clinic"
    assert origin_ids(emu)[RIVERSIDE] == "01|19.55"  # the list (and its origin_id filter) sees it
    found = emu.api().get(f"/rest/v1.0/companies/{COMPANY}/projects", params={"filters[origin_id]": "01|19.55"}).json()
    assert [p["id"] for p in found] == [RIVERSIDE]


def test_a_blank_origin_id_unlinks_and_other_documented_fields_are_accepted(emu: Emu) -> None:
    api = emu.api("admin-client")
    answer = api.patch(path(RIVERSIDE), json={"company_id": COMPANY, "project": {"origin_id": "", "description": "kept aside", "zip": "12345"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["origin_id"] is None and origin_ids(emu)[RIVERSIDE] is None


@pytest.mark.parametrize("client_id", ["demo-client", "viewer-client"])
def test_only_an_admin_app_may_update_a_project(emu: Emu, client_id: str) -> None:
    answer = emu.api(client_id).patch(path(RIVERSIDE), json={"company_id": COMPANY, "project": {"origin_id": "01|x"}})
    assert answer.status_code == 403, answer.text
    assert spec.response_problems("PATCH", path(RIVERSIDE), 403, answer.json()) == []
    assert origin_ids(emu)[RIVERSIDE] == "01|19.50"


def test_refusals_unknown_project_other_company_and_bodies_the_spec_does_not_allow(emu: Emu) -> None:
    api = emu.api("admin-client")
    assert api.patch(path(424242), json={"company_id": COMPANY, "project": {"origin_id": "01|x"}}).status_code == 404
    assert api.patch(path(RIVERSIDE), json={"company_id": OTHER_COMPANY, "project": {"origin_id": "01|x"}}).status_code == 403
    # the spec requires company_id and project, and Project5 has no `budget_locked`: refused as a bad request
    for body in ({"project": {"origin_id": "01|x"}}, {"company_id": COMPANY}, {"company_id": COMPANY, "project": {"budget_locked": True}}):
        assert spec.request_problems("PATCH", path(RIVERSIDE), {}, body), body
        assert api.patch(path(RIVERSIDE), json=body).status_code in (400, 422), body
    assert origin_ids(emu)[RIVERSIDE] == "01|19.50"
