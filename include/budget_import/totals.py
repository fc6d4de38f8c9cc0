"""The money figures an accountant reconciles a job by, and the words that say what they mean.

Spectrum's total is every extracted row's original estimate, not only what was imported: the rows left
out (skipped by a rule of Procore's article, rejected as unreadable) are totalled beside it, so
`spectrum = line_items + skipped + rejected` holds to the cent (a row whose estimate is no number at all
is counted in `unreadable_rows`, never guessed into a total). Procore's total is the budget after the run;
the difference is Procore's minus Spectrum's.

Stdlib only: the UI plugin (imported by every Airflow process) reads these figures too.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from include.budget_import.money import CENT, money_number

TOTAL_KEYS = ("spectrum", "line_items", "skipped", "rejected")


def exact_text(amount: Decimal) -> str:
    """Two decimals when that loses nothing ('1500.0000' -> '1500.00'), else every digit: a total of
    rows rejected for digits beyond cents keeps them, so the parts still add up to Spectrum's total."""
    return f"{money_number(amount):f}"


def finite_sum(amounts: Iterable[Any]) -> tuple[Decimal, int]:
    """The sum of the finite Decimals, and how many values were not one (NaN, None, text)."""
    values = list(amounts)
    try:
        total = sum(values, Decimal(0))  # the common case: every value a finite Decimal
        if isinstance(total, Decimal) and total.is_finite():
            return total, 0
    except (TypeError, InvalidOperation):
        pass
    finite = [v for v in values if isinstance(v, Decimal) and v.is_finite()]
    return sum(finite, Decimal(0)), len(values) - len(finite)


@dataclass(frozen=True)
class SpectrumTotals:
    """Spectrum's side of a job: the original estimate of every extracted row, by outcome."""

    spectrum: Decimal
    line_items: Decimal
    skipped: Decimal
    rejected: Decimal
    unreadable_rows: int = 0

    @classmethod
    def of(cls, estimates: list[Any], outcomes: list[str]) -> SpectrumTotals:
        """`estimates[n]` is row n's original estimate, `outcomes[n]` its outcome (reshape.OUTCOMES)."""
        by_outcome: dict[str, list[Any]] = {"line_item": [], "skipped": [], "rejected": []}
        for amount, outcome in zip(estimates, outcomes, strict=True):
            by_outcome[outcome].append(amount)
        sums = {name: finite_sum(values) for name, values in by_outcome.items()}
        line_items, skipped, rejected = (sums[k][0] for k in ("line_item", "skipped", "rejected"))
        return cls(line_items + skipped + rejected, line_items, skipped, rejected, sum(n for _, n in sums.values()))

    def as_dict(self) -> dict[str, Any]:
        return {"spectrum": exact_text(self.spectrum), "line_items": exact_text(self.line_items), "skipped": exact_text(self.skipped),
                "rejected": exact_text(self.rejected), "unreadable_rows": self.unreadable_rows}


def job_totals(spectrum: Mapping[str, Any] | None, procore_total: Any) -> dict[str, Any]:
    """A job result's `totals`: Spectrum's figures (from the reshape stage), Procore's total after the run
    and the difference (Procore - Spectrum), all as exact text; None where a side is unknown."""
    out: dict[str, Any] = {k: None for k in TOTAL_KEYS} | {"unreadable_rows": 0}
    if spectrum:
        out.update({k: spectrum.get(k) for k in (*TOTAL_KEYS, "unreadable_rows")})
    out["procore"] = None if procore_total is None else str(procore_total)
    s, p = decimal_or_none(out["spectrum"]), decimal_or_none(out["procore"])
    out["difference"] = exact_text(p - s) if s is not None and p is not None else None
    return out


def decimal_or_none(value: Any) -> Decimal | None:
    """The finite Decimal a value spells, or None (missing, not a number, NaN)."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


# --- reconciliation: what was compared, and every difference with its amount ---------------------
# A line's outcome after the load. Only `differs` and `missing` fail the reconciliation: the other
# differences are the merge mode's choice (additive keeps Procore's lines) or our refusal to act on a
# row we could not read (an override keeps Procore's line for a rejected Spectrum row).
EQUAL = "equal"
DIFFERS = "differs"
MISSING = "missing"
NOT_DELETED = "not_deleted"
KEPT_BY_CHOICE = "kept_by_choice"
PROCORE_ONLY = "procore_only"
KEPT_REJECTED = "kept_rejected"
NOT_CHECKED = "not_checked"
FAILING = frozenset({DIFFERS, MISSING, NOT_DELETED})
OUTCOME_WORDS = {  # (one line, several lines)
    EQUAL: ("is equal", "are equal"),
    DIFFERS: ("differs", "differ"),
    MISSING: ("is missing in Procore", "are missing in Procore"),
    NOT_DELETED: ("is in Procore but not in Spectrum (not deleted)", "are in Procore but not in Spectrum (not deleted)"),
    KEPT_BY_CHOICE: ("differs, kept by choice", "differ, kept by choice"),
    PROCORE_ONLY: ("is in Procore only, kept by choice", "are in Procore only, kept by choice"),
    KEPT_REJECTED: ("is kept because its Spectrum row was rejected", "are kept because their Spectrum rows were rejected"),
    NOT_CHECKED: ("is not checked", "are not checked"),
}


def outcome_words(outcome: str, lines: int = 1) -> str:
    words = OUTCOME_WORDS.get(outcome, (outcome, outcome))
    return words[0] if lines == 1 else words[1]


def line_difference(spectrum_amount: Any, procore_amount: Any) -> str | None:
    """Procore - Spectrum on one line (a side that is missing counts as zero); None when equal."""
    s, p = decimal_or_none(spectrum_amount) or Decimal(0), decimal_or_none(procore_amount) or Decimal(0)
    return None if s == p and (spectrum_amount is None) == (procore_amount is None) else exact_text(p - s)


def difference_groups(lines: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per outcome other than equal / not checked: how many lines and their summed difference."""
    groups: dict[str, dict[str, Any]] = {}
    for line in lines:
        outcome = str(line.get("outcome") or "")
        if outcome in ("", EQUAL, NOT_CHECKED):
            continue
        group = groups.setdefault(outcome, {"lines": 0, "amount": Decimal(0)})
        group["lines"] += 1
        group["amount"] += decimal_or_none(line.get("difference")) or Decimal(0)
    return {k: {"lines": g["lines"], "amount": exact_text(g["amount"])} for k, g in sorted(groups.items())}


def money(value: Any) -> str:
    """'-1760.5' -> '-$1,760.50' (exact; '' when there is no amount)."""
    number = decimal_or_none(value)
    if number is None:
        return ""
    text = format(abs(number).quantize(CENT, ROUND_HALF_UP), ",.2f")
    return f"-${text}" if number < 0 else f"${text}"


def signed_money(value: Any) -> str:
    number = decimal_or_none(value)
    if number is None:
        return ""
    return ("+" if number > 0 else "") + money(number)


def reconciliation_headline(reconciliation: Mapping[str, Any]) -> str:
    """One sentence that says what was compared and every difference with its amount, e.g. 'Procore
    equals Spectrum on the 12 lines compared; 1 line differs, kept by choice (+$1,760.00)'."""
    if reconciliation.get("dry_run"):
        return "Not checked: a dry run writes nothing"
    checked = int(reconciliation.get("checked_lines") or 0)
    groups: Mapping[str, Mapping[str, Any]] = reconciliation.get("differences") or {}
    failing = [(k, g) for k, g in groups.items() if k in FAILING]
    chosen = [(k, g) for k, g in groups.items() if k not in FAILING]

    def part(outcome: str, group: Mapping[str, Any]) -> str:
        n = int(group.get("lines") or 0)
        return f"{n} line{'' if n == 1 else 's'} {outcome_words(outcome, n)} ({signed_money(group.get('amount'))})"

    if failing:
        head = "Procore does not equal Spectrum: " + "; ".join(part(k, g) for k, g in failing)
    elif checked:
        head = f"Procore equals Spectrum on the {checked} line{'' if checked == 1 else 's'} compared"
    else:
        head = "No line was compared"
    if chosen:
        head += "; " + "; ".join(part(k, g) for k, g in chosen)
    return head
