"""The pages' charts: the reports' figures (reports.py) drawn by charts.py. Each returns SVG text (escaped
by charts.py) or '' when there is nothing to draw."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from . import charts
from . import reports as rp


def _money(amount: Decimal) -> str:
    return rp.money(amount)


def cost_types(report: rp.JobReport) -> str:
    totals, source = rp.cost_type_totals(report)
    if not totals:
        return ""
    dry = bool((report.reconciliation or {}).get("dry_run")) or report.row.dry_run
    procore = "Procore now" if dry or source == "plan" else "Procore after"
    where = ("the reconciliation: every Spectrum line item and Procore's line of the same cost code and cost type"
             if source == "reconciliation" else "the merge plan: Spectrum's amounts after the import, Procore's before it")
    groups = [(f"{t.cost_type} {t.name}".strip() or "(blank)", [t.spectrum, t.procore]) for t in totals]
    desc = (f"Budget by cost type, Spectrum's imported line items against {procore}, from {where}. "
            + "; ".join(f"{label}: Spectrum {_fmt(s)}, {procore} {_fmt(p)}" for label, (s, p) in groups) + ".")
    return charts.grouped_bars(f"chart-cost-types-{report.row.key}", f"Budget by cost type: Spectrum and {procore}", desc,
                               ["Spectrum", procore], groups, fmt=_money)


def _fmt(value: Decimal | None) -> str:
    return "none" if value is None else rp.money(value)


def _day(row: rp.HistoryRow) -> str:
    return rp.when(row.finished_at)[5:16]  # 'MM-DD HH:MM'


def history(rows: Sequence[rp.HistoryRow], key: str) -> dict[str, str]:
    """Across the job's runs (oldest left): the totals, the rows rejected and the data-quality pass rate."""
    runs = list(reversed(rows))
    if len(runs) < 1:
        return {}
    labels = [_day(r) for r in runs]
    out: dict[str, str] = {}
    spectrum = [r.record.spectrum_total for r in runs]
    procore = [r.record.procore_total for r in runs]
    if any(v is not None for v in (*spectrum, *procore)):
        desc = "Spectrum's and Procore's budget totals of each run of this job, oldest first: " + "; ".join(
            f"{lab}: Spectrum {_fmt(charts.exact(s))}, Procore {_fmt(charts.exact(p))}" for lab, s, p in zip(labels, spectrum, procore, strict=True)) + "."
        out["totals"] = charts.lines(f"chart-totals-{key}", "Budget totals over the runs", desc, labels,
                                     [("Spectrum", spectrum), ("Procore", procore)], fmt=_money)
    rejected = [(lab, r.record.rows_rejected) for lab, r in zip(labels, runs, strict=True)]
    if any(v is not None for _, v in rejected):
        desc = "Spectrum rows rejected in each run, oldest first: " + "; ".join(f"{lab}: {'none' if v is None else v}" for lab, v in rejected) + "."
        out["rejected"] = charts.columns(f"chart-rejected-{key}", "Rows rejected per run", desc, rejected, series="Rows rejected")
    rates = [(lab, rp.dq_pass_rate(r.record)) for lab, r in zip(labels, runs, strict=True)]
    if any(v is not None for _, v in rates):
        desc = "Share of the data-quality expectations that passed in each run, oldest first: " + "; ".join(
            f"{lab}: {'not recorded' if v is None else charts.percent(v)}" for lab, v in rates) + "."
        out["quality"] = charts.columns(f"chart-quality-{key}", "Data-quality pass rate per run", desc, rates, fmt=charts.percent,
                                        top=100, series="Expectations passed (%)")
    return out


def statuses(rows: Sequence[rp.JobRow]) -> str:
    """The Budgets page: how many jobs are in each state (all jobs, whatever the filter)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    if not counts:
        return ""
    order = [s for s in rp.STATE_LABELS if s in counts] + sorted(s for s in counts if s not in rp.STATE_LABELS)
    items = [(rp.STATE_LABELS.get(s, s), s, counts[s]) for s in order]
    desc = "Jobs per status: " + "; ".join(f"{label}: {n}" for label, _, n in items) + "."
    return charts.status_bars("chart-statuses", "Jobs per status", desc, items)
