"""Load a merge plan into one Procore project, converging on the intended budget.

Every round re-plans against Procore's budget as it stands: after a round whose writes were all
answered, Procore's answers are that budget (no re-read needed); after a write whose outcome was
unknown (timeout, lost response, 5xx) or refused because a line already existed, the budget is read
again, so nothing is written twice and a crash mid-load is repaired by the next run.

Facts every job of a run shares about a Procore company (its line item types, its budget view) can be
kept in a `CompanyFacts` store, so a run reads them once per company instead of once per job.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from include.budget_import.money import MoneyError, money_number, parse_money
from include.budget_import.plan import DesiredLine, ExistingLine, MergePlan, plan_merge
from include.budget_import.prerequisites import JobBlockedError
from include.budget_import.procore.api import ProcoreBudgetApi, batches
from include.budget_import.procore.errors import (
    AmbiguousWriteError,
    ProcoreNotFoundError,
    ProcorePermissionError,
    ProcoreValidationError,
)
from include.budget_import.procore.permissions import budget_access
from include.budget_import.procore.wbs import (
    COST_CODE,
    LINE_ITEM_TYPE,
    WbsIndex,
    segment_ids,
    segment_item_key,
)


class CompanyFacts(Protocol):
    """Shared, per-company facts of one run: `get` answers None for what it does not hold."""

    def get(self, name: str) -> Any: ...

    def put(self, name: str, value: Any) -> None: ...

log = logging.getLogger(__name__)

MAX_ROUNDS = 6
NEW = "(to be created)"  # placeholder id for a code a dry run would create


class LoadIncompleteError(RuntimeError):
    """Procore's budget did not converge on the plan: the job must not be reported as loaded."""


@dataclass(frozen=True)
class ProjectTarget:
    company_code: str
    job_number: str
    company_id: int
    project_id: int

    @property
    def label(self) -> str:
        return f"Spectrum job {self.company_code}/{self.job_number} -> Procore project {self.project_id}"


@dataclass
class LoadOutcome:
    plan: MergePlan
    rounds: int = 0
    ambiguous_writes: int = 0
    final_lines: list[ExistingLine] = field(default_factory=list)
    created_cost_codes: list[str] = field(default_factory=list)
    created_line_item_types: list[str] = field(default_factory=list)


class BudgetLoader:
    def __init__(self, api: ProcoreBudgetApi, target: ProjectTarget, company_facts: CompanyFacts | None = None) -> None:
        self.api = api
        self.target = target
        self.company_facts = company_facts
        self._type_ids: dict[str, int] | None = None
        self._types_from_facts = False
        self._code_ids: dict[str, int] | None = None
        self._may_write = False
        self._wbs = WbsIndex()
        self._line_ids: dict[tuple[str, str], tuple[int | None, int | None]] = {}  # (cost code id, type id) per line read

    # --- may we write? ---------------------------------------------------------------------------
    def require_write_permission(self) -> None:
        """Before the first write of any kind (cost code, cost type, WBS code, line), and before a dry run
        calls a plan with writes ready: the article's Procore-side prerequisites for an import (Budget tool
        active, project budget unlocked) and these credentials' Standard or Admin access. Asked once per
        job and only when something is to be written: an unchanged job costs none of these three calls
        (docs/procore-client.md, "Calls per job")."""
        if self._may_write:
            return
        t = self.target
        if not self.api.budget_tool_active(t.company_id, t.project_id):
            raise JobBlockedError("budget_tool_inactive", f"(project {t.project_id})")
        if self.api.budget_locked(t.company_id, t.project_id):
            raise JobBlockedError("procore_budget_locked", f"(project {t.project_id})")
        access = budget_access(self.api.project_permissions(t.company_id, t.project_id))
        if not access.may_write:
            raise ProcorePermissionError(403, access.why_not(t.project_id), method="GET", path="/rest/v1.0/settings/permissions",
                                         project_id=t.project_id)
        self._may_write = True

    # --- mapping Spectrum codes to Procore ids ------------------------------------------------
    def line_item_type_ids(self) -> dict[str, int]:
        if self._type_ids is None:
            shared = self.company_facts.get("line_item_types") if self.company_facts is not None else None
            if isinstance(shared, dict):
                self._type_ids = {str(code): int(type_id) for code, type_id in shared.items()}
                self._types_from_facts = True
            else:
                self._read_line_item_types()
        assert self._type_ids is not None
        return self._type_ids

    def _read_line_item_types(self) -> None:
        types = self.api.line_item_types(self.target.company_id, project_id=self.target.project_id)
        self._type_ids = {str(t["code"]): int(t["id"]) for t in types if t.get("code")}
        self._types_from_facts = False
        if self.company_facts is not None:
            self.company_facts.put("line_item_types", self._type_ids)

    def cost_code_ids(self) -> dict[str, int]:
        if self._code_ids is None:
            codes = self.api.cost_codes(self.target.company_id, self.target.project_id)
            self._code_ids = {str(c.get("full_code") or c["code"]): int(c["id"]) for c in codes}
        return self._code_ids

    def ensure_line_item_types(self, needed: dict[str, str]) -> list[str]:
        """Create the company's missing line item types (sync by origin_id, so retries cannot double)."""
        missing = sorted(code for code in needed if code not in self.line_item_type_ids())
        if missing and self._types_from_facts:  # another job of the run may have created it since: ask Procore
            self._read_line_item_types()
            missing = sorted(code for code in needed if code not in self.line_item_type_ids())
        if missing:
            self.require_write_permission()
            company = self.target.company_code
            result = self.api.sync_line_item_types(
                self.target.company_id,
                [{"code": code, "name": needed[code], "origin_id": f"{company}|{code}"} for code in missing],
                project_id=self.target.project_id,
            )
            self._fail_on_sync_errors("line item types", result["errors"])
            self._type_ids = _with_synced(self._type_ids, result["entities"], missing)
            if self._type_ids is not None and self.company_facts is not None:
                self.company_facts.put("line_item_types", self._type_ids)
        return missing

    def ensure_cost_codes(self, needed: dict[str, str]) -> list[str]:
        """Create the project's missing cost codes (Spectrum phases), keyed by origin_id."""
        missing = sorted(code for code in needed if code not in self.cost_code_ids())
        if missing:
            self.require_write_permission()
            t = self.target
            result = self.api.sync_cost_codes(
                t.company_id, t.project_id,
                [{"code": code, "name": needed[code], "origin_id": cost_code_origin_id(t.company_code, t.job_number, code)} for code in missing],
            )
            self._fail_on_sync_errors("cost codes", result["errors"])
            self._code_ids = _with_synced(self._code_ids, result["entities"], missing)
        return missing

    def _fail_on_sync_errors(self, what: str, errors: list[Any]) -> None:
        if errors:
            raise ProcoreValidationError(
                422, f"Procore refused {len(errors)} {what}: {errors[:5]}", method="PATCH", path=f"{what} sync", project_id=self.target.project_id
            )

    def resolved_ids(self, desired: list[DesiredLine], dry_run: bool) -> list[dict[str, Any]]:
        """Each desired line with the Procore ids it maps to: None where Procore lacks the code (a
        failed mapping), or NEW where a dry run would have created it. A line Procore's budget already
        has is mapped by the ids its budget row names (no cost code read for an unchanged job)."""
        missing: str | None = NEW if dry_run else None
        out = []
        for d in desired:
            known: tuple[int | str | None, int | str | None] | None = self._line_ids.get(d.key)
            if known is None:
                codes, types = self.cost_code_ids(), self.line_item_type_ids()
                known = (codes.get(d.cost_code, missing), types.get(d.cost_type, missing))
            out.append({"cost_code": d.cost_code, "cost_type": d.cost_type, "cost_code_id": known[0], "line_item_type_id": known[1]})
        return out

    # --- reading the budget -------------------------------------------------------------------
    def _budget_view_id(self, shared_ok: bool = True) -> int | None:
        t = self.target
        shared = self.company_facts.get("budget_view_id") if self.company_facts is not None and shared_ok else None
        if shared is not None:
            return int(shared)
        views = self.api.budget_views(t.company_id, t.project_id)
        if not views:
            return None
        view_id = int(views[0]["id"])
        if self.company_facts is not None:
            self.company_facts.put("budget_view_id", view_id)
        return view_id

    def _detail_rows(self) -> list[dict[str, Any]]:
        t = self.target
        view_id = self._budget_view_id()
        if view_id is None:
            return []
        try:
            return self.api.budget_detail_rows(t.company_id, t.project_id, view_id)
        except ProcoreNotFoundError:
            if self.company_facts is None:
                raise
            view_id = self._budget_view_id(shared_ok=False)  # the shared view is not this project's: ask
            return [] if view_id is None else self.api.budget_detail_rows(t.company_id, t.project_id, view_id)

    def _read_budget_rows(self) -> list[dict[str, Any]]:
        """The budget's detail rows; a refusal (403) names the Budget tool when it is inactive (Procore
        answers 403 for a disabled tool's calls, as for a missing permission: the tools list tells which)."""
        try:
            return self._detail_rows()
        except ProcorePermissionError:
            t = self.target
            if not self.api.budget_tool_active(t.company_id, t.project_id):
                raise JobBlockedError("budget_tool_inactive", f"(project {t.project_id})") from None
            raise

    def existing_lines(self) -> list[ExistingLine]:
        """Procore's budget lines, each keyed by the Spectrum cost code and cost type it stands for. A
        row's cost code is read from its `cost_code_origin_id` when this tool created the code for this
        job (one call for the whole budget); any other code, or a cost type the run's shared list lacks,
        is looked up in Procore's lists, read then. A row whose code or type stays unknown keeps Procore's
        own text, so it never matches (and is never mistaken for) a Spectrum line."""
        rows = [row for row in self._read_budget_rows() if row.get("id") is not None]  # no id: an unbudgeted row
        t = self.target
        own_prefix = cost_code_origin_id(t.company_code, t.job_number, "")
        type_by_id = {v: k for k, v in self.line_item_type_ids().items()}
        if self._types_from_facts and any(_int_or_none(r.get("category_id")) not in type_by_id for r in rows if r.get("category_id") is not None):
            self._read_line_item_types()  # a type created since the run's list was read
            type_by_id = {v: k for k, v in self.line_item_type_ids().items()}
        code_by_id: dict[int, str] | None = None
        lines = []
        self._line_ids = {}
        for row in rows:
            cost_code_id = _int_or_none(row.get("cost_code_id"))
            category_id = _int_or_none(row.get("category_id"))
            origin = row.get("cost_code_origin_id")
            cost_code: str | None = origin[len(own_prefix):] if isinstance(origin, str) and origin.startswith(own_prefix) else None
            if not cost_code and cost_code_id is not None:
                if code_by_id is None:
                    code_by_id = {v: k for k, v in self.cost_code_ids().items()}
                cost_code = code_by_id.get(cost_code_id)
            cost_type = type_by_id.get(category_id) if category_id is not None else None
            wbs_code_id = _int_or_none(row.get("wbs_code_id"))
            line = ExistingLine(
                id=int(row["id"]),
                cost_code=cost_code or str(row.get("cost_code") or ""),
                cost_type=cost_type or str(row.get("category") or ""),
                amount=parse_money(row.get("original_budget_amount")),
                wbs_code_id=wbs_code_id,
            )
            if cost_code and cost_type:
                self._line_ids[line.key] = (cost_code_id, category_id)
                if wbs_code_id is not None:
                    self._wbs.add(line.key, wbs_code_id)
            lines.append(line)
        return sorted(lines, key=lambda line: (line.cost_code, line.cost_type, line.id))

    # --- writing ------------------------------------------------------------------------------
    def _segment_ids(self) -> dict[str, int]:
        """The ids of the project's cost code and cost type WBS segments, told apart by `type` (their
        names are translated); read once per company and run."""
        shared = self.company_facts.get("wbs_segments") if self.company_facts is not None else None
        if isinstance(shared, dict) and {COST_CODE, LINE_ITEM_TYPE} <= set(shared):
            return {k: int(v) for k, v in shared.items()}
        t = self.target
        ids = segment_ids(self.api.wbs_segments(t.company_id, t.project_id), t.project_id)
        if self.company_facts is not None:
            self.company_facts.put("wbs_segments", ids)
        return ids

    def _segment_item_ids(self, segments: dict[str, int], kind: str, needed: set[str]) -> dict[str, int]:
        """Segment item id per code. Cost types are company-wide: their items are kept for the run, and
        read again only when a needed one is not among them (another job may have created it)."""
        shared = self.company_facts.get("cost_type_segment_items") if self.company_facts is not None and kind == LINE_ITEM_TYPE else None
        if isinstance(shared, dict) and needed <= set(shared):
            return {str(k): int(v) for k, v in shared.items()}
        t = self.target
        items = self.api.segment_items(t.company_id, t.project_id, segments[kind])
        ids = {key: int(item["id"]) for item in items if (key := segment_item_key(item, kind))}
        if self.company_facts is not None and kind == LINE_ITEM_TYPE:
            self.company_facts.put("cost_type_segment_items", ids)
        return ids

    def _wbs_ids(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """wbs_code_id per (cost code, cost type), creating the combinations Procore lacks (one bulk
        create; an entry it refuses fails the job naming the line, even when the call answered 201)."""
        t = self.target
        wanted = set(keys)
        if not wanted <= self._wbs.known():
            segments = self._segment_ids()
            self._wbs.add_codes(self.api.wbs_codes(t.company_id, t.project_id), segments)
            missing = sorted(wanted - self._wbs.known())
            if missing:
                self.require_write_permission()
                code_items = self._segment_item_ids(segments, COST_CODE, {cc for cc, _ in missing})
                type_items = self._segment_item_ids(segments, LINE_ITEM_TYPE, {ct for _, ct in missing})
                unknown = [f"{cc}/{ct}" for cc, ct in missing if cc not in code_items or ct not in type_items]
                if unknown:
                    raise ProcoreValidationError(422, f"Procore's WBS has no segment item for {_shown(unknown)}", method="GET",
                                                 path="segment_items", project_id=t.project_id)
                result = self.api.bulk_create_wbs_codes(t.company_id, t.project_id, [
                    {"segment_items": [{"segment_id": segments[COST_CODE], "segment_item_id": code_items[cc]},
                                       {"segment_id": segments[LINE_ITEM_TYPE], "segment_item_id": type_items[ct]}]}
                    for cc, ct in missing])
                self._wbs.add_codes(result["entities"], segments)
                if result["errors"]:
                    refused = [_refused_pair(error, code_items, type_items) for error in result["errors"]]
                    raise ProcoreValidationError(422, f"Procore refused {len(refused)} WBS codes: {_shown(refused)}", method="PATCH",
                                                 path="wbs_codes/bulk_create", project_id=t.project_id)
                absent = [f"{cc}/{ct}" for cc, ct in missing if (cc, ct) not in self._wbs.known()]
                if absent:
                    raise ProcoreValidationError(422, f"Procore's bulk create answered no WBS code for {_shown(absent)}", method="PATCH",
                                                 path="wbs_codes/bulk_create", project_id=t.project_id)
        return {key: self._wbs.id_of(key) for key in wanted}

    def _sync_items(self, plan: MergePlan) -> tuple[list[dict[str, Any]], list[str]]:
        """The creates and updates of a plan as budget line item sync items, each with its wbs_code_id."""
        need_wbs = [line.key for line in plan.creates] + [u.line.key for u in plan.updates if u.line.wbs_code_id is None]
        wbs = self._wbs_ids(need_wbs) if need_wbs else {}
        items: list[dict[str, Any]] = []
        labels: list[str] = []
        for line in plan.creates:
            items.append({"wbs_code_id": wbs[line.key], "original_budget_amount": money_number(line.amount), "calculation_strategy": "manual"})
            labels.append(f"{line.cost_code}/{line.cost_type}")
        for u in plan.updates:
            items.append({"id": u.line.id, "wbs_code_id": u.line.wbs_code_id or wbs[u.line.key], "original_budget_amount": money_number(u.new_amount)})
            labels.append(f"{u.line.cost_code}/{u.line.cost_type} (line {u.line.id})")
        return items, labels

    def _sync(self, items: list[dict[str, Any]], labels: list[str], refused: ProcoreValidationError | None = None) -> list[dict[str, Any]]:
        """Send one batch; when Procore refuses it (422, which does not say which item), halve it until the
        refused line is found, so the error names it. A refusal of every line stops at the first halving."""
        t = self.target
        if refused is None:
            try:
                return self.api.sync_budget_line_items(t.company_id, t.project_id, items)
            except ProcoreValidationError as exc:
                if "already exists" in exc.detail:
                    raise  # apply() re-reads Procore and re-plans
                refused = exc
        if len(items) == 1:
            raise _named(refused, labels)
        half = len(items) // 2
        parts = [(items[:half], labels[:half]), (items[half:], labels[half:])]
        outcomes: list[list[dict[str, Any]] | ProcoreValidationError] = []
        for part_items, _ in parts:
            try:
                outcomes.append(self.api.sync_budget_line_items(t.company_id, t.project_id, part_items))
            except ProcoreValidationError as exc:
                if "already exists" in exc.detail:
                    raise
                outcomes.append(exc)
        if all(isinstance(o, ProcoreValidationError) and o.detail == refused.detail for o in outcomes):
            raise _named(refused, labels)
        answers: list[dict[str, Any]] = []
        for (part_items, part_labels), outcome in zip(parts, outcomes, strict=True):
            answers += self._sync(part_items, part_labels, outcome) if isinstance(outcome, ProcoreValidationError) else outcome
        return answers

    def _write(self, plan: MergePlan) -> list[dict[str, Any]]:
        """Apply the plan's writes: creates and updates together in sync calls, then deletes; returns
        Procore's answers to the creates and updates (line items)."""
        t = self.target
        self.require_write_permission()
        answers: list[dict[str, Any]] = []
        items, labels = self._sync_items(plan)
        for batch in batches(list(zip(items, labels, strict=True))):
            answers += self._sync([item for item, _ in batch], [label for _, label in batch])
        for line in plan.deletes:
            try:
                with _naming_lines([f"{line.cost_code}/{line.cost_type} (line {line.id})"]):
                    self.api.delete_budget_line_item(t.company_id, t.project_id, line.id)
            except ProcoreNotFoundError:
                # Gone already: deleted by an earlier attempt whose answer was lost (a retried DELETE
                # answers 404), or by someone else. Either way the plan's delete is done; the next
                # read confirms it.
                log.info("%s: budget line %s was already deleted", t.label, line.id)
        return answers

    def _budget_after(self, before: list[ExistingLine], plan: MergePlan, answers: list[dict[str, Any]]) -> list[ExistingLine] | None:
        """The budget as Procore's answers to a round of writes show it (each answered line names its WBS
        code, which says its cost code and cost type), or None when they do not show every created and
        updated line (then the next round reads it)."""
        if len(answers) != len(plan.creates) + len(plan.updates):
            return None
        lines = {line.id: line for line in before}
        for line in plan.deletes:
            lines.pop(line.id, None)
        for item in answers:
            try:
                line_id = int(item["id"])
                wbs_code_id = int(item["wbs_code"]["id"])
                amount = parse_money(item["original_budget_amount"])
            except (KeyError, TypeError, ValueError, MoneyError):
                return None
            key = self._wbs.key_of(wbs_code_id)
            if key is None:
                return None
            lines[line_id] = ExistingLine(id=line_id, cost_code=key[0], cost_type=key[1], amount=amount, wbs_code_id=wbs_code_id)
        return sorted(lines.values(), key=lambda line: (line.cost_code, line.cost_type, line.id))

    def apply(self, desired: list[DesiredLine], mode: str, existing: list[ExistingLine] | None = None,
              rejected: dict[tuple[str, str], str] | None = None, plan: MergePlan | None = None) -> LoadOutcome:
        """Write until Procore's budget matches the plan for `mode`, re-planning after every round of
        writes against the budget as Procore's answers show it, or as read again when an outcome was
        unknown. The final state is the budget as it stands (used for reconciliation). `plan`: the plan
        already made of `existing` (the caller's), so the first round does not plan it again."""
        outcome: LoadOutcome | None = None
        first_plan = plan if existing is not None else None
        for round_number in range(1, MAX_ROUNDS + 1):
            if existing is None:
                existing = self.existing_lines()
            plan = first_plan or plan_merge(desired, existing, mode, rejected)
            first_plan = None
            if outcome is None:
                outcome = LoadOutcome(plan=plan)
            if plan.write_count == 0:
                outcome.rounds = round_number - 1
                outcome.final_lines = existing
                return outcome
            before = existing
            existing = None
            try:
                existing = self._budget_after(before, plan, self._write(plan))
            except AmbiguousWriteError as exc:
                outcome.ambiguous_writes += 1
                log.warning("%s: %s; re-reading Procore before going on", self.target.label, exc)
            except ProcoreValidationError as exc:
                if "already exists" not in exc.detail:
                    raise
                outcome.ambiguous_writes += 1
                log.warning("%s: a line already existed (%s); re-reading Procore", self.target.label, exc.detail)
        raise LoadIncompleteError(f"{self.target.label}: Procore's budget did not converge after {MAX_ROUNDS} rounds")


def cost_code_origin_id(company_code: str, job_number: str, cost_code: str) -> str:
    """The origin_id of a Procore cost code this tool creates for a Spectrum job's phase: how a budget row
    names its Spectrum cost code (`cost_code_origin_id`) without a cost code read. One place to adapt it."""
    return f"{company_code}|{job_number}|{cost_code}"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _shown(labels: list[str]) -> str:
    return ", ".join(labels[:10]) + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")


def _named(exc: ProcoreValidationError, labels: list[str]) -> ProcoreValidationError:
    """The same refusal, naming the budget lines it was for."""
    return ProcoreValidationError(exc.status, f"{exc.detail} [refused: {_shown(labels)}]", method=exc.method, path=exc.path,
                                  project_id=exc.project_id, body=exc.body)


@contextmanager
def _naming_lines(labels: list[str]) -> Iterator[None]:
    """Re-raise a 422 of a single-line call naming that line."""
    try:
        yield
    except ProcoreValidationError as exc:
        raise _named(exc, labels) from None


def _refused_pair(error: Any, code_items: dict[str, int], type_items: dict[str, int]) -> str:
    """A refused bulk-create entry as 'cost code/cost type: why', from the segment items it echoes."""
    by_id: dict[Any, str] = {v: k for k, v in code_items.items()} | {v: k for k, v in type_items.items()}
    picks = error.get("segment_items") if isinstance(error, dict) else None
    names = [by_id.get(p.get("segment_item_id"), "?") for p in picks if isinstance(p, dict)] if isinstance(picks, list) else []
    why = error.get("errors") if isinstance(error, dict) else error
    return f"{'/'.join(names) or 'an entry'}: {why}"


def _with_synced(ids: dict[str, int] | None, entities: list[Any], created: list[str]) -> dict[str, int] | None:
    """`ids` plus what a sync answered (by full code, else code); None (read again) unless every created
    code is in the answer."""
    if ids is None:
        return None
    answered = {}
    for entity in entities:
        if isinstance(entity, dict) and entity.get("id") is not None and (entity.get("full_code") or entity.get("code")):
            answered[str(entity.get("full_code") or entity["code"])] = int(entity["id"])
    if any(code not in answered for code in created):
        return None
    return {**ids, **answered}


def desired_lines(line_items: Any) -> list[DesiredLine]:
    """DesiredLine per reshaped line item row (a pandas frame with cost_code, cost_type, amount)."""
    columns = (map(str, line_items["cost_code"]), map(str, line_items["cost_type"]), map(Decimal, line_items["amount"]), map(str, line_items["description"]))
    make = tuple.__new__  # (not the named tuple's Python-level __new__: a fifth faster, a million lines a night)
    return [make(DesiredLine, line) for line in zip(*columns, strict=True)]
