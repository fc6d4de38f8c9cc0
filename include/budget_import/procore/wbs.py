"""Procore's work breakdown structure as a budget import sees it: a WBS code is the pair
(cost code, cost type) of a project, built from one segment item of each of two segments.

Segments are told apart by their `type` (`cost_code`, `line_item_type`), never by their display
`name`, which Procore translates. A segment item names its segment as a nested object.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from include.budget_import.procore.errors import ProcoreValidationError

COST_CODE = "cost_code"
LINE_ITEM_TYPE = "line_item_type"
CODE_TIER_DELIMITER = "-"  # guess: how Procore's full_code joins a tiered cost code's path (e.g. "02-300")


def segment_ids(segments: list[dict[str, Any]], project_id: int) -> dict[str, int]:
    """{"cost_code": id, "line_item_type": id} of a project's WBS segments."""
    found = {str(s.get("type")): int(s["id"]) for s in segments if s.get("type") in (COST_CODE, LINE_ITEM_TYPE)}
    lacking = [kind for kind in (COST_CODE, LINE_ITEM_TYPE) if kind not in found]
    if lacking:
        raise ProcoreValidationError(422, f"the project's WBS has no segment of type {', '.join(lacking)}: budget lines cannot be coded",
                                     method="GET", path="work_breakdown_structure/segments", project_id=project_id)
    return found


def segment_item_key(item: dict[str, Any], kind: str) -> str | None:
    """The code a segment item stands for: a cost code's full code, a cost type's code. `path_code` is
    the item's code with its parents'; where only `path_codes` is given they are joined (a guess)."""
    if kind == COST_CODE:
        path = item.get("path_code")
        if not path and isinstance(item.get("path_codes"), list) and item["path_codes"]:
            path = CODE_TIER_DELIMITER.join(str(c) for c in item["path_codes"])
        value = path or item.get("code")
    else:
        value = item.get("code")
    return str(value) if value not in (None, "") else None


def _kind_of(item: dict[str, Any], segments: dict[str, int]) -> str | None:
    segment = item.get("segment")
    if isinstance(segment, dict):
        if segment.get("type") in (COST_CODE, LINE_ITEM_TYPE):
            return str(segment["type"])
        by_id = {v: k for k, v in segments.items()}
        if segment.get("id") is not None:
            return by_id.get(int(segment["id"]))
    return None


def pair_of(wbs_code: dict[str, Any], segments: dict[str, int]) -> tuple[str, str] | None:
    """(cost code, cost type) of a WBS code, or None when it is not exactly one of each."""
    codes: dict[str, str] = {}
    for item in wbs_code.get("segment_items") or []:
        kind = _kind_of(item, segments) if isinstance(item, dict) else None
        key = segment_item_key(item, kind) if kind else None
        if kind and key:
            codes[kind] = key
    if COST_CODE in codes and LINE_ITEM_TYPE in codes:
        return (codes[COST_CODE], codes[LINE_ITEM_TYPE])
    return None


class WbsIndex:
    """Both ways between (cost code, cost type) and wbs_code_id, as far as this job has seen them."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], int] = {}
        self._by_id: dict[int, tuple[str, str]] = {}

    def add(self, key: tuple[str, str], wbs_code_id: int) -> None:
        self._by_key[key] = wbs_code_id
        self._by_id[wbs_code_id] = key

    def add_codes(self, wbs_codes: Iterable[dict[str, Any]], segments: dict[str, int]) -> None:
        for wbs in wbs_codes:
            key = pair_of(wbs, segments) if isinstance(wbs, dict) and wbs.get("id") is not None else None
            if key is not None:
                self.add(key, int(wbs["id"]))

    def known(self) -> set[tuple[str, str]]:
        return set(self._by_key)

    def id_of(self, key: tuple[str, str]) -> int:
        return self._by_key[key]

    def key_of(self, wbs_code_id: int) -> tuple[str, str] | None:
        return self._by_id.get(wbs_code_id)
