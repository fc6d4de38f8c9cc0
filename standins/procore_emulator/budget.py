"""Budget line items: v1 create/show/update, the atomic v1 `/sync`, v2 list/delete, and their rules.

Rules (texts are Procore's, seen by third parties): one line per WBS code (cost code + cost type)
in a project -> 422 "wbs_code_id: This Budget Code already exists"; on a locked budget a write that
sets original_budget_amount, and any delete -> 422 "The original_budget_amount cannot be updated
for a locked budget."
"""
from __future__ import annotations

import sqlite3
from collections import OrderedDict
from decimal import Decimal, localcontext
from typing import Any

from . import money, wbs
from .errors import ApiError, bad_request, not_found, unprocessable
from .pagination import Page
from .params import select_in
from .store import Database, now_iso
from .sync import MAX_SYNC_ITEMS

LOCKED = "The original_budget_amount cannot be updated for a locked budget."
DUPLICATE = "wbs_code_id: This Budget Code already exists"
STRATEGIES = ("manual", "automatic")
ZERO = Decimal(0)
CURRENCY = "USD"
MISMATCH = "wbs_code_id: does not match the budget line item's wbs_code_id"

LINE_SQL = (
    "SELECT b.*, w.cost_code_id, w.line_item_type_id, w.description AS wbs_description, cc.code AS cc_code, "
    "cc.full_code AS cc_full_code, cc.name AS cc_name, cc.origin_id AS cc_origin_id, cc.parent_id AS cc_parent_id, "
    "l.code AS lit_code, l.name AS lit_name, l.origin_id AS lit_origin_id FROM budget_line_items b "
    "JOIN wbs_codes w ON w.id = b.wbs_code_id JOIN cost_codes cc ON cc.id = w.cost_code_id "
    "JOIN line_item_types l ON l.id = w.line_item_type_id ")
# The joins of LINE_SQL without its columns: what a page order needs.
LINE_ORDER_SQL = ("SELECT b.id FROM budget_line_items b JOIN wbs_codes w ON w.id = b.wbs_code_id "
                  "JOIN cost_codes cc ON cc.id = w.cost_code_id JOIN line_item_types l ON l.id = w.line_item_type_id ")
LINE_COLUMNS = ("id", "project_id", "wbs_code_id", "original_budget_amount", "uom", "quantity", "unit_cost",
                "calculation_strategy", "description", "created_at", "updated_at")


# ---- serialisation -------------------------------------------------------------------------------

def _figures(row: Any) -> dict[str, Decimal]:
    """The budget columns; with no changes, commitments or costs in the emulator most derive from the original."""
    original = Decimal(row["original_budget_amount"])
    revised = original + ZERO
    return {
        "original_budget_amount": original, "budget_modifications": ZERO, "approved_cos": ZERO,
        "approved_budget_changes": ZERO, "revised_budget": revised, "pending_budget_changes": ZERO,
        "projected_budget": revised, "committed_costs": ZERO, "direct_costs": ZERO,
        "pending_cost_changes": ZERO, "projected_costs": ZERO, "forecast_to_complete": revised,
        "estimated_cost_at_completion": revised, "projected_over_under": revised - revised,
    }


def _wbs_ref(row: Any) -> dict[str, Any]:
    return {"id": row["wbs_code_id"], "flat_code": wbs.flat_code(row["cc_full_code"], row["lit_code"]),
            "description": row["wbs_description"]}


def v1(row: Any) -> dict[str, Any]:
    """The v1.0 line item of create/show/update: ids as integers, amounts as exact JSON numbers."""
    figures = _figures(row)
    figures.pop("budget_modifications")
    figures.pop("approved_cos")
    return {
        "id": row["id"], "description": row["description"], **figures, "uom": row["uom"],
        "quantity": money.from_text(row["quantity"]), "unit_cost": money.from_text(row["unit_cost"]),
        "calculation_strategy": row["calculation_strategy"], "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "cost_code": {"id": row["cost_code_id"], "name": row["cc_name"], "code": row["cc_code"],
                      "full_code": row["cc_full_code"]},
        "line_item_type": {"id": row["line_item_type_id"], "name": row["lit_name"]},
        "wbs_code": _wbs_ref(row), "currency_configuration": {"currency_iso_code": CURRENCY},
    }


def synced(row: Any) -> dict[str, Any]:
    """A line item in a sync answer: exactly the spec's keys (RestV11BudgetLineItemsPost201Response)."""
    return {
        "id": row["id"], "original_budget_amount": Decimal(row["original_budget_amount"]), "uom": row["uom"],
        "quantity": money.from_text(row["quantity"]), "unit_cost": money.from_text(row["unit_cost"]),
        "calculation_strategy": row["calculation_strategy"], "wbs_code": _wbs_ref(row),
        "currency_configuration": {"currency_iso_code": CURRENCY},
    }


def v2(row: Any) -> dict[str, Any]:
    """The v2.0 line item: ids and amounts as strings."""
    return {
        "id": str(row["id"]), "project_id": str(row["project_id"]),
        "original_budget_amount": row["original_budget_amount"], "quantity": row["quantity"], "uom": row["uom"],
        "unit_cost": row["unit_cost"], "calculation_strategy": row["calculation_strategy"],
        "description": row["description"], "cost_code_id": str(row["cost_code_id"]),
        "line_item_type_id": str(row["line_item_type_id"]),
        "wbs_code": {"id": str(row["wbs_code_id"]), "flat_code": wbs.flat_code(row["cc_full_code"], row["lit_code"]),
                     "description": row["wbs_description"]},
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def cost_code_label(full_code: str, name: str) -> str:
    """How a budget view names a cost code: "<full code> - <name>"."""
    return f"{full_code} - {name}"


def detail_row(row: Any, project: Any, company_name: str, root: tuple[int, str, str]) -> dict[str, Any]:
    """A budget view detail row with only the spec's documented keys. `root` is the (id, full code, name)
    of the cost code's top ancestor (itself when it has no parent)."""
    return {
        "id": row["id"], "deletable": not project["budget_locked"], "company_id": project["company_id"],
        "company": company_name, "project_id": row["project_id"], "wbs_code_id": row["wbs_code_id"],
        "biller_id": project["id"], "biller": project["name"], "biller_type": "Project",
        "root_cost_code_id": root[0], "root_cost_code": cost_code_label(root[1], root[2]),
        "cost_code_id": row["cost_code_id"], "cost_code_origin_id": row["cc_origin_id"],
        "category_id": row["line_item_type_id"], "project": project["name"],
        "cost_code": cost_code_label(row["cc_full_code"], row["cc_name"]), "category": row["lit_name"],
        "budget_modifications": ZERO, "original_budget_amount": Decimal(row["original_budget_amount"]),
        "budget_forecast": None, "currency_configuration": {"currency_iso_code": CURRENCY},
        "unbudgeted_reason": None,
    }


# ---- reads ---------------------------------------------------------------------------------------

def get_row(conn: sqlite3.Connection, project_id: int, line_id: int) -> sqlite3.Row:
    row = conn.execute(LINE_SQL + "WHERE b.id = ?", (line_id,)).fetchone()
    if row is None or row["project_id"] != project_id:
        raise not_found(f"Budget Line Item {line_id} not found")
    return row


class _LineOrder:
    """Each project's line ids in one order, kept until the database changes, so that a page of a large
    budget is a slice of it rather than a sort of the whole joined budget per page (a 50,000-line budget
    read in pages of 1,000 sorted 50 times). Valid while neither this connection wrote anything
    (`total_changes`) nor another connection committed (`PRAGMA data_version`, e.g. a test editing the file)."""

    MAX_ENTRIES = 16

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[int, int, str], tuple[sqlite3.Connection, tuple[int, int], list[int]]] = \
            OrderedDict()

    def ids(self, conn: sqlite3.Connection, project_id: int, order: str) -> list[int]:
        key = (id(conn), project_id, order)
        stamp = (conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0])
        entry = self._entries.get(key)
        if entry is not None and entry[0] is conn and entry[1] == stamp:
            self._entries.move_to_end(key)
            return entry[2]
        ids = [r[0] for r in conn.execute(LINE_ORDER_SQL + f"WHERE b.project_id = ? ORDER BY {order}", (project_id,))]
        self._entries[key] = (conn, stamp, ids)  # the connection is held so that its id() is not reused
        while len(self._entries) > self.MAX_ENTRIES:
            self._entries.popitem(last=False)
        return ids


_line_order = _LineOrder()


def list_rows(conn: sqlite3.Connection, project_id: int, page: Page, order: str = "b.id") -> tuple[list[Any], int]:
    """One page of a project's lines in `order` (columns of LINE_SQL's tables), and how many lines it has."""
    ids = _line_order.ids(conn, project_id, order)
    wanted = ids[page.offset:page.offset + page.per_page]
    by_id = fetch_rows(conn, wanted)
    return [by_id[i] for i in wanted], len(ids)


def fetch_rows(conn: sqlite3.Connection, ids: list[int]) -> dict[int, Any]:
    return {r["id"]: r for r in select_in(conn, LINE_SQL + "WHERE b.id IN ({marks})", sorted(set(ids)))}


# ---- field parsing -------------------------------------------------------------------------------

def _parse_fields(item: dict[str, Any], current: dict[str, Any] | None, errors: list[str]) -> tuple[dict[str, Any], bool]:
    """Merge an item's budget fields onto `current` (or defaults); return (values, sets_amount)."""
    values = dict(current) if current else {"original_budget_amount": "0", "uom": None, "quantity": None,
                                            "unit_cost": None, "calculation_strategy": "manual", "description": None}
    for field in ("original_budget_amount", "quantity", "unit_cost"):
        if field not in item:
            continue
        raw = item[field]
        if raw is None and field != "original_budget_amount":
            values[field] = None
            continue
        try:
            values[field] = money.to_text(money.parse_amount(raw))
        except money.MoneyError as exc:
            errors.append(f"{field}: {exc}")
    for field in ("uom", "description"):
        if field in item:
            raw = item[field]
            if raw is not None and not isinstance(raw, str):
                errors.append(f"{field}: must be a string")
            else:
                values[field] = raw
    if "calculation_strategy" in item:
        if item["calculation_strategy"] not in STRATEGIES:
            errors.append("calculation_strategy: must be manual or automatic")
        else:
            values["calculation_strategy"] = item["calculation_strategy"]
    sets_amount = "original_budget_amount" in item
    if values["calculation_strategy"] == "automatic" and not errors:
        if values["quantity"] is None or values["unit_cost"] is None:
            errors.append("calculation_strategy: automatic needs quantity and unit_cost")
        else:
            with localcontext() as ctx:
                ctx.prec = 100
                product = Decimal(values["quantity"]) * Decimal(values["unit_cost"])
            if Decimal(str(values["original_budget_amount"])) != product:
                values["original_budget_amount"] = money.to_text(product)
                sets_amount = True
    return values, sets_amount


def _id_of(value: Any, field: str, errors: list[str]) -> int | None:
    if value is None or value == "":
        errors.append(f"{field}: can't be blank")
        return None
    try:
        if isinstance(value, bool):
            raise TypeError(field)
        return int(value)
    except (TypeError, ValueError):
        errors.append(f"{field}: is invalid")
        return None


def _fail(errors: list[str]) -> ApiError:
    return unprocessable("; ".join(dict.fromkeys(errors)))


# ---- v1 single-line writes -----------------------------------------------------------------------

def _pair_errors(conn: sqlite3.Connection, project: sqlite3.Row, cc_id: int | None, lit_id: int | None,
                 errors: list[str]) -> None:
    if cc_id is not None and conn.execute("SELECT 1 FROM cost_codes WHERE id = ? AND project_id = ?",
                                          (cc_id, project["id"])).fetchone() is None:
        errors.append("cost_code_id: is invalid")
    if lit_id is not None and conn.execute("SELECT 1 FROM line_item_types WHERE id = ? AND company_id = ?",
                                           (lit_id, project["company_id"])).fetchone() is None:
        errors.append("line_item_type_id: is invalid")


def line_item_of(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("budget_line_item"), dict):
        raise bad_request("budget_line_item is missing")
    return body["budget_line_item"]


def create(db: Database, project: sqlite3.Row, item: dict[str, Any]) -> dict[str, Any]:
    """`POST /budget_line_items`: cost_code_id + line_item_type_id name the WBS code (created if new)."""
    errors: list[str] = []
    cc_id = _id_of(item.get("cost_code_id"), "cost_code_id", errors)
    lit_id = _id_of(item.get("line_item_type_id"), "line_item_type_id", errors)
    with db.tx() as conn:
        _pair_errors(conn, project, cc_id, lit_id, errors)
        values, sets_amount = _parse_fields(item, None, errors)
        if errors:
            raise _fail(errors)
        if project["budget_locked"] and sets_amount:
            raise unprocessable(LOCKED)
        wbs_id = wbs.ensure(db, conn, project["id"], cc_id, lit_id)  # type: ignore[arg-type]
        if conn.execute("SELECT 1 FROM budget_line_items WHERE wbs_code_id = ?", (wbs_id,)).fetchone():
            raise unprocessable(DUPLICATE)
        (line_id,) = db.allocate_ids(conn, 1)
        stamp = now_iso()
        row = {**values, "id": line_id, "project_id": project["id"], "wbs_code_id": wbs_id,
               "created_at": stamp, "updated_at": stamp}
        conn.execute(f"INSERT INTO budget_line_items ({', '.join(LINE_COLUMNS)}) "
                     f"VALUES ({', '.join('?' for _ in LINE_COLUMNS)})", tuple(row[c] for c in LINE_COLUMNS))
        return v1(get_row(conn, project["id"], line_id))


def update(db: Database, project: sqlite3.Row, line_id: int, item: dict[str, Any]) -> dict[str, Any]:
    """`PATCH /budget_line_items/{id}`: budget fields, or a move to another cost code / cost type."""
    errors: list[str] = []
    with db.tx() as conn:
        current = get_row(conn, project["id"], line_id)
        cc_id, lit_id = current["cost_code_id"], current["line_item_type_id"]
        if "cost_code_id" in item:
            cc_id = _id_of(item["cost_code_id"], "cost_code_id", errors)
        if "line_item_type_id" in item:
            lit_id = _id_of(item["line_item_type_id"], "line_item_type_id", errors)
        _pair_errors(conn, project, cc_id, lit_id, errors)
        values, sets_amount = _parse_fields(item, {k: current[k] for k in (
            "original_budget_amount", "uom", "quantity", "unit_cost", "calculation_strategy", "description")}, errors)
        if errors:
            raise _fail(errors)
        if project["budget_locked"] and sets_amount:
            raise unprocessable(LOCKED)
        wbs_id = current["wbs_code_id"]
        if (cc_id, lit_id) != (current["cost_code_id"], current["line_item_type_id"]):
            wbs_id = wbs.ensure(db, conn, project["id"], cc_id, lit_id)  # type: ignore[arg-type]
            if conn.execute("SELECT 1 FROM budget_line_items WHERE wbs_code_id = ? AND id != ?",
                            (wbs_id, line_id)).fetchone():
                raise unprocessable(DUPLICATE)
        conn.execute("UPDATE budget_line_items SET wbs_code_id = ?, original_budget_amount = ?, uom = ?, quantity = ?, "
                     "unit_cost = ?, calculation_strategy = ?, description = ?, updated_at = ? WHERE id = ?",
                     (wbs_id, values["original_budget_amount"], values["uom"], values["quantity"], values["unit_cost"],
                      values["calculation_strategy"], values["description"], now_iso(), line_id))
        return v1(get_row(conn, project["id"], line_id))


def delete(db: Database, project: sqlite3.Row, line_id: int) -> None:
    with db.tx() as conn:
        get_row(conn, project["id"], line_id)
        if project["budget_locked"]:
            raise unprocessable(LOCKED)
        conn.execute("DELETE FROM budget_line_items WHERE id = ?", (line_id,))


# ---- v1 bulk sync --------------------------------------------------------------------------------

def sync(db: Database, project: sqlite3.Row, body: Any) -> list[dict[str, Any]]:
    """`POST /budget_line_items/sync`: all items valid -> all applied in one transaction, else 422 and nothing.

    Every item names its WBS code; an item with `id` updates that line, whose WBS code it must repeat
    (a line does not move by sync); one without creates a line for its WBS code."""
    if not isinstance(body, dict) or "budget_line_items" not in body:
        raise bad_request("budget_line_items is missing")
    items = body["budget_line_items"]
    if not isinstance(items, list):
        raise bad_request("budget_line_items is invalid")
    if len(items) > MAX_SYNC_ITEMS:
        raise unprocessable(f"budget_line_items: at most {MAX_SYNC_ITEMS} items are allowed per sync call "
                            f"(got {len(items)})")
    project_id = project["id"]
    locked = bool(project["budget_locked"])
    stamp = now_iso()
    with db.tx() as conn:
        state = {r["id"]: dict(r) for r in conn.execute(
            "SELECT * FROM budget_line_items WHERE project_id = ?", (project_id,))}
        owner: dict[int, int | str] = {r["wbs_code_id"]: r["id"] for r in state.values()}
        wanted = {i["wbs_code_id"] for i in items if isinstance(i, dict) and type(i.get("wbs_code_id")) is int}
        valid_wbs = {r["id"] for r in select_in(conn, "SELECT id FROM wbs_codes WHERE project_id = ? AND id IN ({marks})",
                                                sorted(wanted), project_id)}
        problems: list[str] = []
        creates: list[dict[str, Any]] = []
        updated: list[int] = []
        order: list[tuple[str, int]] = []
        for index, item in enumerate(items):
            errors: list[str] = []
            if not isinstance(item, dict):
                problems.append("budget_line_items: each item must be an object")
                continue
            wbs_id = _id_of(item.get("wbs_code_id"), "wbs_code_id", errors)
            if wbs_id is not None and wbs_id not in valid_wbs:
                errors.append("wbs_code_id: is invalid")
            current = None
            if item.get("id") is not None:
                line_id = _id_of(item["id"], "id", errors)
                current = state.get(line_id) if line_id is not None else None
                if line_id is not None and current is None:
                    errors.append(f"id: Budget Line Item {line_id} not found in this project")
                elif current is not None and wbs_id is not None and current["wbs_code_id"] != wbs_id:
                    errors.append(MISMATCH)
            values, sets_amount = _parse_fields(item, current, errors)
            if locked and sets_amount:
                errors.append(LOCKED)
            me: int | str = current["id"] if current is not None else f"new:{index}"
            if wbs_id is not None and not errors and owner.get(wbs_id, me) != me:
                errors.append(DUPLICATE)
            if errors:
                problems.extend(errors)
                continue
            owner[wbs_id] = me  # type: ignore[index]
            if current is not None:
                current.update(values, updated_at=stamp)
                updated.append(current["id"])
                order.append(("id", current["id"]))
            else:
                creates.append({**values, "project_id": project_id, "wbs_code_id": wbs_id,
                                "created_at": stamp, "updated_at": stamp})
                order.append(("new", len(creates) - 1))
        if problems:
            raise unprocessable("; ".join(dict.fromkeys(problems)))
        for row, new_id in zip(creates, db.allocate_ids(conn, len(creates)) if creates else []):
            row["id"] = new_id
        conn.executemany(f"INSERT INTO budget_line_items ({', '.join(LINE_COLUMNS)}) "
                         f"VALUES ({', '.join('?' for _ in LINE_COLUMNS)})",
                         [tuple(r[c] for c in LINE_COLUMNS) for r in creates])
        conn.executemany("UPDATE budget_line_items SET original_budget_amount = ?, uom = ?, "
                         "quantity = ?, unit_cost = ?, calculation_strategy = ?, description = ?, updated_at = ? "
                         "WHERE id = ?",
                         [(r["original_budget_amount"], r["uom"], r["quantity"], r["unit_cost"],
                           r["calculation_strategy"], r["description"], r["updated_at"], r["id"])
                          for r in (state[i] for i in dict.fromkeys(updated))])
        ids = [ref if kind == "id" else creates[ref]["id"] for kind, ref in order]
        rows = fetch_rows(conn, ids)
        return [synced(rows[i]) for i in ids]
