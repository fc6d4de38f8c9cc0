"""Load a merge plan into one Procore project, converging on the intended budget.

Every round re-reads Procore's budget and re-plans, so a write whose outcome was unknown (timeout,
lost response, 5xx) or a line another writer added is simply seen on the next read: nothing is
written twice and a crash mid-load is repaired by the next run.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from include.budget_import.money import money_text, parse_money
from include.budget_import.plan import DesiredLine, ExistingLine, MergePlan, plan_merge
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import AmbiguousWriteError, ProcoreNotFoundError, ProcoreValidationError

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
    def __init__(self, api: ProcoreBudgetApi, target: ProjectTarget) -> None:
        self.api = api
        self.target = target
        self._type_ids: dict[str, int] | None = None
        self._code_ids: dict[str, int] | None = None

    # --- mapping Spectrum codes to Procore ids ------------------------------------------------
    def line_item_type_ids(self) -> dict[str, int]:
        if self._type_ids is None:
            types = self.api.line_item_types(self.target.company_id, project_id=self.target.project_id)
            self._type_ids = {str(t["code"]): int(t["id"]) for t in types if t.get("code")}
        return self._type_ids

    def cost_code_ids(self) -> dict[str, int]:
        if self._code_ids is None:
            codes = self.api.cost_codes(self.target.company_id, self.target.project_id)
            self._code_ids = {str(c.get("full_code") or c["code"]): int(c["id"]) for c in codes}
        return self._code_ids

    def ensure_line_item_types(self, needed: dict[str, str]) -> list[str]:
        """Create the company's missing line item types (sync by origin_id, so retries cannot double)."""
        missing = sorted(code for code in needed if code not in self.line_item_type_ids())
        if missing:
            company = self.target.company_code
            result = self.api.sync_line_item_types(
                self.target.company_id,
                [{"code": code, "name": needed[code], "origin_id": f"{company}|{code}"} for code in missing],
                project_id=self.target.project_id,
            )
            self._fail_on_sync_errors("line item types", result["errors"])
            self._type_ids = None
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
            self._code_ids = None
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
    def existing_lines(self) -> list[ExistingLine]:
        t = self.target
        views = self.api.budget_views(t.company_id, t.project_id)
        if not views:
            return []
        code_by_id = {v: k for k, v in self.cost_code_ids().items()}
        type_by_id = {v: k for k, v in self.line_item_type_ids().items()}
        lines = []
        for row in self.api.budget_detail_rows(t.company_id, t.project_id, int(views[0]["id"])):
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

    def _write(self, plan: MergePlan) -> None:
        t = self.target
        if plan.creates:
            wbs = self._wbs_ids(plan.creates)
            with _naming_lines([f"{line.cost_code}/{line.cost_type}" for line in plan.creates]):
                self.api.sync_budget_line_items(
                    t.company_id, t.project_id,
                    [{"wbs_code_id": wbs[line.key], "original_budget_amount": money_text(line.amount), "calculation_strategy": "manual"} for line in plan.creates],
                    creates=True,
                )
        if plan.updates:
            with _naming_lines([f"{u.line.cost_code}/{u.line.cost_type} (line {u.line.id})" for u in plan.updates]):
                self.api.sync_budget_line_items(
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

    def apply(self, desired: list[DesiredLine], mode: str, existing: list[ExistingLine] | None = None) -> LoadOutcome:
        """Write until Procore's budget matches the plan for `mode`, re-reading and re-planning after
        every round of writes. The last read is the budget as it stands (used for reconciliation)."""
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
            try:
                self._write(plan)
            except AmbiguousWriteError as exc:
                outcome.ambiguous_writes += 1
                log.warning("%s: %s; re-reading Procore before going on", self.target.label, exc)
            except ProcoreValidationError as exc:
                if "already exists" not in exc.detail:
                    raise
                outcome.ambiguous_writes += 1
                log.warning("%s: a line already existed (%s); re-reading Procore", self.target.label, exc.detail)
            existing = None
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


def desired_lines(line_items: Any) -> list[DesiredLine]:
    """DesiredLine per reshaped line item row (a pandas frame with cost_code, cost_type, amount)."""
    return [
        DesiredLine(cost_code=str(code), cost_type=str(ctype), amount=Decimal(amount), description=str(desc))
        for code, ctype, amount, desc in zip(line_items["cost_code"], line_items["cost_type"], line_items["amount"], line_items["description"])
    ]
