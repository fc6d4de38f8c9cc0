"""Work breakdown structure: a WBS (budget) code is the pair (cost code, line item type) in a project.

Procore's spec has these endpoints but the reference gives no shapes, so the segment and WBS code
shapes here are guesses (see README). Two fixed segments: Cost Code then Cost Type; a segment item's
id IS the cost code id or the line item type id.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from .errors import ApiError, bad_request
from .pagination import Page
from .params import select_in, to_int
from .store import Database, now_iso
from .sync import MAX_SYNC_ITEMS

SEGMENT_COST_CODE = 9_000_000_001
SEGMENT_COST_TYPE = 9_000_000_002
FLAT_DELIMITER = "."

WBS_SQL = ("SELECT w.*, cc.code AS cc_code, cc.full_code AS cc_full_code, cc.name AS cc_name, "
           "l.code AS lit_code, l.name AS lit_name FROM wbs_codes w "
           "JOIN cost_codes cc ON cc.id = w.cost_code_id JOIN line_item_types l ON l.id = w.line_item_type_id ")


def segments() -> list[dict[str, Any]]:
    return [
        {"id": SEGMENT_COST_CODE, "name": "Cost Code", "code": "cost_code", "position": 1},
        {"id": SEGMENT_COST_TYPE, "name": "Cost Type", "code": "cost_type", "position": 2},
    ]


def flat_code(cc_full_code: str, lit_code: str) -> str:
    return f"{cc_full_code}{FLAT_DELIMITER}{lit_code}"


def serialize(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "flat_code": flat_code(row["cc_full_code"], row["lit_code"]),
        "description": row["description"], "status": row["status"],
        "segment_items": [
            {"id": row["cost_code_id"], "segment_id": SEGMENT_COST_CODE, "code": row["cc_code"], "name": row["cc_name"]},
            {"id": row["line_item_type_id"], "segment_id": SEGMENT_COST_TYPE, "code": row["lit_code"],
             "name": row["lit_name"]},
        ],
    }


def list_wbs(conn: sqlite3.Connection, project_id: int, ids: list[int] | None,
             page: Page) -> tuple[list[dict[str, Any]], int]:
    where: list[str] = ["w.project_id = ?"]
    args: list[Any] = [project_id]
    if ids is not None:
        where.append(f"w.id IN ({', '.join('?' for _ in ids)})")
        args.extend(ids)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM wbs_codes w WHERE {clause}", args).fetchone()[0]
    rows = conn.execute(f"{WBS_SQL} WHERE {clause} ORDER BY w.id LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()
    return [serialize(r) for r in rows], total


def fetch(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return {r["id"]: serialize(r) for r in select_in(conn, WBS_SQL + "WHERE w.id IN ({marks})", ids)}


def ensure(db: Database, conn: sqlite3.Connection, project_id: int, cost_code_id: int, lit_id: int,
           description: str | None = None) -> int:
    """The WBS code id for a pair, creating it when missing (Procore does this on line item create)."""
    row = conn.execute("SELECT id FROM wbs_codes WHERE project_id = ? AND cost_code_id = ? AND line_item_type_id = ?",
                       (project_id, cost_code_id, lit_id)).fetchone()
    if row is not None:
        return int(row["id"])
    if description is None:
        names = conn.execute("SELECT cc.name AS a, l.name AS b FROM cost_codes cc, line_item_types l "
                             "WHERE cc.id = ? AND l.id = ?", (cost_code_id, lit_id)).fetchone()
        description = f"{names['a']}{FLAT_DELIMITER}{names['b']}" if names else None
    stamp = now_iso()
    (new_id,) = db.allocate_ids(conn, 1)
    conn.execute("INSERT INTO wbs_codes (id, project_id, cost_code_id, line_item_type_id, description, status, "
                 "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
                 (new_id, project_id, cost_code_id, lit_id, description, stamp, stamp))
    return new_id


def bulk_create(db: Database, project: sqlite3.Row, body: Any) -> list[dict[str, Any]]:
    """Create (or return) the WBS codes of `bulk`; all-or-nothing, 422 listing every bad entry."""
    if not isinstance(body, dict) or not isinstance(body.get("bulk"), list):
        raise bad_request("bulk is missing")
    entries = body["bulk"]
    if len(entries) > MAX_SYNC_ITEMS:
        raise ApiError(422, {"errors": f"bulk: at most {MAX_SYNC_ITEMS} items are allowed (got {len(entries)})"})
    project_id, company_id = project["id"], project["company_id"]
    with db.tx() as conn:
        pairs: list[tuple[int, int, str | None, bool]] = []
        problems: list[dict[str, Any]] = []
        wanted_cc: set[int] = set()
        wanted_lit: set[int] = set()
        parsed: list[tuple[int, dict[int, int], Any]] = []
        for index, entry in enumerate(entries):
            items = entry.get("segment_items") if isinstance(entry, dict) else None
            if not isinstance(items, list):
                problems.append({"index": index, "errors": ["segment_items is missing"]})
                continue
            by_segment: dict[int, int] = {}
            try:
                for seg in items:
                    by_segment[to_int(seg.get("segment_id"), "segment_id")] = to_int(seg.get("segment_item_id"),
                                                                                     "segment_item_id")
            except (ApiError, AttributeError):
                problems.append({"index": index, "errors": ["segment_items: segment_id and segment_item_id must be ids"]})
                continue
            parsed.append((index, by_segment, entry))
            wanted_cc.add(by_segment.get(SEGMENT_COST_CODE, 0))
            wanted_lit.add(by_segment.get(SEGMENT_COST_TYPE, 0))
        ccs = {r["id"] for r in select_in(conn, "SELECT id FROM cost_codes WHERE project_id = ? AND id IN ({marks})",
                                          sorted(wanted_cc), project_id)}
        lits = {r["id"] for r in select_in(conn, "SELECT id FROM line_item_types WHERE company_id = ? "
                                                 "AND id IN ({marks})", sorted(wanted_lit), company_id)}
        for index, by_segment, entry in parsed:
            errors = []
            unknown = set(by_segment) - {SEGMENT_COST_CODE, SEGMENT_COST_TYPE}
            if unknown:
                errors.append(f"segment_id: unknown segment {sorted(unknown)}")
            if by_segment.get(SEGMENT_COST_CODE) not in ccs:
                errors.append("Cost Code: segment item not found in this project")
            if by_segment.get(SEGMENT_COST_TYPE) not in lits:
                errors.append("Cost Type: segment item not found in this company")
            if errors:
                problems.append({"index": index, "errors": errors})
            else:
                pairs.append((by_segment[SEGMENT_COST_CODE], by_segment[SEGMENT_COST_TYPE], entry.get("description"),
                              "description" in entry))
        if problems:
            raise ApiError(422, {"errors": "; ".join(sorted({e for p in problems for e in p["errors"]})),
                                 "details": problems})
        ids = []
        for cc_id, lit_id, description, has_description in pairs:
            wbs_id = ensure(db, conn, project_id, cc_id, lit_id, description if has_description else None)
            if has_description:
                conn.execute("UPDATE wbs_codes SET description = ?, updated_at = ? WHERE id = ?",
                             (description, now_iso(), wbs_id))
            ids.append(wbs_id)
        found = fetch(conn, ids)
    return [found[i] for i in ids]
