"""Load a seed fixture (the JSON format other parts of the project generate) into table rows.

Ids are optional; missing ones come from a sequence that starts above 2**32 (and above every
explicit id), because real Procore ids do not fit in 32 bits and clients must cope with that.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import money
from .store import FIRST_AUTO_ID, now_iso

PERMISSIONS = ("admin", "standard", "read_only", "none")
SEGMENT_NAMES = {"cost_code": "Cost Code", "line_item_type": "Cost Type"}  # English; a company may translate them
DEFAULT_VIEW = {"name": "Procore Standard Budget", "description": "Standard budget view"}
Rows = tuple[Sequence[str], list[Sequence[Any]]]


class FixtureError(ValueError):
    """The fixture breaks the format or one of Procore's uniqueness rules."""


def read(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _explicit_ids(fixture: dict[str, Any]) -> Iterator[int]:
    for company in fixture.get("companies", []):
        yield company.get("id") or 0
        for key in ("line_item_types", "budget_views"):
            for item in company.get(key, []) or []:
                yield item.get("id") or 0
        for project in company.get("projects", []) or []:
            yield project.get("id") or 0
            for key in ("cost_codes", "budget_line_items"):
                for item in project.get(key, []) or []:
                    yield item.get("id") or 0


def _text(value: Any) -> str | None:
    """origin_data and similar free-form fields are strings in Procore; other JSON is kept as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _required(item: dict[str, Any], key: str, where: str) -> Any:
    value = item.get(key)
    if value is None or value == "":
        raise FixtureError(f"{where}: '{key}' is required")
    return value


def _amount(value: Any, where: str) -> str | None:
    if value is None:
        return None
    try:
        return money.to_text(money.parse_amount(value))
    except money.MoneyError as exc:
        raise FixtureError(f"{where}: {exc}") from None


def build(fixture: dict[str, Any]) -> tuple[dict[str, Rows], int]:
    """Turn a fixture into rows per table plus the next free id. Raises FixtureError on bad input."""
    if not isinstance(fixture, dict) or not isinstance(fixture.get("companies"), list):
        raise FixtureError("fixture must be an object with a 'companies' list")
    top = max(itertools.chain([FIRST_AUTO_ID - 1], (int(i) for i in _explicit_ids(fixture))))
    counter = itertools.count(top + 1)
    seen_ids: set[int] = set()
    stamp = now_iso()

    def take_id(item: dict[str, Any], where: str) -> int:
        raw = item.get("id")
        ident = next(counter) if raw is None else int(raw)
        if ident in seen_ids:
            raise FixtureError(f"{where}: id {ident} is used twice")
        seen_ids.add(ident)
        return ident

    companies: list[Sequence[Any]] = []
    views: list[Sequence[Any]] = []
    clients: list[Sequence[Any]] = []
    projects: list[Sequence[Any]] = []
    lits: list[Sequence[Any]] = []
    cost_codes: list[Sequence[Any]] = []
    wbs: list[Sequence[Any]] = []
    lines: list[Sequence[Any]] = []
    client_ids: set[tuple[str, int]] = set()
    client_secrets: dict[str, str] = {}

    for c_index, company in enumerate(fixture["companies"]):
        where = f"companies[{c_index}]"
        company_id = take_id(company, where)
        names = company.get("wbs_segment_names") or {}
        if not isinstance(names, dict) or set(names) - set(SEGMENT_NAMES) \
                or not all(isinstance(v, str) and v for v in names.values()):
            raise FixtureError(f"{where}: wbs_segment_names must map cost_code / line_item_type to names")
        names = {**SEGMENT_NAMES, **names}
        companies.append((company_id, _required(company, "name", where), names["cost_code"], names["line_item_type"]))
        company_views = company.get("budget_views")
        if company_views is None:
            company_views = [dict(DEFAULT_VIEW)]
        if not isinstance(company_views, list) or not company_views:
            raise FixtureError(f"{where}: budget_views must be a non-empty list")
        for v_index, view in enumerate(company_views):
            vwhere = f"{where}.budget_views[{v_index}]"
            if not isinstance(view, dict):
                raise FixtureError(f"{vwhere}: must be an object")
            views.append((take_id(view, vwhere), company_id, str(_required(view, "name", vwhere)),
                          view.get("description"), stamp, stamp))
        company_origins: dict[str, set[str]] = {"cost_code": set(), "line_item_type": set()}

        for client in company.get("clients", []) or []:
            # One app (client id) may be installed in several companies, as in Procore, with one secret.
            cid = _required(client, "client_id", f"{where}.clients")
            secret = _required(client, "client_secret", f"{where}.clients")
            if (cid, company_id) in client_ids:
                raise FixtureError(f"{where}.clients: client_id {cid!r} is listed twice in this company")
            if client_secrets.setdefault(cid, secret) != secret:
                raise FixtureError(f"{where}.clients: client_id {cid!r} has another secret in another company")
            client_ids.add((cid, company_id))
            permission = client.get("permission", "standard")
            if permission not in PERMISSIONS:
                raise FixtureError(f"{where}.clients: permission must be one of {PERMISSIONS}")
            clients.append((cid, secret, company_id, permission))

        lit_by_code: dict[str, int] = {}
        lit_ids: set[int] = set()
        for l_index, lit in enumerate(company.get("line_item_types", []) or []):
            lwhere = f"{where}.line_item_types[{l_index}]"
            lit_id = take_id(lit, lwhere)
            code = str(_required(lit, "code", lwhere))
            if code in lit_by_code:
                raise FixtureError(f"{lwhere}: code {code!r} is used twice in the company")
            origin = lit.get("origin_id")
            if origin is not None:
                if origin in company_origins["line_item_type"]:
                    raise FixtureError(f"{lwhere}: origin_id {origin!r} is used twice in the company")
                company_origins["line_item_type"].add(origin)
            lit_by_code[code] = lit_id
            lit_ids.add(lit_id)
            lits.append((lit_id, company_id, code, _required(lit, "name", lwhere), lit.get("base_type") or "other",
                         _text(origin), _text(lit.get("origin_data")), stamp, stamp, next(counter)))

        for p_index, project in enumerate(company.get("projects", []) or []):
            pwhere = f"{where}.projects[{p_index}]"
            project_id = take_id(project, pwhere)
            projects.append((project_id, company_id, _required(project, "name", pwhere), project.get("project_number"),
                             _text(project.get("origin_id")), _text(project.get("origin_data")),
                             int(bool(project.get("active", True))), int(bool(project.get("budget_tool_active", True))),
                             int(bool(project.get("budget_locked", False)))))

            code_rows: dict[str, list[Any]] = {}
            cc_ids: dict[int, list[Any]] = {}
            for k_index, cc in enumerate(project.get("cost_codes", []) or []):
                kwhere = f"{pwhere}.cost_codes[{k_index}]"
                cc_id = take_id(cc, kwhere)
                code = str(_required(cc, "code", kwhere))
                if code in code_rows:
                    raise FixtureError(f"{kwhere}: code {code!r} is used twice in the project")
                origin = cc.get("origin_id")
                if origin is not None:
                    if origin in company_origins["cost_code"]:
                        raise FixtureError(f"{kwhere}: origin_id {origin!r} is used twice in the company")
                    company_origins["cost_code"].add(origin)
                row = [cc_id, company_id, project_id, code, code, _required(cc, "name", kwhere),
                       cc.get("parent_id"), _text(origin), _text(cc.get("origin_data")), stamp, stamp, next(counter)]
                code_rows[code] = row
                cc_ids[cc_id] = row
                row.append(cc.get("parent_code"))
            for row in code_rows.values():
                parent_code = row.pop()
                if parent_code is not None:
                    if parent_code not in code_rows:
                        raise FixtureError(f"{pwhere}: parent_code {parent_code!r} is not a cost code of the project")
                    row[6] = code_rows[parent_code][0]
                elif row[6] is not None and row[6] not in cc_ids:
                    raise FixtureError(f"{pwhere}: parent_id {row[6]} is not a cost code of the project")
            for row in code_rows.values():  # full_code = parent's full_code + "-" + code (guess, see README)
                chain, parent, hops = [row[3]], row[6], 0
                while parent is not None and hops < 100:
                    chain.append(cc_ids[parent][3])
                    parent, hops = cc_ids[parent][6], hops + 1
                row[4] = "-".join(reversed(chain))
                cost_codes.append(tuple(row))

            pairs: set[tuple[int, int]] = set()
            for b_index, line in enumerate(project.get("budget_line_items", []) or []):
                bwhere = f"{pwhere}.budget_line_items[{b_index}]"
                line_id = take_id(line, bwhere)
                if line.get("cost_code_id") is not None:
                    cc_id = int(line["cost_code_id"])
                    if cc_id not in cc_ids:
                        raise FixtureError(f"{bwhere}: cost_code_id {cc_id} is not in the project")
                else:
                    code = str(_required(line, "cost_code", bwhere))
                    if code not in code_rows:
                        raise FixtureError(f"{bwhere}: cost_code {code!r} is not a cost code of the project")
                    cc_id = code_rows[code][0]
                if line.get("line_item_type_id") is not None:
                    lit_id = int(line["line_item_type_id"])
                    if lit_id not in lit_ids:
                        raise FixtureError(f"{bwhere}: line_item_type_id {lit_id} is not in the company")
                else:
                    lcode = str(_required(line, "line_item_type", bwhere))
                    if lcode not in lit_by_code:
                        raise FixtureError(f"{bwhere}: line_item_type {lcode!r} is not a line item type of the company")
                    lit_id = lit_by_code[lcode]
                if (cc_id, lit_id) in pairs:
                    raise FixtureError(f"{bwhere}: wbs_code_id: This Budget Code already exists")
                pairs.add((cc_id, lit_id))
                strategy = line.get("calculation_strategy") or "manual"
                if strategy not in ("manual", "automatic"):
                    raise FixtureError(f"{bwhere}: calculation_strategy must be manual or automatic")
                wbs_id = next(counter)
                wbs.append((wbs_id, project_id, cc_id, lit_id, line.get("description"), "active", stamp, stamp))
                amount = _amount(line.get("original_budget_amount", "0"), bwhere) or "0"
                lines.append((line_id, project_id, wbs_id, amount, line.get("uom"),
                              _amount(line.get("quantity"), bwhere), _amount(line.get("unit_cost"), bwhere),
                              strategy, line.get("description"), stamp, stamp))

    tables: dict[str, Rows] = {
        "companies": (("id", "name", "cost_code_segment_name", "cost_type_segment_name"), companies),
        "budget_views": (("id", "company_id", "name", "description", "created_at", "updated_at"), views),
        "clients": (("client_id", "client_secret", "company_id", "permission"), clients),
        "projects": (("id", "company_id", "name", "project_number", "origin_id", "origin_data", "active",
                      "budget_tool_active", "budget_locked"), projects),
        "line_item_types": (("id", "company_id", "code", "name", "base_type", "origin_id", "origin_data",
                             "created_at", "updated_at", "segment_item_id"), lits),
        "cost_codes": (("id", "company_id", "project_id", "code", "full_code", "name", "parent_id", "origin_id",
                        "origin_data", "created_at", "updated_at", "segment_item_id"), cost_codes),
        "wbs_codes": (("id", "project_id", "cost_code_id", "line_item_type_id", "description", "status",
                       "created_at", "updated_at"), wbs),
        "budget_line_items": (("id", "project_id", "wbs_code_id", "original_budget_amount", "uom", "quantity",
                               "unit_cost", "calculation_strategy", "description", "created_at", "updated_at"), lines),
    }
    return tables, next(counter)
