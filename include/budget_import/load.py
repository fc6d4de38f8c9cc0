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

from include.budget_import.money import MoneyError, money_text, parse_money
from include.budget_import.plan import DesiredLine, ExistingLine, MergePlan, plan_merge
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import AmbiguousWriteError, ProcoreNotFoundError, ProcoreValidationError


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

    # --- mapping Spectrum codes to Procore ids ------------------------------------------------
    def line_item_type_ids(self) -> dict[str, int]:
        if self._type_ids is None:
            shared = self.company_facts.get("line_item_types") if self.company_facts else None
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
        if self.company_facts:
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
            company = self.target.company_code
            result = self.api.sync_line_item_types(
                self.target.company_id,
                [{"code": code, "name": needed[code], "origin_id": f"{company}|{code}"} for code in missing],
                project_id=self.target.project_id,
            )
            self._fail_on_sync_errors("line item types", result["errors"])
            self._type_ids = _with_synced(self._type_ids, result["entities"], missing)
            if self._type_ids is not None and self.company_facts:
                self.company_facts.put("line_item_types", self._type_ids)
        return missing

    def ensure_cost_codes(self, needed: dict[str, str]) -> list[str]:
        """Create the project's missing cost codes (Spectrum phases), keyed by origin_id."""
        missing = sorted(code for code in needed if code not in self.cost_code_ids())
        if missing:
            t = self.target
            result = self.api.sync_cost_codes(
                t.company_id, t.project_id,
                [{"code": code, "name": needed[code], "origin_id": f"{t.company_code}|{t.job_number}|{code}"} for code in missing],
            )
            self._fail_on_sync_errors("cost codes", result["errors"])
            self._code_ids = _with_synced(self._code_ids, result["entities"], missing)
        return missing

    def _fail_on_sync_errors(self, what: str, errors: list[Any]) -> None:
        if errors:
            raise ProcoreValidationError(422, f"Procore refused {len(errors)} {what}: {errors[:5]}", method="PATCH", path=f"{what} sync", project_id=self.target.project_id)

    def resolved_ids(self, desired: list[DesiredLine], dry_run: bool) -> list[dict[str, Any]]:
        """Each desired line with the Procore ids it maps to: None where Procore lacks the code (a
        failed mapping), or NEW where a dry run would have created it."""
        codes, types = self.cost_code_ids(), self.line_item_type_ids()
        missing = NEW if dry_run else None
        return [
            {"cost_code": d.cost_code, "cost_type": d.cost_type, "cost_code_id": codes.get(d.cost_code, missing), "line_item_type_id": types.get(d.cost_type, missing)}
            for d in desired
        ]

    # --- reading the budget -------------------------------------------------------------------
    def _budget_view_id(self, shared_ok: bool = True) -> int | None:
        t = self.target
        shared = self.company_facts.get("budget_view_id") if self.company_facts and shared_ok else None
        if shared is not None:
            return int(shared)
        views = self.api.budget_views(t.company_id, t.project_id)
        if not views:
            return None
        view_id = int(views[0]["id"])
        if self.company_facts:
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
            if not self.company_facts:
                raise
            view_id = self._budget_view_id(shared_ok=False)  # the shared view is not this project's: ask
            return [] if view_id is None else self.api.budget_detail_rows(t.company_id, t.project_id, view_id)

    def existing_lines(self) -> list[ExistingLine]:
        code_by_id = {v: k for k, v in self.cost_code_ids().items()}
        type_by_id = {v: k for k, v in self.line_item_type_ids().items()}
        lines = []
        for row in self._detail_rows():
            cost_code = code_by_id.get(int(row["cost_code_id"])) if row.get("cost_code_id") is not None else None
            cost_type = type_by_id.get(int(row["category_id"])) if row.get("category_id") is not None else None
            lines.append(
                ExistingLine(
                    id=int(row["id"]),
                    cost_code=cost_code or str(row.get("cost_code") or ""),
                    cost_type=cost_type or str(row.get("category") or ""),
                    amount=parse_money(row.get("original_budget_amount")),
                )
            )
        return sorted(lines, key=lambda line: (line.cost_code, line.cost_type, line.id))

    # --- writing ------------------------------------------------------------------------------
    def _wbs_ids(self, lines: list[DesiredLine]) -> dict[tuple[str, str], int]:
        """wbs_code_id per (cost code, cost type), creating the combinations Procore lacks."""
        t = self.target
        codes, types = self.cost_code_ids(), self.line_item_type_ids()
        wanted = {(codes[line.cost_code], types[line.cost_type]): line.key for line in lines}

        def index(wbs_codes: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
            out = {}
            for wbs in wbs_codes:
                by_segment = {int(item["segment_id"]): int(item["id"]) for item in wbs.get("segment_items", [])}
                pair = (by_segment.get(segment_ids["cost_code"]), by_segment.get(segment_ids["cost_type"]))
                if None not in pair:
                    out[pair] = int(wbs["id"])  # type: ignore[index]
            return out

        segments = self.api.wbs_segments(t.company_id, t.project_id)
        segment_ids = {
            "cost_code": next(int(s["id"]) for s in segments if str(s.get("name", "")).lower() == "cost code"),
            "cost_type": next(int(s["id"]) for s in segments if str(s.get("name", "")).lower() == "cost type"),
        }
        known = index(self.api.wbs_codes(t.company_id, t.project_id))
        missing = [pair for pair in wanted if pair not in known]
        if missing:
            created = self.api.bulk_create_wbs_codes(
                t.company_id, t.project_id,
                [{"segment_items": [{"segment_id": segment_ids["cost_code"], "segment_item_id": cc}, {"segment_id": segment_ids["cost_type"], "segment_item_id": ct}]} for cc, ct in missing],
            )
            known.update(index(created))
        return {wanted[pair]: known[pair] for pair in wanted}

    def _write(self, plan: MergePlan) -> list[dict[str, Any]]:
        """Apply the plan's writes; returns Procore's answers to the creates and updates (line items)."""
        t = self.target
        answers: list[dict[str, Any]] = []
        if plan.creates:
            wbs = self._wbs_ids(plan.creates)
            with _naming_lines([f"{line.cost_code}/{line.cost_type}" for line in plan.creates]):
                answers += self.api.sync_budget_line_items(
                    t.company_id, t.project_id,
                    [{"wbs_code_id": wbs[line.key], "original_budget_amount": money_text(line.amount), "calculation_strategy": "manual"} for line in plan.creates],
                    creates=True,
                )
        if plan.updates:
            with _naming_lines([f"{u.line.cost_code}/{u.line.cost_type} (line {u.line.id})" for u in plan.updates]):
                answers += self.api.sync_budget_line_items(
                    t.company_id, t.project_id,
                    [{"id": u.line.id, "original_budget_amount": money_text(u.new_amount)} for u in plan.updates],
                    creates=False,
                )
        for line in plan.deletes:
            try:
                with _naming_lines([f"{line.cost_code}/{line.cost_type} (line {line.id})"], whole_call=True):
                    self.api.delete_budget_line_item(t.company_id, t.project_id, line.id)
            except ProcoreNotFoundError:
                # Gone already: deleted by an earlier attempt whose answer was lost (a retried DELETE
                # answers 404), or by someone else. Either way the plan's delete is done; the next
                # read confirms it.
                log.info("%s: budget line %s was already deleted", t.label, line.id)
        return answers

    def _budget_after(self, before: list[ExistingLine], plan: MergePlan, answers: list[dict[str, Any]]) -> list[ExistingLine] | None:
        """The budget as Procore's answers to a round of writes show it, or None when they do not show
        every created and updated line (then the next round reads it)."""
        if len(answers) != len(plan.creates) + len(plan.updates):
            return None
        code_by_id = {v: k for k, v in self.cost_code_ids().items()}
        type_by_id = {v: k for k, v in self.line_item_type_ids().items()}
        lines = {line.id: line for line in before}
        for line in plan.deletes:
            lines.pop(line.id, None)
        for item in answers:
            try:
                line_id = int(item["id"])
                cost_code = code_by_id.get(int(item["cost_code"]["id"]))
                cost_type = type_by_id.get(int(item["line_item_type"]["id"]))
                amount = parse_money(item["original_budget_amount"])
            except (KeyError, TypeError, ValueError, MoneyError):
                return None
            if cost_code is None or cost_type is None:
                return None
            lines[line_id] = ExistingLine(id=line_id, cost_code=cost_code, cost_type=cost_type, amount=amount)
        return sorted(lines.values(), key=lambda line: (line.cost_code, line.cost_type, line.id))

    def apply(self, desired: list[DesiredLine], mode: str, existing: list[ExistingLine] | None = None) -> LoadOutcome:
        """Write until Procore's budget matches the plan for `mode`, re-planning after every round of
        writes against the budget as Procore's answers show it, or as read again when an outcome was
        unknown. The final state is the budget as it stands (used for reconciliation)."""
        outcome: LoadOutcome | None = None
        for round_number in range(1, MAX_ROUNDS + 1):
            if existing is None:
                existing = self.existing_lines()
            plan = plan_merge(desired, existing, mode)
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


@contextmanager
def _naming_lines(labels: list[str], *, whole_call: bool = False) -> Iterator[None]:
    """Re-raise a 422 naming the budget lines Procore refused (by the per-item `details[].index` of a
    sync's answer, or every line of a single-line call)."""
    try:
        yield
    except ProcoreValidationError as exc:
        details = exc.body.get("details") if isinstance(exc.body, dict) else None
        named = []
        for item in details if isinstance(details, list) else []:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and 0 <= index < len(labels):
                named.append(f"{labels[index]}: {'; '.join(map(str, item.get('errors') or [])) or exc.detail}")
        if not named and whole_call:
            named = labels
        if not named:
            raise
        shown = ", ".join(named[:10]) + (f" and {len(named) - 10} more" if len(named) > 10 else "")
        raise ProcoreValidationError(exc.status, f"{exc.detail} [refused: {shown}]", method=exc.method, path=exc.path,
                                     project_id=exc.project_id, body=exc.body) from None


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
    return [
        DesiredLine(str(code), str(ctype), Decimal(amount), str(desc))  # (positional: a third faster, a million a night)
        for code, ctype, amount, desc in zip(line_items["cost_code"], line_items["cost_type"], line_items["amount"], line_items["description"])
    ]
