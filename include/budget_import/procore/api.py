"""Procore endpoints a budget import touches, on top of ProcoreClient (paths from Procore's docs).

Batches stay under Procore's 1,000-item sync limit; lists are read in large pages to keep the
number of calls near the minimum.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from include.budget_import.procore.client import ProcoreClient
from include.budget_import.procore.errors import ProcoreValidationError

SYNC_BATCH = 1000
LIST_PAGE = 1000
V2_LIST_PAGE = 100
BUDGET_TOOL_ENGINE = "budgeting"  # Procore does not document the Budget tool's engine_name (a guess)


def batches(items: list[Any], size: int = SYNC_BATCH) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _shift_details(exc: ProcoreValidationError, offset: int) -> ProcoreValidationError:
    """The same 422 with each per-item `details[].index` counted from the start of all items, not the batch."""
    body = exc.body
    if offset and isinstance(body, dict) and isinstance(body.get("details"), list):
        details = [{**d, "index": d["index"] + offset} if isinstance(d, dict) and isinstance(d.get("index"), int) else d
                   for d in body["details"]]
        body = {**body, "details": details}
    return ProcoreValidationError(exc.status, exc.detail, method=exc.method, path=exc.path, project_id=exc.project_id, body=body)


class ProcoreBudgetApi:
    def __init__(self, client: ProcoreClient) -> None:
        self.client = client

    # projects and tools
    def projects(self, company_id: int, origin_id: str | None = None) -> list[dict[str, Any]]:
        params = {"filters[origin_id]": origin_id} if origin_id else {}
        return list(self.client.paged(f"/rest/v1.0/companies/{company_id}/projects", company_id=company_id, params=params, per_page=LIST_PAGE))

    def budget_tool_active(self, company_id: int, project_id: int) -> bool:
        tools = self.client.get_json(f"/rest/v1.0/projects/{project_id}/tools", company_id=company_id, project_id=project_id)
        return any(t.get("engine_name") == BUDGET_TOOL_ENGINE and t.get("is_active") for t in tools or [])

    def budget_locked(self, company_id: int, project_id: int) -> bool:
        body = self.client.get_json(f"/rest/v1.0/projects/{project_id}/budget", company_id=company_id, project_id=project_id)
        return bool(body.get("locked"))

    # cost codes and line item types
    def cost_codes(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        return list(self.client.paged("/rest/v1.0/cost_codes", company_id=company_id, params={"project_id": project_id}, per_page=LIST_PAGE, project_id=project_id))

    def sync_cost_codes(self, company_id: int, project_id: int, updates: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """Create or update by origin_id (idempotent: a retried sync cannot create a second code)."""
        result: dict[str, list[Any]] = {"entities": [], "errors": []}
        for batch in batches(updates):
            body = self.client.send_json(
                "PATCH", "/rest/v1.0/cost_codes/sync", company_id=company_id, params={"project_id": project_id},
                body={"updates": batch}, idempotent=True, project_id=project_id,
            )
            result["entities"].extend(body.get("entities", []))
            result["errors"].extend(body.get("errors", []))
        return result

    def line_item_types(self, company_id: int, *, project_id: int | None = None) -> list[dict[str, Any]]:
        """The company's line item types (project_id only names the project in an error)."""
        return list(self.client.paged("/rest/v1.0/line_item_types", company_id=company_id, params={"company_id": company_id},
                                      per_page=LIST_PAGE, project_id=project_id))

    def sync_line_item_types(self, company_id: int, updates: list[dict[str, Any]], *, project_id: int | None = None) -> dict[str, list[Any]]:
        """Create or update company line item types by origin_id (idempotent); project_id names the project in an error."""
        result: dict[str, list[Any]] = {"entities": [], "errors": []}
        for batch in batches(updates):
            body = self.client.send_json(
                "PATCH", "/rest/v1.0/line_item_types/sync", company_id=company_id,
                body={"company_id": company_id, "updates": batch}, idempotent=True, project_id=project_id,
            )
            result["entities"].extend(body.get("entities", []))
            result["errors"].extend(body.get("errors", []))
        return result

    # work breakdown structure (a budget line's wbs code = cost code + cost type)
    def wbs_segments(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        return self.client.get_json(f"/rest/v1.0/projects/{project_id}/work_breakdown_structure/segments", company_id=company_id, project_id=project_id) or []

    def wbs_codes(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        return list(self.client.paged(f"/rest/v1.0/projects/{project_id}/work_breakdown_structure/wbs_codes", company_id=company_id, per_page=LIST_PAGE, project_id=project_id))

    def bulk_create_wbs_codes(self, company_id: int, project_id: int, bulk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create wbs codes for segment combinations; an existing combination is returned, not doubled."""
        created: list[dict[str, Any]] = []
        for batch in batches(bulk):
            body = self.client.send_json(
                "PATCH", f"/rest/v1.0/projects/{project_id}/work_breakdown_structure/wbs_codes/bulk_create",
                company_id=company_id, body={"bulk": batch}, idempotent=True, project_id=project_id,
            )
            created.extend(body or [])
        return created

    # budget
    def budget_views(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        return self.client.get_json("/rest/v1.0/budget_views", company_id=company_id, params={"project_id": project_id}, project_id=project_id) or []

    def budget_detail_rows(self, company_id: int, project_id: int, view_id: int) -> list[dict[str, Any]]:
        return list(
            self.client.paged(
                f"/rest/v1.0/budget_views/{view_id}/detail_rows", company_id=company_id,
                params={"project_id": project_id, "budget_row_type": "budgeted"}, per_page=LIST_PAGE, project_id=project_id,
            )
        )

    def sync_budget_line_items(self, company_id: int, project_id: int, items: list[dict[str, Any]], *, creates: bool) -> list[dict[str, Any]]:
        """Bulk create (by wbs_code_id) or update (by id). A create batch is not idempotent: callers
        handle AmbiguousWriteError by re-reading the budget (Procore refuses a second line per code)."""
        out: list[dict[str, Any]] = []
        for offset, batch in zip(range(0, len(items), SYNC_BATCH), batches(items)):
            try:
                body = self.client.send_json(
                    "POST", "/rest/v1.0/budget_line_items/sync", company_id=company_id,
                    body={"project_id": project_id, "budget_line_items": batch}, idempotent=not creates, project_id=project_id,
                )
            except ProcoreValidationError as exc:
                raise _shift_details(exc, offset) from None
            out.extend(body or [])
        return out

    def delete_budget_line_item(self, company_id: int, project_id: int, line_id: int) -> None:
        self.client.request(
            "DELETE", f"/rest/v2.0/companies/{company_id}/projects/{project_id}/budget_line_items/{line_id}",
            company_id=company_id, idempotent=True, project_id=project_id,
        )
