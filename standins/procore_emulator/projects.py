"""Companies, projects, project tools and the budget lock flag."""
from __future__ import annotations

import sqlite3
from typing import Any

from .auth import NOT_CONNECTED, Caller
from .errors import forbidden, not_found, unprocessable
from .pagination import Page

BUDGET_ENGINE = "budgeting"  # Procore does not document the Budget tool's engine_name: a guess (see README)
TOOL_INACTIVE = "The Budget tool is not active for this project"

# (engine_name, title, required); ids are derived from the project id so they are stable across restarts.
TOOLS = (
    ("home", "Home", True),
    ("directory", "Directory", True),
    ("documents", "Documents", False),
    (BUDGET_ENGINE, "Budget", False),
    ("contracts", "Commitments", False),
    ("change_events", "Change Events", False),
)


# The Budget tool in `GET /settings/permissions` and the access level each fixture permission gives:
# the spec documents the shape, not these names (guesses, kept in one place as in the client).
PERMISSION_TOOL = "budgeting"
ACCESS_LEVELS = {"admin": (4, "Admin"), "standard": (3, "Standard"), "read_only": (2, "Read Only"),
                 "none": (1, "None")}
# (tool id, name, friendly name, tab group): the tools the permissions answer lists (made up, stable).
PERMISSION_TOOLS = (
    (1, "home", "Home", "core_tools"),
    (2, "directory", "Directory", "core_tools"),
    (3, "documents", "Documents", "core_tools"),
    (4, PERMISSION_TOOL, "Budget", "financial_management"),
    (5, "contracts", "Commitments", "financial_management"),
    (6, "change_events", "Change Events", "financial_management"),
)


def serialize_company(row: sqlite3.Row, caller: Caller) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "is_active": True, "logo_url": None,
            "my_company": row["id"] == caller.company_id}


def serialize_project(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "project_number": row["project_number"],
        "origin_id": row["origin_id"], "origin_data": row["origin_data"],
        "company": {"id": row["company_id"], "name": row["company_name"]}, "active": bool(row["active"]),
    }


PROJECT_SQL = ("SELECT p.*, c.name AS company_name FROM projects p JOIN companies c ON c.id = p.company_id ")


def require_company(caller: Caller, company_id: int) -> None:
    """A company id in a path or parameter must be the caller's company."""
    if company_id != caller.company_id:
        raise forbidden(NOT_CONNECTED)


def list_companies(conn: sqlite3.Connection, caller: Caller) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM companies WHERE id IN (SELECT company_id FROM clients WHERE client_id = ?) ORDER BY id",
        (caller.client.client_id,),
    ).fetchall()
    return [serialize_company(r, caller) for r in rows]


def list_projects(conn: sqlite3.Connection, company_id: int, origin_ids: list[str] | None,
                  ids: list[int] | None, page: Page) -> tuple[list[dict[str, Any]], int]:
    where: list[str] = ["p.company_id = ?"]
    args: list[Any] = [company_id]
    if origin_ids is not None:
        where.append(f"p.origin_id IN ({', '.join('?' for _ in origin_ids)})")
        args.extend(origin_ids)
    if ids is not None:
        where.append(f"p.id IN ({', '.join('?' for _ in ids)})")
        args.extend(ids)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM projects p WHERE {clause}", args).fetchone()[0]
    rows = conn.execute(f"{PROJECT_SQL} WHERE {clause} ORDER BY p.id LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()
    return [serialize_project(r) for r in rows], total


def get_project(conn: sqlite3.Connection, caller: Caller, project_id: int) -> sqlite3.Row:
    """The project, or 404 when it does not exist in the caller's company."""
    row = conn.execute(f"{PROJECT_SQL} WHERE p.id = ?", (project_id,)).fetchone()
    if row is None or row["company_id"] != caller.company_id:
        raise not_found(f"Project {project_id} not found")
    return row


# `PATCH /projects/{id}` (Update project): the fields of the spec's Project5 this emulator keeps; the spec's
# other fields are accepted and ignored. Who may update a project the spec does not say: Procore's own UI
# asks for Admin on the project's Admin tool, so here only an app installed with `admin` may (a guess).
UPDATABLE = ("name", "project_number", "origin_id", "origin_data", "active")
PROJECT_ADMIN = "You do not have permission to update this project (Admin on the project's Admin tool)"


def update_project(conn: sqlite3.Connection, caller: Caller, project_id: int, body: Any) -> dict[str, Any]:
    """Update project: body {company_id, project: {...}}; 404 unknown, 403 not Admin, 422 a bad value."""
    if not isinstance(body, dict) or not isinstance(body.get("project"), dict):
        raise unprocessable("project is missing")
    company_id = body.get("company_id")
    if not isinstance(company_id, int) or isinstance(company_id, bool):
        raise unprocessable("company_id is missing")
    require_company(caller, company_id)
    get_project(conn, caller, project_id)
    if caller.client.permission != "admin":
        raise forbidden(PROJECT_ADMIN)
    changes = {key: value for key, value in body["project"].items() if key in UPDATABLE}
    if "name" in changes and not (isinstance(changes["name"], str) and changes["name"].strip()):
        raise unprocessable("name can't be blank")
    if "active" in changes and not isinstance(changes["active"], bool):
        raise unprocessable("active must be true or false")
    for key in ("project_number", "origin_id", "origin_data"):
        if key in changes and changes[key] is not None and not isinstance(changes[key], str):
            raise unprocessable(f"{key} must be a string")
        if key in changes and changes[key] == "":
            changes[key] = None  # Procore stores a blank origin id as none
    for key, value in changes.items():
        conn.execute(f"UPDATE projects SET {key} = ? WHERE id = ?", (int(value) if key == "active" else value, project_id))
    return serialize_project(get_project(conn, caller, project_id))


def budget_project(conn: sqlite3.Connection, caller: Caller, project_id: int, write: bool) -> sqlite3.Row:
    """The project for a Budget-tool call: 404 unknown, 403 tool inactive, 403 missing permission."""
    row = get_project(conn, caller, project_id)
    if not row["budget_tool_active"]:
        raise forbidden(TOOL_INACTIVE)
    if write:
        caller.require_write()
    else:
        caller.require_budget_read()
    return row


def tools(project: sqlite3.Row, is_active: bool | None) -> list[dict[str, Any]]:
    out = []
    for position, (engine, title, required) in enumerate(TOOLS, start=1):
        active = bool(project["budget_tool_active"]) if engine == BUDGET_ENGINE else True
        if is_active is not None and active != is_active:
            continue
        out.append({"id": project["id"] * 100 + position, "engine_name": engine, "is_active": active,
                    "position": position, "required": required, "title": title})
    return out


def set_lock(conn: sqlite3.Connection, project_id: int, locked: bool) -> None:
    conn.execute("UPDATE projects SET budget_locked = ? WHERE id = ?", (int(locked), project_id))


def permissions(caller: Caller, project: sqlite3.Row | None) -> dict[str, Any]:
    """`GET /settings/permissions`: the caller's access level per tool, in a project or the company."""
    level_id, level_name = ACCESS_LEVELS[caller.client.permission]
    domain_id = project["id"] if project is not None else caller.company_id
    base = f"https://app.procore.com/{domain_id}/project" if project is not None \
        else f"https://app.procore.com/{domain_id}/company"
    out: list[dict[str, Any]] = []
    for tool_id, name, friendly, tab in PERMISSION_TOOLS:
        available = level_name != "None"
        if name == PERMISSION_TOOL and project is not None and not project["budget_tool_active"]:
            available = False
        out.append({
            "id": tool_id, "name": name, "friendly_name": friendly, "domain_id": domain_id, "tab_group": tab,
            "available_for_user": available, "url": f"{base}/{name}",
            "user_access_level": {"id": level_id, "name": level_name}, "permitted_actions": [],
            "can_create": caller.client.permission in ("admin", "standard"), "trial": False,
        })
    return {"tools": out}
