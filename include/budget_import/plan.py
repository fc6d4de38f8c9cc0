"""The merge plan: what to create, update, delete and keep in Procore, computed before any write.

Lines are matched by cost code + cost type (Procore allows one budget line per combination).
- override: Procore's budget ends equal to Spectrum's (create, update amounts, delete the rest);
- additive: existing lines are untouched; only combinations Procore lacks are created.
A re-import with nothing changed plans no write at all.

Lines are immutable named tuples (a nightly run plans a million of them: a frozen dataclass costs
about three times as much to build), and the cyclic garbage collector is paused while a plan is built:
these objects hold no cycles, and its passes over a heap of a million small tuples otherwise doubled
the time (docs/performance.md).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from include.budget_import.money import money_text

MERGE_MODES: tuple[str, ...] = ("override", "additive")


class DesiredLine(NamedTuple):
    cost_code: str
    cost_type: str
    amount: Decimal
    description: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.cost_code, self.cost_type)


class ExistingLine(NamedTuple):
    id: int
    cost_code: str
    cost_type: str
    amount: Decimal
    wbs_code_id: int | None = None  # Procore's WBS code of the line (an update names it, as the spec requires)

    @property
    def key(self) -> tuple[str, str]:
        return (self.cost_code, self.cost_type)


class Update(NamedTuple):
    line: ExistingLine
    new_amount: Decimal


class Keep(NamedTuple):
    line: ExistingLine
    note: str


EQUAL_NOTE = "already equal to Spectrum"
REJECTED_KEEP = "kept: Spectrum row rejected"  # an override's keep of a line whose Spectrum row we could not read


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic-GC pass inside (reference counting still frees everything at once); back as it was after,
    with the one pass over the objects made meanwhile (the youngest generation's) done here, where its cost
    belongs, rather than at whatever allocation comes next."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


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
        """JSON form for the report (plan.json): amounts as two-decimal text, before and after. Every create,
        update and delete is listed, and every keep that says something (its note is not EQUAL_NOTE: an
        additive keep of Procore's amount, a line kept because its Spectrum row was rejected, an additive
        keep of a line Spectrum lacks); a line already equal to Spectrum is only counted, in `keep_equal`
        (so `counts["keep"] == len(keep) + keep_equal`): an unchanged 50,000-line job is a small file.
        `by_cost_type`: per cost type, Procore's total before and the budget's total after the plan, over
        every line (exact text; None: no line on that side), for the UI's chart of a job held for review."""
        with paused_gc():
            return self._as_dict()

    def _as_dict(self) -> dict[str, Any]:
        keep = []
        equal = 0
        sums: dict[str, list[Decimal | None]] = {}  # cost type -> [before, after]

        def add(cost_type: str, before: Decimal | None, after: Decimal | None) -> None:
            pair = sums.setdefault(cost_type, [None, None])
            if before is not None:
                pair[0] = before if pair[0] is None else pair[0] + before
            if after is not None:
                pair[1] = after if pair[1] is None else pair[1] + after

        for c in self.creates:
            add(c.cost_type, None, c.amount)
        for u in self.updates:
            add(u.line.cost_type, u.line.amount, u.new_amount)
        for d in self.deletes:
            add(d.cost_type, d.amount, None)
        for line, note in self.keeps:
            add(line.cost_type, line.amount, line.amount)
            if note == EQUAL_NOTE:
                equal += 1
                continue
            amount = money_text(line.amount)
            keep.append(
                {"id": line.id, "cost_code": line.cost_code, "cost_type": line.cost_type, "amount_before": amount, "amount_after": amount, "note": note}
            )
        return {
            "mode": self.mode,
            "counts": self.counts(),
            "keep_equal": equal,
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
            "keep": keep,
            "by_cost_type": {ct: {"before": _text(before), "after": _text(after)} for ct, (before, after) in sorted(sums.items())},
        }


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else money_text(amount)


def plan_merge(desired: list[DesiredLine], existing: list[ExistingLine], mode: str,
               rejected: Mapping[tuple[str, str], str] | None = None) -> MergePlan:
    """`rejected`: (cost code, cost type) of Spectrum rows we could not read (quarantined), with why. An
    override keeps Procore's line for such a key: Spectrum does not lack it, we failed to read it."""
    if mode not in MERGE_MODES:
        raise ValueError(f"merge mode must be one of {MERGE_MODES}, not {mode!r}")
    with paused_gc():
        return _plan_merge(desired, existing, mode, rejected or {})


_DESIRED_KEY, _EXISTING_KEY = itemgetter(0, 1), itemgetter(1, 2)  # (cost code, cost type) of each kind of line


def _plan_merge(desired: list[DesiredLine], existing: list[ExistingLine], mode: str, rejected: Mapping[tuple[str, str], str]) -> MergePlan:
    # (a million lines a night: the dicts are built in C, and the tuples made directly, not through
    # the named tuples' Python-level __new__: a fifth of the plan's time)
    wanted = dict(zip(map(_DESIRED_KEY, desired), desired, strict=True))
    if len(wanted) != len(desired):
        raise ValueError("desired budget has a duplicate cost code + cost type; validation should have caught it")
    have = dict(zip(map(_EXISTING_KEY, existing), existing, strict=True))
    plan = MergePlan(mode=mode)
    creates, updates, keeps = plan.creates.append, plan.updates.append, plan.keeps.append
    override = mode == "override"
    found, make = have.get, tuple.__new__
    for key in sorted(wanted):
        target = wanted[key]
        current = found(key)
        if current is None:
            creates(target)
        elif current.amount == target.amount:
            keeps(make(Keep, (current, EQUAL_NOTE)))
        elif override:
            updates(make(Update, (current, target.amount)))
        else:
            keeps(Keep(current, f"additive: kept Procore's amount (Spectrum has {money_text(target.amount)})"))
    for key in sorted(have.keys() - wanted.keys()):
        if override and key in rejected:
            plan.keeps.append(Keep(have[key], f"{REJECTED_KEEP} ({rejected[key]})"))
        elif override:
            plan.deletes.append(have[key])
        else:
            plan.keeps.append(Keep(have[key], "additive: not in Spectrum, kept"))
    return plan

