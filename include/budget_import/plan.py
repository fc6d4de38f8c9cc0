"""The merge plan: what to create, update, delete and keep in Procore, computed before any write.

Lines are matched by cost code + cost type (Procore allows one budget line per combination).
- override: Procore's budget ends equal to Spectrum's (create, update amounts, delete the rest);
- additive: existing lines are untouched; only combinations Procore lacks are created.
A re-import with nothing changed plans no write at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from include.budget_import.money import money_text

MergeMode = Literal["override", "additive"]
MERGE_MODES: tuple[str, ...] = ("override", "additive")


@dataclass(frozen=True)
class DesiredLine:
    cost_code: str
    cost_type: str
    amount: Decimal
    description: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.cost_code, self.cost_type)


@dataclass(frozen=True)
class ExistingLine:
    id: int
    cost_code: str
    cost_type: str
    amount: Decimal

    @property
    def key(self) -> tuple[str, str]:
        return (self.cost_code, self.cost_type)


@dataclass(frozen=True)
class Update:
    line: ExistingLine
    new_amount: Decimal


@dataclass(frozen=True)
class Keep:
    line: ExistingLine
    note: str


@dataclass
class MergePlan:
    mode: str
    creates: list[DesiredLine] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    deletes: list[ExistingLine] = field(default_factory=list)
    keeps: list[Keep] = field(default_factory=list)

    @property
    def write_count(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)

    def counts(self) -> dict[str, int]:
        return {"create": len(self.creates), "update": len(self.updates), "delete": len(self.deletes), "keep": len(self.keeps)}

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the report: amounts as two-decimal text, before and after."""
        return {
            "mode": self.mode,
            "counts": self.counts(),
            "create": [
                {"cost_code": c.cost_code, "cost_type": c.cost_type, "amount_before": None, "amount_after": money_text(c.amount)}
                for c in self.creates
            ],
            "update": [
                {
                    "id": u.line.id,
                    "cost_code": u.line.cost_code,
                    "cost_type": u.line.cost_type,
                    "amount_before": money_text(u.line.amount),
                    "amount_after": money_text(u.new_amount),
                }
                for u in self.updates
            ],
            "delete": [
                {"id": d.id, "cost_code": d.cost_code, "cost_type": d.cost_type, "amount_before": money_text(d.amount), "amount_after": None}
                for d in self.deletes
            ],
            "keep": [
                {
                    "id": k.line.id,
                    "cost_code": k.line.cost_code,
                    "cost_type": k.line.cost_type,
                    "amount_before": money_text(k.line.amount),
                    "amount_after": money_text(k.line.amount),
                    "note": k.note,
                }
                for k in self.keeps
            ],
        }


def plan_merge(desired: list[DesiredLine], existing: list[ExistingLine], mode: str) -> MergePlan:
    if mode not in MERGE_MODES:
        raise ValueError(f"merge mode must be one of {MERGE_MODES}, not {mode!r}")
    wanted = {line.key: line for line in desired}
    if len(wanted) != len(desired):
        raise ValueError("desired budget has a duplicate cost code + cost type; validation should have caught it")
    have = {line.key: line for line in existing}
    plan = MergePlan(mode=mode)
    for key in sorted(wanted):
        target = wanted[key]
        current = have.get(key)
        if current is None:
            plan.creates.append(target)
        elif current.amount == target.amount:
            plan.keeps.append(Keep(current, "already equal to Spectrum"))
        elif mode == "override":
            plan.updates.append(Update(current, target.amount))
        else:
            plan.keeps.append(Keep(current, f"additive: kept Procore's amount (Spectrum has {money_text(target.amount)})"))
    for key in sorted(set(have) - set(wanted)):
        if mode == "override":
            plan.deletes.append(have[key])
        else:
            plan.keeps.append(Keep(have[key], "additive: not in Spectrum, kept"))
    return plan

