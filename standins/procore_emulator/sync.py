"""Procore's generic `/sync` rules, shared by cost codes and line item types.

Per item: `id` -> update that entity (unknown id -> "Entity with this ID not found"); else
`origin_id` -> update the entity holding it or create one; else create. `origin_id` is unique per
company and `code` unique per scope. Valid items apply, invalid ones come back with `errors`;
the whole call is one transaction. At most 1000 items per call.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import bad_request, unprocessable

MAX_SYNC_ITEMS = 1000
NOT_FOUND = "Entity with this ID not found"
TAKEN = "has already been taken"
BLANK = "can't be blank"

Errors = dict[str, list[str]]


def updates_of(body: Any, key: str = "updates") -> list[Any]:
    """The list of items in a sync body; 400 when missing, 422 when over the batch limit."""
    if not isinstance(body, dict) or key not in body:
        raise bad_request(f"{key} is missing")
    items = body[key]
    if not isinstance(items, list):
        raise bad_request(f"{key} is invalid")
    if len(items) > MAX_SYNC_ITEMS:
        raise unprocessable(f"{key}: at most {MAX_SYNC_ITEMS} items are allowed per sync call (got {len(items)})")
    return items


def text_or_none(value: Any) -> str | None:
    """Free-form string fields: numbers become their text, other JSON its JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, default=str)


class SyncBatch:
    """In-memory view of the entities one sync call can touch, with Procore's matching rules.

    `rows` are the entities of the scope (a project's cost codes, a company's line item types);
    `origins` maps every relevant origin_id in the company to (entity id, scope id).
    """

    def __init__(self, scope_id: int, rows: list[dict[str, Any]], origins: dict[str, tuple[int, int]],
                 new_id: Callable[[], int]) -> None:
        self.scope_id = scope_id
        self.by_id = {r["id"]: r for r in rows}
        self.by_code = {r["code"]: r["id"] for r in rows}
        self.origins = dict(origins)
        self.new_id = new_id
        self.created: list[int] = []
        self.changed: set[int] = set()
        self.errors: list[dict[str, Any]] = []
        self.touched: list[int] = []

    def resolve(self, item: dict[str, Any]) -> tuple[dict[str, Any] | None, Errors]:
        """Find the entity an item targets (None = create) or say why it cannot."""
        raw_id = item.get("id")
        origin = text_or_none(item.get("origin_id"))
        if raw_id is not None:
            try:
                entity = self.by_id.get(int(raw_id))
            except (TypeError, ValueError):
                return None, {"id": ["is invalid"]}
            if entity is None:
                return None, {"id": [NOT_FOUND]}
            return entity, {}
        if origin is not None and origin in self.origins:
            entity_id, scope = self.origins[origin]
            if scope != self.scope_id or entity_id not in self.by_id:
                return None, {"origin_id": [TAKEN]}
            return self.by_id[entity_id], {}
        return None, {}

    def check(self, merged: dict[str, Any], target: dict[str, Any] | None) -> Errors:
        """Blank code/name and the code and origin_id uniqueness rules."""
        errors: Errors = {}
        own_id = target["id"] if target else None
        for field in ("code", "name"):
            if not merged.get(field):
                errors.setdefault(field, []).append(BLANK)
        holder = self.by_code.get(merged.get("code") or "")
        if merged.get("code") and holder is not None and holder != own_id:
            errors.setdefault("code", []).append(TAKEN)
        origin = merged.get("origin_id")
        if origin is not None and origin in self.origins and self.origins[origin][0] != own_id:
            errors.setdefault("origin_id", []).append(TAKEN)
        return errors

    def reject(self, item: Any, errors: Errors) -> None:
        base = item if isinstance(item, dict) else {"item": item}
        self.errors.append({**base, "errors": errors})

    def apply(self, merged: dict[str, Any], target: dict[str, Any] | None) -> dict[str, Any]:
        """Record a valid create or update in the in-memory maps; SQL is written once at the end."""
        if target is None:
            merged["id"] = self.new_id()
            self.created.append(merged["id"])
        else:
            if target["code"] != merged["code"] and self.by_code.get(target["code"]) == target["id"]:
                del self.by_code[target["code"]]
            if target.get("origin_id") is not None and target["origin_id"] != merged.get("origin_id"):
                self.origins.pop(target["origin_id"], None)
            self.changed.add(merged["id"])
        self.by_id[merged["id"]] = merged
        self.by_code[merged["code"]] = merged["id"]
        if merged.get("origin_id") is not None:
            self.origins[merged["origin_id"]] = (merged["id"], self.scope_id)
        self.touched.append(merged["id"])
        return merged

    def merge(self, item: dict[str, Any], target: dict[str, Any] | None, fields: tuple[str, ...],
              defaults: dict[str, Any]) -> dict[str, Any]:
        merged = dict(target) if target is not None else {"id": None, **defaults}
        for field in fields:
            if field in item:
                value = item[field]
                merged[field] = value.strip() if isinstance(value, str) and field in ("code", "name") else \
                    text_or_none(value) if field in ("origin_id", "origin_data", "code", "name") else value
        return merged
