"""`/_emulator/*`: the emulator-only control API for tests and the benchmark (no auth, never in Procore)."""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from . import fixture
from .emulator import Emulator
from .errors import ApiError, bad_request, not_found
from .faults import FaultConfig
from .jsonio import ExactJSONResponse, json_body
from .ratelimit import Limits

router = APIRouter(prefix="/_emulator")


def emu_of(request: Request) -> Emulator:
    return request.app.state.emu


@router.get("/health")
def health(request: Request) -> ExactJSONResponse:
    return ExactJSONResponse({"ok": True, "db": str(emu_of(request).settings.db_path)})


@router.post("/reset")
async def reset(request: Request, body: Any = Depends(json_body)) -> ExactJSONResponse:
    """Re-seed from the server's fixture, or from the fixture JSON given as the body."""
    emu = emu_of(request)
    if body is None:
        if emu.settings.fixture_path is None:
            raise bad_request("no fixture: start the server with --fixture or send a fixture as the body")
        body = fixture.read(emu.settings.fixture_path)
    try:
        counts = await run_in_threadpool(emu.seed, body)
    except fixture.FixtureError as exc:
        raise ApiError(422, {"errors": str(exc)}) from None
    return ExactJSONResponse({"reset": True, "counts": counts})


@router.get("/state")
def state(request: Request) -> ExactJSONResponse:
    """A project's budget lines as plain strings (what a test compares); without project_id, counts and projects."""
    emu = emu_of(request)
    raw = request.query_params.get("project_id")
    with emu.db.read() as conn:
        if not raw:
            counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in
                      ("companies", "projects", "cost_codes", "line_item_types", "wbs_codes", "budget_line_items")}
            listed = [{"id": r["id"], "company_id": r["company_id"], "name": r["name"], "origin_id": r["origin_id"]}
                      for r in conn.execute("SELECT * FROM projects ORDER BY company_id, id")]
            return ExactJSONResponse({"counts": counts, "projects": listed})
        try:
            project_id = int(raw)
        except ValueError:
            raise bad_request("project_id is invalid") from None
        project = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
        if project is None:
            raise not_found(f"Project {project_id} not found")
        lines = conn.execute(
            "SELECT b.id, cc.full_code AS cost_code, l.code AS line_item_type, b.original_budget_amount, "
            "b.wbs_code_id FROM budget_line_items b JOIN wbs_codes w ON w.id = b.wbs_code_id "
            "JOIN cost_codes cc ON cc.id = w.cost_code_id JOIN line_item_types l ON l.id = w.line_item_type_id "
            "WHERE b.project_id = ? ORDER BY cc.full_code, l.code, b.id", (project_id,)).fetchall()
    return ExactJSONResponse({
        "project_id": project_id, "company_id": project["company_id"],
        "budget_locked": bool(project["budget_locked"]), "budget_tool_active": bool(project["budget_tool_active"]),
        "active": bool(project["active"]),
        "budget_line_items": [{"id": r["id"], "cost_code": r["cost_code"], "line_item_type": r["line_item_type"],
                               "original_budget_amount": r["original_budget_amount"], "wbs_code_id": r["wbs_code_id"]}
                              for r in lines],
    })


@router.get("/faults")
def get_faults(request: Request) -> ExactJSONResponse:
    return ExactJSONResponse(emu_of(request).faults.snapshot())


@router.put("/faults")
def put_faults(request: Request, body: Any = Depends(json_body)) -> ExactJSONResponse:
    """Replace the whole fault config (an empty object turns every fault off) and re-seed the RNG."""
    try:
        config = FaultConfig.from_dict(_plain(body or {}))
    except (TypeError, ValueError) as exc:
        raise ApiError(422, {"errors": str(exc)}) from None
    emu_of(request).faults.configure(config)
    return ExactJSONResponse(emu_of(request).faults.snapshot())


@router.get("/limits")
def get_limits(request: Request) -> ExactJSONResponse:
    return ExactJSONResponse(emu_of(request).limiter.limits.to_dict())


@router.put("/limits")
def put_limits(request: Request, body: Any = Depends(json_body)) -> ExactJSONResponse:
    """Change some or all limits (missing keys keep their value); counters start afresh."""
    emu = emu_of(request)
    if body is not None and not isinstance(body, dict):
        raise ApiError(422, {"errors": "limits must be a JSON object"})
    try:
        limits = Limits.from_dict(_plain(body or {}), emu.limiter.limits)
    except ValueError as exc:
        raise ApiError(422, {"errors": str(exc)}) from None
    emu.limiter.configure(limits)
    return ExactJSONResponse(limits.to_dict())


@router.put("/projects/{project_id}")
def put_project(project_id: int, request: Request, body: Any = Depends(json_body)) -> ExactJSONResponse:
    """Set budget_locked / budget_tool_active / active on a project, bypassing the API's rules."""
    allowed = ("budget_locked", "budget_tool_active", "active")
    if not isinstance(body, dict) or not body or set(body) - set(allowed) \
            or any(not isinstance(v, bool) for v in body.values()):
        raise ApiError(422, {"errors": f"body must be an object of booleans with keys from {allowed}"})
    emu = emu_of(request)
    with emu.db.tx() as conn:
        for key, value in body.items():
            if conn.execute(f"UPDATE projects SET {key} = ? WHERE id = ?", (int(value), project_id)).rowcount == 0:
                raise not_found(f"Project {project_id} not found")
        row = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
    return ExactJSONResponse({"id": project_id, **{k: bool(row[k]) for k in allowed}})


@router.get("/requests")
def get_requests(request: Request) -> ExactJSONResponse:
    """The request log, optionally filtered by method, path substring and `since` (a seq number)."""
    params = request.query_params
    try:
        since = int(params.get("since") or 0)
    except ValueError:
        raise bad_request("since is invalid") from None
    return ExactJSONResponse(emu_of(request).log.entries(params.get("method"), params.get("path_contains"), since))


@router.delete("/requests")
def clear_requests(request: Request) -> ExactJSONResponse:
    return ExactJSONResponse({"cleared": emu_of(request).log.clear()})


@router.get("/contract")
def get_contract(request: Request) -> ExactJSONResponse:
    """The contract check's mode, how many calls it checked and the violations (after seq `since`)."""
    try:
        since = int(request.query_params.get("since") or 0)
    except ValueError:
        raise bad_request("since is invalid") from None
    return ExactJSONResponse(emu_of(request).contract.report(since))


@router.delete("/contract")
def clear_contract(request: Request) -> ExactJSONResponse:
    return ExactJSONResponse({"cleared": emu_of(request).contract.clear()})


@router.post("/tokens/expire")
def expire_tokens(request: Request) -> ExactJSONResponse:
    """Make every issued token expire now, to test a client's re-authentication."""
    emu = emu_of(request)
    return ExactJSONResponse({"expired": emu.tokens.expire_all(time.time())})


def _plain(data: Any) -> Any:
    """Admin bodies are parsed with Decimals; settings want plain floats."""
    from decimal import Decimal

    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return float(data) if isinstance(data, Decimal) else data
