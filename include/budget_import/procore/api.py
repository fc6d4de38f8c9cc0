"""Procore endpoints a budget import touches, on top of ProcoreClient (paths from Procore's docs).

Batches stay under Procore's 1,000-item sync limit; lists are read in large pages to keep the
number of calls near the minimum.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from include.budget_import.procore.client import ProcoreClient

SYNC_BATCH = 1000  # Procore's limit per sync call (its 'Using Sync Actions' guide)
LIST_PAGE = 1000
BUDGET_TOOL_ENGINE = "budgeting"  # Procore does not document the Budget tool's engine_name (a guess)


def batches(items: list[Any], size: int = SYNC_BATCH) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ProcoreBudgetApi:
    def __init__(self, client: ProcoreClient) -> None:
        self.client = client

    # projects and tools
    def projects(self, company_id: int, origin_id: str | None = None) -> list[dict[str, Any]]:
        params = {"filters[origin_id]": origin_id} if origin_id else {}
        return list(self.client.paged(f"/rest/v1.0/companies/{company_id}/projects", company_id=company_id, params=params, per_page=LIST_PAGE))

    def companies(self, company_id: int) -> list[dict[str, Any]]:
        """The companies these credentials' app is installed in (asked as one of them: Procore-Company-Id)."""
        return list(self.client.paged("/rest/v1.0/companies", company_id=company_id, per_page=LIST_PAGE))

    def project(self, company_id: int, project_id: int) -> dict[str, Any] | None:
        """One project of a company (the list filtered on its id), or None when the company has none by that id."""
        rows = self.client.get_json(f"/rest/v1.0/companies/{company_id}/projects", company_id=company_id,
                                    params={"filters[id]": str(project_id)}, project_id=project_id)
        return next((row for row in rows or [] if row.get("id") == project_id), None)

    def set_project_origin_id(self, company_id: int, project_id: int, origin_id: str) -> dict[str, Any]:
        """Update project (PATCH /rest/v1.0/projects/{id}, body {company_id, project: {origin_id}}): the link
        from a Procore project to its Spectrum job. Idempotent: the same value set twice is one link."""
        body = self.client.send_json(
            "PATCH", f"/rest/v1.0/projects/{project_id}", company_id=company_id,
            body={"company_id": company_id, "project": {"origin_id": origin_id}}, idempotent=True, project_id=project_id,
        )
        return body if isinstance(body, dict) else {}

    def budget_tool_active(self, company_id: int, project_id: int) -> bool:
        tools = self.client.get_json(f"/rest/v1.0/projects/{project_id}/tools", company_id=company_id, project_id=project_id)
        return any(t.get("engine_name") == BUDGET_TOOL_ENGINE and t.get("is_active") for t in tools or [])

    def budget_locked(self, company_id: int, project_id: int) -> bool:
        body = self.client.get_json(f"/rest/v1.0/projects/{project_id}/budget", company_id=company_id, project_id=project_id)
        return bool(body.get("locked"))

    # cost codes and line item types
    def cost_codes(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        pages = self.client.paged("/rest/v1.0/cost_codes", company_id=company_id, params={"project_id": project_id}, per_page=LIST_PAGE, project_id=project_id)
        return list(pages)

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

    def segment_items(self, company_id: int, project_id: int, segment_id: int) -> list[dict[str, Any]]:
        return list(self.client.paged(f"/rest/v1.0/projects/{project_id}/work_breakdown_structure/segments/{segment_id}/segment_items",
                                      company_id=company_id, per_page=LIST_PAGE, project_id=project_id))

    def wbs_codes(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        path = f"/rest/v1.0/projects/{project_id}/work_breakdown_structure/wbs_codes"
        return list(self.client.paged(path, company_id=company_id, per_page=LIST_PAGE, project_id=project_id))

    def bulk_create_wbs_codes(self, company_id: int, project_id: int, bulk: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """Create wbs codes for segment combinations (an existing combination is answered, not doubled):
        Procore answers 201 with the codes it created in `entities` and the entries it refused in `errors`."""
        result: dict[str, list[Any]] = {"entities": [], "errors": []}
        for batch in batches(bulk):
            body = self.client.send_json(
                "PATCH", f"/rest/v1.0/projects/{project_id}/work_breakdown_structure/wbs_codes/bulk_create",
                company_id=company_id, body={"bulk": batch}, idempotent=True, project_id=project_id,
            )
            result["entities"].extend(body.get("entities") or [] if isinstance(body, dict) else [])
            result["errors"].extend(body.get("errors") or [] if isinstance(body, dict) else [])
        return result

    # permissions
    def project_permissions(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        """The tools of a project's permission manifest, with these credentials' access level on each."""
        body = self.client.get_json("/rest/v1.0/settings/permissions", company_id=company_id, params={"project_id": project_id}, project_id=project_id)
        return list(body.get("tools") or []) if isinstance(body, dict) else []

    # budget
    def budget_views(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        query = {"project_id": project_id}
        pages = self.client.paged("/rest/v1.0/budget_views", company_id=company_id, params=query, per_page=LIST_PAGE, project_id=project_id)
        return list(pages)

    def budget_detail_rows(self, company_id: int, project_id: int, view_id: int) -> list[dict[str, Any]]:
        return list(
            self.client.paged(
                f"/rest/v1.0/budget_views/{view_id}/detail_rows", company_id=company_id,
                params={"project_id": project_id, "budget_row_type": "budgeted"}, per_page=LIST_PAGE, project_id=project_id,
            )
        )

    def sync_budget_line_items(self, company_id: int, project_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One sync call (at most SYNC_BATCH items): creates (no `id`) and updates (`id`), each naming its
        `wbs_code_id` as the spec requires. A call holding a create is not idempotent: callers handle
        AmbiguousWriteError by re-reading the budget (Procore refuses a second line per wbs code)."""
        if len(items) > SYNC_BATCH:
            raise ValueError(f"at most {SYNC_BATCH} budget line items per sync call, not {len(items)}")
        body = self.client.send_json(
            "POST", "/rest/v1.0/budget_line_items/sync", company_id=company_id,
            body={"project_id": project_id, "budget_line_items": items},
            idempotent=all("id" in item for item in items), project_id=project_id,
        )
        return list(body or [])

    def delete_budget_line_item(self, company_id: int, project_id: int, line_id: int) -> None:
        self.client.request(
            "DELETE", f"/rest/v2.0/companies/{company_id}/projects/{project_id}/budget_line_items/{line_id}",
            company_id=company_id, idempotent=True, project_id=project_id,
        )
