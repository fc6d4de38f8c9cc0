"""Company line item types (cost types): list and `PATCH /line_item_types/sync`."""
from __future__ import annotations

import sqlite3
from typing import Any

from .pagination import Page
from .params import select_in
from .store import Database, now_iso
from .sync import BLANK, SyncBatch, text_or_none

FIELDS = ("code", "name", "base_type", "origin_id", "origin_data")
COLUMNS = ("id", "company_id", "code", "name", "base_type", "origin_id", "origin_data", "created_at", "updated_at",
           "segment_item_id")


def serialize(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "code": row["code"], "base_type": row["base_type"],
            "origin_id": row["origin_id"], "origin_data": row["origin_data"],
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


def list_types(conn: sqlite3.Connection, company_id: int, origin_ids: list[str] | None,
               page: Page) -> tuple[list[dict[str, Any]], int]:
    where: list[str] = ["company_id = ?"]
    args: list[Any] = [company_id]
    if origin_ids is not None:
        where.append(f"origin_id IN ({', '.join('?' for _ in origin_ids)})")
        args.extend(origin_ids)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT COUNT(*) FROM line_item_types WHERE {clause}", args).fetchone()[0]
    rows = conn.execute(f"SELECT * FROM line_item_types WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()
    return [serialize(r) for r in rows], total


def sync(db: Database, company_id: int, items: list[Any]) -> dict[str, Any]:
    """Apply one `/line_item_types/sync` call in one transaction; answer `{entities, errors}`."""
    stamp = now_iso()
    with db.tx() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM line_item_types WHERE company_id = ?", (company_id,))]
        origins = {r["origin_id"]: (r["id"], company_id) for r in rows if r["origin_id"] is not None}
        fresh = iter(db.allocate_ids(conn, len(items)) if items else [])
        batch = SyncBatch(company_id, rows, origins, lambda: next(fresh))
        defaults = {"company_id": company_id, "base_type": "other", "origin_id": None, "origin_data": None,
                    "created_at": stamp, "updated_at": stamp}
        for item in items:
            if not isinstance(item, dict):
                batch.reject(item, {"base": ["must be an object"]})
                continue
            target, errors = batch.resolve(item)
            if errors:
                batch.reject(item, errors)
                continue
            merged = batch.merge(item, target, FIELDS, defaults)
            merged["base_type"] = text_or_none(merged.get("base_type"))
            errors = batch.check(merged, target)
            if not merged["base_type"]:
                errors.setdefault("base_type", []).append(BLANK)
            if errors:
                batch.reject(item, errors)
                continue
            merged["updated_at"] = stamp
            batch.apply(merged, target)
        created = set(batch.created)
        # Each new entity is also a WBS segment item, with an id of its own (see wbs.py).
        for entity_id, item_id in zip(batch.created, db.allocate_ids(conn, len(batch.created))):
            batch.by_id[entity_id]["segment_item_id"] = item_id
        # Park changed rows' unique keys first so swaps within one batch do not trip the unique indexes.
        conn.executemany("UPDATE line_item_types SET code = '~parked~' || id, origin_id = NULL WHERE id = ?",
                         [(i,) for i in batch.changed - created])
        conn.executemany(f"INSERT INTO line_item_types ({', '.join(COLUMNS)}) "
                         f"VALUES ({', '.join('?' for _ in COLUMNS)})",
                         [tuple(batch.by_id[i][c] for c in COLUMNS) for i in batch.created])
        conn.executemany("UPDATE line_item_types SET code = ?, name = ?, base_type = ?, origin_id = ?, "
                         "origin_data = ?, updated_at = ? WHERE id = ?",
                         [(e["code"], e["name"], e["base_type"], e["origin_id"], e["origin_data"], e["updated_at"],
                           e["id"]) for e in (batch.by_id[i] for i in batch.changed - created)])
        fetched = {r["id"]: r for r in select_in(conn, "SELECT * FROM line_item_types WHERE id IN ({marks})",
                                                 sorted(set(batch.touched)))}
    return {"entities": [serialize(fetched[i]) for i in batch.touched], "errors": batch.errors}
