"""Budget views: a company has one or more (fixture `budget_views`, default "Procore Standard Budget");
the detail rows of every view are the project's budget line items."""
from __future__ import annotations

import sqlite3
from typing import Any

from . import budget
from .errors import bad_request, not_found
from .pagination import Page
from .params import select_in

ROW_TYPES = ("budgeted", "unbudgeted", "all")


def serialize(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "created_at": row["created_at"], "updated_at": row["updated_at"], "role": None,
            "links": {"detail_rows": f"/rest/v1.0/budget_views/{row['id']}/detail_rows"}}


def views(conn: sqlite3.Connection, company_id: int, page: Page) -> tuple[list[dict[str, Any]], int]:
    total = conn.execute("SELECT COUNT(*) FROM budget_views WHERE company_id = ?", (company_id,)).fetchone()[0]
    rows = conn.execute("SELECT * FROM budget_views WHERE company_id = ? ORDER BY id LIMIT ? OFFSET ?",
                        (company_id, page.per_page, page.offset)).fetchall()
    return [serialize(r) for r in rows], total


def require_view(conn: sqlite3.Connection, company_id: int, view_id: int) -> None:
    if conn.execute("SELECT 1 FROM budget_views WHERE id = ? AND company_id = ?", (view_id, company_id)).fetchone() \
            is None:
        raise not_found(f"Budget View {view_id} not found")


def row_type_of(raw: str | None) -> str:
    value = raw or "budgeted"
    if value not in ROW_TYPES:
        raise bad_request("budget_row_type does not have a valid value")
    return value


def _roots(conn: sqlite3.Connection, rows: list[Any]) -> dict[int, tuple[int, str, str]]:
    """Each cost code's top ancestor as (id, full code, name)."""
    nodes: dict[int, tuple[int | None, str, str]] = {
        r["cost_code_id"]: (r["cc_parent_id"], r["cc_full_code"], r["cc_name"]) for r in rows}
    tried: set[int] = set()
    wanted = {p for p, _, _ in nodes.values() if p is not None} - set(nodes)
    while wanted:
        tried |= wanted
        found = select_in(conn, "SELECT id, parent_id, full_code, name FROM cost_codes WHERE id IN ({marks})",
                          sorted(wanted))
        nodes.update({r["id"]: (r["parent_id"], r["full_code"], r["name"]) for r in found})
        wanted = {p for p, _, _ in nodes.values() if p is not None} - set(nodes) - tried
    roots: dict[int, tuple[int, str, str]] = {}
    for cc_id in {r["cost_code_id"] for r in rows}:
        node, hops = cc_id, 0
        while nodes[node][0] is not None and nodes[node][0] in nodes and hops < 100:
            node, hops = nodes[node][0], hops + 1  # type: ignore[assignment]
        roots[cc_id] = (node, nodes[node][1], nodes[node][2])
    return roots


def detail_rows(conn: sqlite3.Connection, project: sqlite3.Row, row_type: str,
                page: Page) -> tuple[list[dict[str, Any]], int]:
    """Budgeted rows are the line items; the emulator has no costs, so there are never unbudgeted rows."""
    if row_type == "unbudgeted":
        return [], 0
    rows, total = budget.list_rows(conn, project["id"], page, order="cc.full_code, l.code, b.id")
    company = conn.execute("SELECT name FROM companies WHERE id = ?", (project["company_id"],)).fetchone()[0]
    roots = _roots(conn, rows)
    return [budget.detail_row(r, project, company, roots[r["cost_code_id"]]) for r in rows], total
