"""Project cost codes: the erp_compact list and `PATCH /cost_codes/sync`."""
from __future__ import annotations

import sqlite3
from typing import Any

from .pagination import Page
from .params import select_in
from .store import Database, now_iso
from .sync import SyncBatch, text_or_none

FIELDS = ("code", "name", "origin_id", "origin_data")
COLUMNS = ("id", "company_id", "project_id", "code", "full_code", "name", "parent_id", "origin_id", "origin_data",
           "created_at", "updated_at", "segment_item_id")
CODE_DELIMITER = "-"  # full_code joins a code to its parent's full_code (a guess, see README)


def _types_by_cost_code(conn: sqlite3.Connection, project_id: int, cc_ids: list[int]) -> dict[int, list[dict]]:
    """The line item types each cost code has a WBS code (budget code) with."""
    out: dict[int, list[dict]] = {i: [] for i in cc_ids}
    rows = select_in(conn, "SELECT w.cost_code_id AS cc, l.* FROM wbs_codes w JOIN line_item_types l "
                           "ON l.id = w.line_item_type_id WHERE w.project_id = ? AND w.cost_code_id IN ({marks}) "
                           "ORDER BY l.id", cc_ids, project_id)
    for r in rows:
        out[r["cc"]].append({"id": r["id"], "name": r["name"], "code": r["code"], "base_type": r["base_type"],
                             "origin_id": r["origin_id"]})
    return out


def serialize(conn: sqlite3.Connection, project_id: int, rows: list[Any]) -> list[dict[str, Any]]:
    types = _types_by_cost_code(conn, project_id, [r["id"] for r in rows])
    return [{
        "id": r["id"], "code": r["code"], "full_code": r["full_code"], "name": r["name"],
        "parent": {"id": r["parent_id"]} if r["parent_id"] is not None else None,
        "origin_id": r["origin_id"], "origin_data": r["origin_data"], "line_item_types": types[r["id"]],
        "created_at": r["created_at"], "updated_at": r["updated_at"],
    } for r in rows]


def list_cost_codes(conn: sqlite3.Connection, project_id: int, origin_ids: list[str] | None,
                    ids: list[int] | None, page: Page) -> tuple[list[dict[str, Any]], int]:
    where: list[str] = ["project_id = ?"]
    args: list[Any] = [project_id]
    if origin_ids is not None:
        where.append(f"origin_id IN ({', '.join('?' for _ in origin_ids)})")
        args.extend(origin_ids)
    if ids is not None:
        where.append(f"id IN ({', '.join('?' for _ in ids)})")
        args.extend(ids)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM cost_codes WHERE {clause}", args).fetchone()[0]
    rows = conn.execute(f"SELECT * FROM cost_codes WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()
    return serialize(conn, project_id, rows), total


def _full_codes(by_id: dict[int, dict[str, Any]]) -> dict[int, str]:
    cache: dict[int, str] = {}

    def full(entity_id: int, depth: int = 0) -> str:
        if entity_id not in cache:
            entity = by_id[entity_id]
            parent = entity.get("parent_id")
            prefix = full(parent, depth + 1) + CODE_DELIMITER if parent in by_id and depth < 50 else ""
            cache[entity_id] = prefix + entity["code"]
        return cache[entity_id]

    return {i: full(i) for i in by_id}


def _parent_errors(item: dict[str, Any], merged: dict[str, Any], batch: SyncBatch) -> dict[str, list[str]]:
    """Resolve parent_id / parent_origin_id within the project and refuse cycles."""
    if "parent_id" in item:
        raw = item["parent_id"]
        try:
            parent = None if raw is None else int(raw)
        except (TypeError, ValueError):
            return {"parent_id": ["is invalid"]}
        if parent is not None and parent not in batch.by_id:
            return {"parent_id": ["is invalid"]}
        merged["parent_id"] = parent
    elif item.get("parent_origin_id") is not None:
        found = batch.origins.get(text_or_none(item["parent_origin_id"]) or "")
        if found is None or found[1] != batch.scope_id:
            return {"parent_origin_id": ["is invalid"]}
        merged["parent_id"] = found[0]
    parent, hops = merged.get("parent_id"), 0
    while parent is not None and hops < 1000:
        if parent == merged["id"] and merged["id"] is not None:
            return {"parent_id": ["is invalid"]}
        parent, hops = batch.by_id[parent].get("parent_id") if parent in batch.by_id else None, hops + 1
    return {}


def sync(db: Database, project: sqlite3.Row, items: list[Any]) -> dict[str, Any]:
    """Apply one `/cost_codes/sync` call in one transaction; answer `{entities, errors}`."""
    project_id, company_id = project["id"], project["company_id"]
    stamp = now_iso()
    with db.tx() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM cost_codes WHERE project_id = ?", (project_id,))]
        wanted = [text_or_none(i.get(k)) for i in items if isinstance(i, dict)
                  for k in ("origin_id", "parent_origin_id") if i.get(k) is not None]
        origins = {r["origin_id"]: (r["id"], r["project_id"]) for r in select_in(
            conn, "SELECT id, project_id, origin_id FROM cost_codes WHERE company_id = ? AND origin_id IN ({marks})",
            wanted, company_id)}
        origins.update({r["origin_id"]: (r["id"], project_id) for r in rows if r["origin_id"] is not None})
        fresh = iter(db.allocate_ids(conn, len(items)) if items else [])
        batch = SyncBatch(project_id, rows, origins, lambda: next(fresh))
        defaults = {"company_id": company_id, "project_id": project_id, "parent_id": None, "origin_id": None,
                    "origin_data": None, "full_code": "", "created_at": stamp, "updated_at": stamp}
        for item in items:
            if not isinstance(item, dict):
                batch.reject(item, {"base": ["must be an object"]})
                continue
            target, errors = batch.resolve(item)
            if errors:
                batch.reject(item, errors)
                continue
            merged = batch.merge(item, target, FIELDS, defaults)
            errors = _parent_errors(item, merged, batch)
            for field, messages in batch.check(merged, target).items():
                errors.setdefault(field, []).extend(messages)
            if errors:
                batch.reject(item, errors)
                continue
            merged["updated_at"] = stamp
            batch.apply(merged, target)
        for entity_id, full_code in _full_codes(batch.by_id).items():
            if batch.by_id[entity_id]["full_code"] != full_code:
                batch.by_id[entity_id]["full_code"] = full_code
                batch.changed.add(entity_id)
        created = set(batch.created)
        # Each new entity is also a WBS segment item, with an id of its own (see wbs.py).
        for entity_id, item_id in zip(batch.created, db.allocate_ids(conn, len(batch.created))):
            batch.by_id[entity_id]["segment_item_id"] = item_id
        # Park changed rows' unique keys first so swaps within one batch do not trip the unique indexes.
        conn.executemany("UPDATE cost_codes SET code = '~parked~' || id, origin_id = NULL WHERE id = ?",
                         [(i,) for i in batch.changed - created])
        conn.executemany(f"INSERT INTO cost_codes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                         [tuple(batch.by_id[i][c] for c in COLUMNS) for i in batch.created])
        conn.executemany("UPDATE cost_codes SET code = ?, full_code = ?, name = ?, parent_id = ?, origin_id = ?, "
                         "origin_data = ?, updated_at = ? WHERE id = ?",
                         [(e["code"], e["full_code"], e["name"], e["parent_id"], e["origin_id"], e["origin_data"],
                           e["updated_at"], e["id"]) for e in (batch.by_id[i] for i in batch.changed - created)])
        fetched = {r["id"]: r for r in select_in(conn, "SELECT * FROM cost_codes WHERE id IN ({marks})",
                                                 sorted(set(batch.touched)))}
        entities = serialize(conn, project_id, [fetched[i] for i in batch.touched])
    return {"entities": entities, "errors": batch.errors}
