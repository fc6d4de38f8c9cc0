"""Work breakdown structure: segments, segment items and WBS (budget) codes.

A WBS code is the pair (cost code, line item type) in a project. The project has two segments,
told apart by `type` ("cost_code", "line_item_type"); their `name` is the company's display name
(translated in a non-English company). A segment item names its segment as a nested object. Each
cost code and each line item type is one segment item, whose id is its own (stored in the
`segment_item_id` column, from the global id sequence): Procore does not say that a segment item id
equals the cost code id, so the emulator makes sure they differ.
"""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import ApiError, bad_request, forbidden, not_found
from .pagination import Page
from .params import select_in
from .store import Database, now_iso
from .sync import BLANK, MAX_SYNC_ITEMS, TAKEN

SEGMENT_COST_CODE = 9_000_000_001
SEGMENT_COST_TYPE = 9_000_000_002
COST_CODE, LINE_ITEM_TYPE = "cost_code", "line_item_type"
FLAT_DELIMITER = "."
CODE_DELIMITER = "-"  # a cost code's full_code joins it to its parent's (a guess, see README)
NOT_MODIFIABLE = "Segment items of this segment cannot be created in a project"

WBS_SQL = ("SELECT w.*, cc.code AS cc_code, cc.full_code AS cc_full_code, cc.name AS cc_name, "
           "cc.parent_id AS cc_parent_id, cc.segment_item_id AS cc_item_id, cc.created_at AS cc_created_at, "
           "cc.updated_at AS cc_updated_at, l.code AS lit_code, l.name AS lit_name, l.segment_item_id AS lit_item_id, "
           "l.created_at AS lit_created_at, l.updated_at AS lit_updated_at FROM wbs_codes w "
           "JOIN cost_codes cc ON cc.id = w.cost_code_id JOIN line_item_types l ON l.id = w.line_item_type_id ")


# ---- segments ------------------------------------------------------------------------------------

def segment_names(conn: sqlite3.Connection, company_id: int) -> dict[str, str]:
    row = conn.execute("SELECT cost_code_segment_name, cost_type_segment_name FROM companies WHERE id = ?",
                       (company_id,)).fetchone()
    return {COST_CODE: row[0], LINE_ITEM_TYPE: row[1]}


def segment_ref(kind: str, names: dict[str, str]) -> dict[str, Any]:
    """A segment as a segment item names it (and the core of the segment list's entries)."""
    cost_code = kind == COST_CODE
    return {
        "id": SEGMENT_COST_CODE if cost_code else SEGMENT_COST_TYPE, "name": names[kind], "type": kind,
        "position": 1 if cost_code else 2, "delimiter": FLAT_DELIMITER, "required": True,
        "structure": "tiered" if cost_code else "flat",
        "project_can_modify_origin_project": cost_code, "project_can_delete_origin_company": False,
    }


def segments(conn: sqlite3.Connection, project: sqlite3.Row) -> list[dict[str, Any]]:
    names = segment_names(conn, project["company_id"])
    counts = {
        COST_CODE: conn.execute("SELECT COUNT(*) FROM cost_codes WHERE project_id = ?", (project["id"],)).fetchone()[0],
        LINE_ITEM_TYPE: conn.execute("SELECT COUNT(*) FROM line_item_types WHERE company_id = ?",
                                     (project["company_id"],)).fetchone()[0],
    }
    return [{**segment_ref(kind, names), "segment_items_count": counts[kind]} for kind in (COST_CODE, LINE_ITEM_TYPE)]


def segment_kind(segment_id: int) -> str:
    if segment_id == SEGMENT_COST_CODE:
        return COST_CODE
    if segment_id == SEGMENT_COST_TYPE:
        return LINE_ITEM_TYPE
    raise not_found(f"Segment {segment_id} not found")


# ---- segment items -------------------------------------------------------------------------------

def _cost_code_tree(conn: sqlite3.Connection, rows: list[Any]) -> dict[int, dict[str, Any]]:
    """The given cost codes and all their ancestors, by cost code id."""
    tree = {r["id"]: dict(r) for r in rows}
    tried: set[int] = set()

    def missing() -> set[int]:
        return {r["parent_id"] for r in tree.values() if r["parent_id"] is not None} - set(tree) - tried

    wanted = missing()
    while wanted:
        tried |= wanted
        found = select_in(conn, "SELECT id, code, full_code, name, parent_id, segment_item_id FROM cost_codes "
                                "WHERE id IN ({marks})", sorted(wanted))
        tree.update({r["id"]: dict(r) for r in found})
        wanted = missing()
    return tree


def cost_code_items(conn: sqlite3.Connection, rows: list[Any], names: dict[str, str],
                    in_use: bool | None = None) -> dict[int, dict[str, Any]]:
    """Segment items for cost code rows (id, code, full_code, name, parent_id, segment_item_id, ...), by cost
    code id. `in_use` None looks up whether each has a WBS code."""
    tree = _cost_code_tree(conn, rows)
    ids = [r["id"] for r in rows]
    parents = {r["parent_id"] for r in select_in(conn, "SELECT DISTINCT parent_id FROM cost_codes "
                                                       "WHERE parent_id IN ({marks})", ids)}
    if in_use is None:
        used = {r["cost_code_id"] for r in select_in(conn, "SELECT DISTINCT cost_code_id FROM wbs_codes "
                                                           "WHERE cost_code_id IN ({marks})", ids)}
    else:
        used = set(ids) if in_use else set()
    ref = segment_ref(COST_CODE, names)
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        chain, node, hops = [], tree.get(row["id"]), 0
        while node is not None and hops < 100:
            chain.append(node)
            node, hops = tree.get(node["parent_id"]) if node["parent_id"] is not None else None, hops + 1
        chain.reverse()
        parent = tree.get(row["parent_id"]) if row["parent_id"] is not None else None
        out[row["id"]] = {
            "id": row["segment_item_id"], "code": row["code"], "name": row["name"],
            "parent_id": parent["segment_item_id"] if parent else None,
            "path_ids": [n["segment_item_id"] for n in chain], "path_code": row["full_code"],
            "path_codes": [n["code"] for n in chain], "path_names": [n["name"] for n in chain],
            "is_parent": row["id"] in parents, "in_use": row["id"] in used, "status": "active",
            "created_at": row["created_at"], "updated_at": row["updated_at"], "segment": ref,
        }
    return out


def type_item(row: Any, names: dict[str, str], in_use: bool) -> dict[str, Any]:
    """The segment item of a line item type (cost type): a flat segment, so its path is itself."""
    return {
        "id": row["segment_item_id"], "code": row["code"], "name": row["name"], "parent_id": None,
        "path_ids": [row["segment_item_id"]], "path_code": row["code"], "path_codes": [row["code"]],
        "path_names": [row["name"]], "is_parent": False, "in_use": in_use, "status": "active",
        "created_at": row["created_at"], "updated_at": row["updated_at"], "segment": segment_ref(LINE_ITEM_TYPE, names),
    }


def list_segment_items(conn: sqlite3.Connection, project: sqlite3.Row, segment_id: int,
                       page: Page) -> tuple[list[dict[str, Any]], int]:
    kind = segment_kind(segment_id)
    names = segment_names(conn, project["company_id"])
    if kind == COST_CODE:
        total = conn.execute("SELECT COUNT(*) FROM cost_codes WHERE project_id = ?", (project["id"],)).fetchone()[0]
        rows = conn.execute("SELECT * FROM cost_codes WHERE project_id = ? ORDER BY id LIMIT ? OFFSET ?",
                            (project["id"], page.per_page, page.offset)).fetchall()
        items = cost_code_items(conn, rows, names)
        return [items[r["id"]] for r in rows], total
    total = conn.execute("SELECT COUNT(*) FROM line_item_types WHERE company_id = ?",
                         (project["company_id"],)).fetchone()[0]
    rows = conn.execute("SELECT * FROM line_item_types WHERE company_id = ? ORDER BY id LIMIT ? OFFSET ?",
                        (project["company_id"], page.per_page, page.offset)).fetchall()
    used = {r[0] for r in select_in(conn, "SELECT DISTINCT line_item_type_id FROM wbs_codes WHERE project_id = ? "
                                          "AND line_item_type_id IN ({marks})", [r["id"] for r in rows], project["id"])}
    return [type_item(r, names, r["id"] in used) for r in rows], total


def create_segment_item(db: Database, project: sqlite3.Row, segment_id: int, body: Any) -> dict[str, Any]:
    """`POST .../segments/{id}/segment_items`: a new project cost code (the cost type segment is company-owned)."""
    if segment_kind(segment_id) != COST_CODE:
        raise forbidden(NOT_MODIFIABLE)
    if not isinstance(body, dict):
        raise bad_request("code is missing, name is missing")
    code = body["code"].strip() if isinstance(body.get("code"), str) else ""
    name = body["name"].strip() if isinstance(body.get("name"), str) else ""
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = [BLANK]
    if not name:
        errors["name"] = [BLANK]
    with db.tx() as conn:
        if code and conn.execute("SELECT 1 FROM cost_codes WHERE project_id = ? AND code = ?",
                                 (project["id"], code)).fetchone():
            errors["code"] = [TAKEN]
        parent = None
        if body.get("parent_id") is not None:
            parent = conn.execute("SELECT * FROM cost_codes WHERE project_id = ? AND segment_item_id = ?",
                                  (project["id"], body["parent_id"])).fetchone()
            if parent is None:
                errors["parent_id"] = ["is invalid"]
        if errors:
            raise ApiError(422, {"errors": errors})
        cc_id, item_id = db.allocate_ids(conn, 2)
        stamp = now_iso()
        full_code = f"{parent['full_code']}{CODE_DELIMITER}{code}" if parent is not None else code
        conn.execute("INSERT INTO cost_codes (id, company_id, project_id, code, full_code, name, parent_id, origin_id, "
                     "origin_data, created_at, updated_at, segment_item_id) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
                     (cc_id, project["company_id"], project["id"], code, full_code, name,
                      parent["id"] if parent is not None else None, stamp, stamp, item_id))
        row = conn.execute("SELECT * FROM cost_codes WHERE id = ?", (cc_id,)).fetchone()
        return cost_code_items(conn, [row], segment_names(conn, project["company_id"]), in_use=False)[cc_id]


# ---- WBS codes -----------------------------------------------------------------------------------

def flat_code(cc_full_code: str, lit_code: str) -> str:
    return f"{cc_full_code}{FLAT_DELIMITER}{lit_code}"


def _serialize_rows(conn: sqlite3.Connection, rows: list[Any], names: dict[str, str]) -> list[dict[str, Any]]:
    cc_rows = {r["cost_code_id"]: {"id": r["cost_code_id"], "code": r["cc_code"], "full_code": r["cc_full_code"],
                                   "name": r["cc_name"], "parent_id": r["cc_parent_id"],
                                   "segment_item_id": r["cc_item_id"], "created_at": r["cc_created_at"],
                                   "updated_at": r["cc_updated_at"]} for r in rows}
    cc_items = cost_code_items(conn, list(cc_rows.values()), names, in_use=True)
    out = []
    for r in rows:
        lit = {"code": r["lit_code"], "name": r["lit_name"], "segment_item_id": r["lit_item_id"],
               "created_at": r["lit_created_at"], "updated_at": r["lit_updated_at"]}
        out.append({
            "id": r["id"], "flat_code": flat_code(r["cc_full_code"], r["lit_code"]), "description": r["description"],
            "status": r["status"], "created_at": r["created_at"], "updated_at": r["updated_at"],
            "segment_items": [cc_items[r["cost_code_id"]], type_item(lit, names, True)],
        })
    return out


def _time_bound(raw: str, upper: bool) -> str:
    """One end of a `filters[updated_at]` range as the stored UTC text; a bare date covers its whole day."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            moment = day + timedelta(days=1, seconds=-1) if upper else day
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise bad_request("filters[updated_at] is invalid") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_range(raw: str | None) -> tuple[str, str] | None:
    """`a...b` (Procore's range form), both ends included."""
    if raw is None or raw == "":
        return None
    start, sep, end = raw.partition("...")
    if not sep or not start.strip() or not end.strip():
        raise bad_request("filters[updated_at] is invalid")
    return _time_bound(start, upper=False), _time_bound(end, upper=True)


def list_wbs(conn: sqlite3.Connection, project: sqlite3.Row, ids: list[int] | None, statuses: list[str] | None,
             updated: tuple[str, str] | None, page: Page) -> tuple[list[dict[str, Any]], int]:
    where: list[str] = ["w.project_id = ?"]
    args: list[Any] = [project["id"]]
    if ids is not None:
        where.append(f"w.id IN ({', '.join('?' for _ in ids)})")
        args.extend(ids)
    if statuses is not None:
        where.append(f"w.status IN ({', '.join('?' for _ in statuses)})")
        args.extend(statuses)
    if updated is not None:
        where.append("w.updated_at BETWEEN ? AND ?")
        args.extend(updated)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM wbs_codes w WHERE {clause}", args).fetchone()[0]
    rows = conn.execute(f"{WBS_SQL} WHERE {clause} ORDER BY w.id LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()
    return _serialize_rows(conn, rows, segment_names(conn, project["company_id"])), total


def fetch(conn: sqlite3.Connection, company_id: int, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = select_in(conn, WBS_SQL + "WHERE w.id IN ({marks})", sorted(set(ids)))
    return {w["id"]: w for w in _serialize_rows(conn, rows, segment_names(conn, company_id))}


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


class _Picker:
    """Resolves the segment items of WBS code requests to (cost code id, line item type id) pairs."""

    def __init__(self, conn: sqlite3.Connection, project: sqlite3.Row, entries: list[Any]) -> None:
        wanted: dict[int, set[int]] = {SEGMENT_COST_CODE: set(), SEGMENT_COST_TYPE: set()}
        for entry in entries:
            for pick in self.picks(entry):
                if pick[0] in wanted:
                    wanted[pick[0]].add(pick[1])
        self.cost_codes = {r[0]: r[1] for r in select_in(
            conn, "SELECT segment_item_id, id FROM cost_codes WHERE project_id = ? AND segment_item_id IN ({marks})",
            sorted(wanted[SEGMENT_COST_CODE]), project["id"])}
        self.types = {r[0]: r[1] for r in select_in(
            conn, "SELECT segment_item_id, id FROM line_item_types WHERE company_id = ? AND segment_item_id IN ({marks})",
            sorted(wanted[SEGMENT_COST_TYPE]), project["company_id"])}
        self.names = segment_names(conn, project["company_id"])

    @staticmethod
    def picks(entry: Any) -> list[tuple[Any, Any]]:
        items = entry.get("segment_items") if isinstance(entry, dict) else None
        if not isinstance(items, list):
            return []
        return [(p.get("segment_id"), p.get("segment_item_id")) for p in items if isinstance(p, dict)]

    def resolve(self, entry: Any) -> tuple[tuple[int, int] | None, list[str]]:
        picks = self.picks(entry)
        if not picks:
            return None, ["segment_items is missing"]
        errors: list[str] = []
        chosen: dict[Any, Any] = {}
        for segment_id, item_id in picks:
            if segment_id not in (SEGMENT_COST_CODE, SEGMENT_COST_TYPE):
                errors.append(f"segment {segment_id} is not a segment of this project")
            elif segment_id in chosen:
                errors.append(f"{self.names[segment_kind(segment_id)]}: only one segment item per segment")
            chosen[segment_id] = item_id
        if errors:
            return None, errors
        for segment_id, table, where in ((SEGMENT_COST_CODE, self.cost_codes, "project"),
                                         (SEGMENT_COST_TYPE, self.types, "company")):
            label = self.names[segment_kind(segment_id)]
            if segment_id not in chosen:
                errors.append(f"{label}: a segment item is required")
            elif chosen[segment_id] not in table:
                errors.append(f"{label}: segment item {chosen[segment_id]} is not in this {where}")
        if errors:
            return None, errors
        return (self.cost_codes[chosen[SEGMENT_COST_CODE]], self.types[chosen[SEGMENT_COST_TYPE]]), []


def _apply(db: Database, conn: sqlite3.Connection, project_id: int, pair: tuple[int, int], entry: dict[str, Any]) -> int:
    """Create the pair's WBS code or return the existing one, updating its description when one is given."""
    description = entry.get("description")
    wbs_id = ensure(db, conn, project_id, pair[0], pair[1], description)
    if description is not None:
        conn.execute("UPDATE wbs_codes SET description = ?, updated_at = ? WHERE id = ? AND description IS NOT ?",
                     (description, now_iso(), wbs_id, description))
    return wbs_id


def create(db: Database, project: sqlite3.Row, body: Any) -> dict[str, Any]:
    """`POST .../wbs_codes`: one WBS code (an existing pair is returned, its description updated)."""
    with db.tx() as conn:
        picker = _Picker(conn, project, [body])
        pair, errors = picker.resolve(body)
        if pair is None:
            raise ApiError(422, {"errors": {"segment_items": errors}})
        wbs_id = _apply(db, conn, project["id"], pair, body)
        return fetch(conn, project["company_id"], [wbs_id])[wbs_id]


def bulk_create(db: Database, project: sqlite3.Row, body: Any) -> dict[str, Any]:
    """`PATCH .../wbs_codes/bulk_create`: each valid entry is created (or returned), each invalid one is
    reported in `errors`; over 1000 entries nothing is applied."""
    if not isinstance(body, dict) or not isinstance(body.get("bulk"), list):
        raise bad_request("bulk is missing")
    entries = body["bulk"]
    if len(entries) > MAX_SYNC_ITEMS:
        raise ApiError(422, {"errors": f"bulk: at most {MAX_SYNC_ITEMS} items are allowed (got {len(entries)})"})
    with db.tx() as conn:
        picker = _Picker(conn, project, entries)
        ids: list[int] = []
        refused: list[dict[str, Any]] = []
        for entry in entries:
            pair, errors = picker.resolve(entry)
            if pair is None:
                sent = entry.get("segment_items") if isinstance(entry, dict) else entry
                refused.append({"segment_items": sent, "errors": {"segment_items": errors}})
                continue
            ids.append(_apply(db, conn, project["id"], pair, entry))
        found = fetch(conn, project["company_id"], ids)
    return {"entities": [found[i] for i in ids], "errors": refused}
