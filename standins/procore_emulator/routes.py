"""The /rest routes: thin handlers that check the caller, read parameters and call the domain modules.

Handlers return ExactJSONResponse themselves: letting FastAPI serialise a dict would run it through
jsonable_encoder/pydantic, which turns Decimals into floats or strings.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from . import budget, budget_views, cost_codes, line_item_types, projects, wbs
from .auth import Caller
from .emulator import Emulator
from .errors import bad_request
from .jsonio import ExactJSONResponse, json_body
from .pagination import V2_MAX_PER_PAGE, Page, headers_for, page_of
from .params import filter_values, id_filter, query_int
from .sync import updates_of

router = APIRouter()
V1 = "/rest/v1.0"
V2 = "/rest/v2.0"


def emu_of(request: Request) -> Emulator:
    return request.app.state.emu


async def rest_caller(request: Request) -> Caller:
    """Every /rest call needs a live bearer token and the caller's Procore-Company-Id header."""
    return emu_of(request).tokens.caller(request.headers.get("authorization"),
                                         request.headers.get("procore-company-id"))


def paged(request: Request, page: Page, total: int, content: Any) -> ExactJSONResponse:
    return ExactJSONResponse(content, headers=headers_for(request, page, total))


def bool_param(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} is invalid")


# ---- companies, projects, tools, budget lock ------------------------------------------------------

@router.get(f"{V1}/companies")
def list_companies(request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        items = projects.list_companies(conn, caller)
    return paged(request, page, len(items), items[page.offset:page.offset + page.per_page])


@router.get(f"{V1}/companies/{{company_id}}/projects")
def list_projects(company_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    projects.require_company(caller, company_id)
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        items, total = projects.list_projects(conn, company_id, filter_values(request, "origin_id"),
                                              id_filter(request), page)
    return paged(request, page, total, items)


@router.patch(f"{V1}/projects/{{project_id}}")
def update_project(project_id: int, request: Request, caller: Caller = Depends(rest_caller),
                   body: Any = Depends(json_body)) -> ExactJSONResponse:
    with emu_of(request).db.tx() as conn:
        return ExactJSONResponse(projects.update_project(conn, caller, project_id, body))


@router.get(f"{V1}/projects/{{project_id}}/tools")
def list_tools(project_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
    items = projects.tools(project, bool_param(request.query_params.get("filters[is_active]"), "filters[is_active]"))
    return paged(request, page, len(items), items[page.offset:page.offset + page.per_page])


@router.get(f"{V1}/projects/{{project_id}}/budget")
def budget_status(project_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    with emu_of(request).db.read() as conn:
        project = projects.budget_project(conn, caller, project_id, write=False)
    return ExactJSONResponse({"locked": bool(project["budget_locked"])})


@router.post(f"{V1}/projects/{{project_id}}/budget/lock", status_code=201)
def lock_budget(project_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    with emu_of(request).db.tx() as conn:
        projects.budget_project(conn, caller, project_id, write=True)
        projects.set_lock(conn, project_id, True)
    return ExactJSONResponse({"locked": True}, status_code=201)


@router.delete(f"{V1}/projects/{{project_id}}/budget/lock")
def unlock_budget(project_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    with emu_of(request).db.tx() as conn:
        projects.budget_project(conn, caller, project_id, write=True)
        projects.set_lock(conn, project_id, False)
    return ExactJSONResponse({"locked": False})


# ---- cost codes and line item types ---------------------------------------------------------------

@router.get(f"{V1}/cost_codes")
def list_cost_codes(request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    project_id = query_int(request, "project_id")
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        projects.get_project(conn, caller, project_id)  # type: ignore[arg-type]
        items, total = cost_codes.list_cost_codes(conn, project_id, filter_values(request, "origin_id"),  # type: ignore[arg-type]
                                                  id_filter(request), page)
    return paged(request, page, total, items)


@router.patch(f"{V1}/cost_codes/sync")
def sync_cost_codes(request: Request, caller: Caller = Depends(rest_caller),
                    body: Any = Depends(json_body)) -> ExactJSONResponse:
    emu = emu_of(request)
    project_id = query_int(request, "project_id", body)
    with emu.db.read() as conn:
        project = projects.get_project(conn, caller, project_id)  # type: ignore[arg-type]
    caller.require_write()
    return ExactJSONResponse(cost_codes.sync(emu.db, project, updates_of(body)))


def _types_company(request: Request, caller: Caller, body: Any = None) -> int:
    """line_item_types take either company_id or project_id (the project's company)."""
    company_id = query_int(request, "company_id", body, required=False)
    project_id = query_int(request, "project_id", body, required=False)
    if company_id is None and project_id is None:
        raise bad_request("company_id, project_id are missing, exactly one parameter must be provided")
    if company_id is not None:
        projects.require_company(caller, company_id)
        return company_id
    with emu_of(request).db.read() as conn:
        return int(projects.get_project(conn, caller, project_id)["company_id"])  # type: ignore[arg-type]


@router.get(f"{V1}/line_item_types")
def list_line_item_types(request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    company_id = _types_company(request, caller)
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        items, total = line_item_types.list_types(conn, company_id, filter_values(request, "origin_id"), page)
    return paged(request, page, total, items)


@router.patch(f"{V1}/line_item_types/sync")
def sync_line_item_types(request: Request, caller: Caller = Depends(rest_caller),
                         body: Any = Depends(json_body)) -> ExactJSONResponse:
    company_id = _types_company(request, caller, body)
    caller.require_write()
    return ExactJSONResponse(line_item_types.sync(emu_of(request).db, company_id, updates_of(body)))


# ---- work breakdown structure ---------------------------------------------------------------------

WBS = f"{V1}/projects/{{project_id}}/work_breakdown_structure"


@router.get(f"{WBS}/segments")
def list_segments(project_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
        items = wbs.segments(conn, project)
    return paged(request, page, len(items), items[page.offset:page.offset + page.per_page])


@router.get(f"{WBS}/segments/{{segment_id}}/segment_items")
def list_segment_items(project_id: int, segment_id: int, request: Request,
                       caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
        items, total = wbs.list_segment_items(conn, project, segment_id, page)
    return paged(request, page, total, items)


@router.post(f"{WBS}/segments/{{segment_id}}/segment_items", status_code=201)
def create_segment_item(project_id: int, segment_id: int, request: Request, caller: Caller = Depends(rest_caller),
                        body: Any = Depends(json_body)) -> ExactJSONResponse:
    emu = emu_of(request)
    with emu.db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
    wbs.segment_kind(segment_id)  # an unknown segment is 404 before any permission question
    caller.require_write()
    return ExactJSONResponse(wbs.create_segment_item(emu.db, project, segment_id, body), status_code=201)


@router.get(f"{WBS}/wbs_codes")
def list_wbs_codes(project_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    page = page_of(request)
    statuses = filter_values(request, "status", split=True)
    updated = wbs.updated_range(request.query_params.get("filters[updated_at]"))
    with emu_of(request).db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
        items, total = wbs.list_wbs(conn, project, id_filter(request), statuses, updated, page)
    return paged(request, page, total, items)


@router.post(f"{WBS}/wbs_codes", status_code=201)
def create_wbs_code(project_id: int, request: Request, caller: Caller = Depends(rest_caller),
                    body: Any = Depends(json_body)) -> ExactJSONResponse:
    emu = emu_of(request)
    with emu.db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
    caller.require_write()
    if not isinstance(body, dict):
        raise bad_request("segment_items is missing")
    return ExactJSONResponse(wbs.create(emu.db, project, body), status_code=201)


@router.patch(f"{WBS}/wbs_codes/bulk_create", status_code=201)
def bulk_create_wbs_codes(project_id: int, request: Request, caller: Caller = Depends(rest_caller),
                          body: Any = Depends(json_body)) -> ExactJSONResponse:
    emu = emu_of(request)
    with emu.db.read() as conn:
        project = projects.get_project(conn, caller, project_id)
    caller.require_write()
    return ExactJSONResponse(wbs.bulk_create(emu.db, project, body), status_code=201)


# ---- budget line items ----------------------------------------------------------------------------

def _budget_project(request: Request, caller: Caller, project_id: int | None, write: bool) -> Any:
    with emu_of(request).db.read() as conn:
        return projects.budget_project(conn, caller, project_id, write)  # type: ignore[arg-type]


@router.post(f"{V1}/budget_line_items", status_code=201)
def create_line_item(request: Request, caller: Caller = Depends(rest_caller),
                     body: Any = Depends(json_body)) -> ExactJSONResponse:
    project = _budget_project(request, caller, query_int(request, "project_id", body), write=True)
    return ExactJSONResponse(budget.create(emu_of(request).db, project, budget.line_item_of(body)), status_code=201)


@router.post(f"{V1}/budget_line_items/sync")
def sync_line_items(request: Request, caller: Caller = Depends(rest_caller),
                    body: Any = Depends(json_body)) -> ExactJSONResponse:
    project = _budget_project(request, caller, query_int(request, "project_id", body), write=True)
    return ExactJSONResponse(budget.sync(emu_of(request).db, project, body))


@router.get(f"{V1}/budget_line_items/{{line_id}}")
def show_line_item(line_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    project = _budget_project(request, caller, query_int(request, "project_id"), write=False)
    with emu_of(request).db.read() as conn:
        return ExactJSONResponse(budget.v1(budget.get_row(conn, project["id"], line_id)))


@router.patch(f"{V1}/budget_line_items/{{line_id}}")
def update_line_item(line_id: int, request: Request, caller: Caller = Depends(rest_caller),
                     body: Any = Depends(json_body)) -> ExactJSONResponse:
    project = _budget_project(request, caller, query_int(request, "project_id", body), write=True)
    return ExactJSONResponse(budget.update(emu_of(request).db, project, line_id, budget.line_item_of(body)))


V2_LINES = f"{V2}/companies/{{company_id}}/projects/{{project_id}}/budget_line_items"


@router.get(V2_LINES)
def list_line_items_v2(company_id: int, project_id: int, request: Request,
                       caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    projects.require_company(caller, company_id)
    project = _budget_project(request, caller, project_id, write=False)
    page = page_of(request, max_per_page=V2_MAX_PER_PAGE)
    with emu_of(request).db.read() as conn:
        rows, total = budget.list_rows(conn, project["id"], page)
    return paged(request, page, total, {"data": [budget.v2(r) for r in rows]})


@router.delete(f"{V2_LINES}/{{line_id}}", status_code=204)
def delete_line_item_v2(company_id: int, project_id: int, line_id: int, request: Request,
                        caller: Caller = Depends(rest_caller)) -> Response:
    projects.require_company(caller, company_id)
    project = _budget_project(request, caller, project_id, write=True)
    budget.delete(emu_of(request).db, project, line_id)
    return Response(status_code=204)


# ---- budget views ---------------------------------------------------------------------------------

@router.get(f"{V1}/budget_views")
def list_budget_views(request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    project = _budget_project(request, caller, query_int(request, "project_id"), write=False)
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        items, total = budget_views.views(conn, project["company_id"], page)
    return paged(request, page, total, items)


@router.get(f"{V1}/budget_views/{{view_id}}/detail_rows")
def list_detail_rows(view_id: int, request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    project = _budget_project(request, caller, query_int(request, "project_id"), write=False)
    row_type = budget_views.row_type_of(request.query_params.get("budget_row_type"))
    page = page_of(request)
    with emu_of(request).db.read() as conn:
        budget_views.require_view(conn, project["company_id"], view_id)
        items, total = budget_views.detail_rows(conn, project, row_type, page)
    return paged(request, page, total, items)


# ---- permissions ----------------------------------------------------------------------------------

@router.get(f"{V1}/settings/permissions")
def list_permissions(request: Request, caller: Caller = Depends(rest_caller)) -> ExactJSONResponse:
    project_id = query_int(request, "project_id", required=False)
    company_id = query_int(request, "company_id", required=False)
    if project_id is None and company_id is None:
        raise bad_request("project_id, company_id are missing, at least one parameter must be provided")
    if company_id is not None:
        projects.require_company(caller, company_id)
    project = None
    if project_id is not None:
        with emu_of(request).db.read() as conn:
            project = projects.get_project(conn, caller, project_id)
    return ExactJSONResponse(projects.permissions(caller, project))
