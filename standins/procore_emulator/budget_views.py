"""Budget views: each company has one, "Procore Standard Budget", whose detail rows mirror the line items."""
from __future__ import annotations

import sqlite3
from typing import Any

from . import budget
from .errors import bad_request, not_found
from .pagination import Page

VIEW_NAME = "Procore Standard Budget"
ROW_TYPES = ("budgeted", "unbudgeted", "all")


def views(conn: sqlite3.Connection, company_id: int) -> list[dict[str, Any]]:
    row = conn.execute("SELECT budget_view_id FROM companies WHERE id = ?", (company_id,)).fetchone()
    return [{"id": row["budget_view_id"], "name": VIEW_NAME, "description": "Standard budget view", "default": True}]


def require_view(conn: sqlite3.Connection, company_id: int, view_id: int) -> None:
    if not any(v["id"] == view_id for v in views(conn, company_id)):
        raise not_found(f"Budget View {view_id} not found")


def row_type_of(raw: str | None) -> str:
    value = raw or "budgeted"
    if value not in ROW_TYPES:
        raise bad_request("budget_row_type does not have a valid value")
    return value


def detail_rows(conn: sqlite3.Connection, project_id: int, row_type: str, page: Page) -> tuple[list[dict], int]:
    """Budgeted rows are the line items; the emulator has no costs, so there are never unbudgeted rows."""
    if row_type == "unbudgeted":
        return [], 0
    rows, total = budget.list_rows(conn, project_id, page, order="cc.full_code, l.code, b.id")
    return [budget.detail_row(r) for r in rows], total
