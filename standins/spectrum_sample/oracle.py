"""The oracle: expected outcomes, computed in Python directly from the generated rows.

This deliberately does NOT run the pipeline's SQL; tests compare the pipeline's results with it.

Rules (documented in README.md, "Manifest"):

* trimmed = leading and trailing spaces removed (SQL ``TRIM``, Python ``str.strip(" ")``);
* job-to-date cost of a line = SUM(Tran_Amount) over the job's transactions with the same trimmed
  phase code and cost type (0 when there are none);
* the job's blocked reason is the first that applies, in this order: job_not_found, job_closed,
  job_inactive, estimates_not_posted, budget_not_locked, not_linked, budget_tool_inactive,
  procore_budget_locked (no_permission depends on the API client, not the job: see ``companies``);
* a line's outcome is the first that applies, in this order: missing_key, duplicate_key,
  unknown_cost_type, amount_precision, description_too_long, negative_estimate (all ``rejected``),
  no_estimate_or_cost, estimate_not_positive (``skipped``), else ``line_item``;
* override mode: the Procore budget ends up with exactly the job's line items (existing ones replaced);
  keep-existing mode: existing line items stay, and line items for combinations not yet in Procore are
  added. Blocked jobs leave the Procore budget as it was.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from typing import IO

from .generate import SCALE, JobBundle
from .schema import TABLES

MANIFEST_FORMAT = "spectrum-sample-manifest/1"
MAX_DESCRIPTION = 25
BLOCK_ORDER = (
    "job_not_found", "job_closed", "job_inactive", "estimates_not_posted", "budget_not_locked", "not_linked",
    "budget_tool_inactive", "procore_budget_locked", "no_permission",
)
REJECT_REASONS = ("missing_key", "duplicate_key", "unknown_cost_type", "amount_precision", "description_too_long",
                  "negative_estimate")
SKIP_REASONS = ("no_estimate_or_cost", "estimate_not_positive")

# column positions (schema order)
_P = {c: i for i, c in enumerate(TABLES[2].column_names)}  # JC_PHASE_MASTER_MC
_T = {c: i for i, c in enumerate(TABLES[4].column_names)}  # JC_TRANSACTION_HISTORY_MC
_E = {c: i for i, c in enumerate(TABLES[3].column_names)}  # JC_PHASE_ESTIMATES_MC
assert TABLES[2].name == "JC_PHASE_MASTER_MC" and TABLES[4].name == "JC_TRANSACTION_HISTORY_MC"
assert TABLES[3].name == "JC_PHASE_ESTIMATES_MC"

_Q4 = Decimal("0.0001")
_Q2 = Decimal("0.01")


def trim(s: str | None) -> str | None:
    return None if s is None else s.strip(" ")


def fmt4(d: Decimal | None) -> str | None:
    return None if d is None else str(d.quantize(_Q4))


def fmt2(d: Decimal) -> str:
    return str(d.quantize(_Q2))


def has_subcent(d: Decimal | None) -> bool:
    return d is not None and d != d.quantize(_Q2)


def classify(phase: str, cost_type: str, description: str | None, estimate: Decimal | None, jtd: Decimal,
             duplicated: bool, cost_types: frozenset[str]) -> tuple[str, str | None]:
    """(expected_outcome, reason) of one phase row; trimmed keys expected."""
    if phase == "" or cost_type == "":
        return "rejected", "missing_key"
    if duplicated:
        return "rejected", "duplicate_key"
    if cost_type not in cost_types:
        return "rejected", "unknown_cost_type"
    if has_subcent(estimate) or has_subcent(jtd):
        return "rejected", "amount_precision"
    if description is not None and len(description) > MAX_DESCRIPTION:
        return "rejected", "description_too_long"
    if estimate is not None and estimate < 0:
        return "rejected", "negative_estimate"
    if (estimate is None or estimate == 0) and jtd == 0:
        return "skipped", "no_estimate_or_cost"
    if estimate is None or estimate == 0:
        return "skipped", "estimate_not_positive"
    return "line_item", None


def job_manifest(b: JobBundle) -> dict:
    cc = b.company.code
    origin = f"{cc}|{b.job_number}"
    linked = [p for p in b.projects if p["origin_id"] == origin]
    project = linked[0] if linked else None
    existing = {}
    if project:
        existing = {f"{li['cost_code']}|{li['line_item_type']}": li["original_budget_amount"]
                    for li in project["budget_line_items"]}

    phase_rows = b.rows.get("JC_PHASE_MASTER_MC", [])
    jtd: dict[tuple, Decimal] = defaultdict(lambda: Decimal(0))
    tx_count: Counter = Counter()
    for r in b.rows.get("JC_TRANSACTION_HISTORY_MC", []):
        k = (trim(r[_T["Phase_Code"]]), trim(r[_T["Cost_Type"]]))
        jtd[k] += r[_T["Tran_Amount"]]
        tx_count[k] += 1
    keys = [(trim(r[_P["Phase_Code"]]), trim(r[_P["Cost_Type"]])) for r in phase_rows]
    key_count = Counter(keys)
    unposted = any(r[_E["Posted_Status"]] != "P" for r in b.rows.get("JC_PHASE_ESTIMATES_MC", []))

    lines = []
    items: dict[str, str] = {}
    for r, k, tags in zip(phase_rows, keys, b.line_tags):
        est = r[_P["Original_Est_Cost"]]
        cost = jtd[k] if k in jtd else Decimal(0)
        desc = trim(r[_P["Description"]])
        outcome, reason = classify(k[0], k[1], desc, est, cost, key_count[k] > 1, b.company.cost_type_codes)
        amount = fmt2(est) if outcome == "line_item" else None
        if amount is not None:
            items[f"{k[0]}|{k[1]}"] = amount
        lines.append({
            "phase_code": k[0], "cost_type": k[1], "description": desc,
            "original_estimate": fmt4(est), "jtd_cost": fmt4(cost), "transaction_count": tx_count[k],
            "expected_outcome": outcome, "reason": reason, "budget_amount": amount,
            "phase_code_raw": r[_P["Phase_Code"]], "cost_type_raw": r[_P["Cost_Type"]],
            "description_raw": r[_P["Description"]], "tags": list(tags),
        })

    job = b.job_row
    status = job[4] if job else None
    if job is None:
        reason = "job_not_found"
    elif status == "C":
        reason = "job_closed"
    elif status == "I":
        reason = "job_inactive"
    elif unposted:
        reason = "estimates_not_posted"
    elif job[9] != "Y":
        reason = "budget_not_locked"
    elif project is None:
        reason = "not_linked"
    elif not project["budget_tool_active"]:
        reason = "budget_tool_inactive"
    elif project["budget_locked"]:
        reason = "procore_budget_locked"
    else:
        reason = None

    if reason is None:
        expected = dict(sorted(items.items()))
        keep = dict(existing)
        for key, amount in items.items():
            keep.setdefault(key, amount)
        keep = dict(sorted(keep.items()))
    else:
        expected = dict(sorted(existing.items()))
        keep = dict(expected)

    outcome_counts = Counter(ln["expected_outcome"] for ln in lines)
    return {
        "company_code": cc,
        "job_number": b.job_number,
        "job_number_raw": job[1] if job else None,
        "in_spectrum": job is not None,
        "description": trim(job[3]) if job else None,
        "status_code": status,
        "master_job": trim(job[2]) if job else None,
        "lock_estimate_entry": job[9] if job else None,
        "has_unposted_estimates": unposted,
        "procore_company_id": b.company.procore_company_id,
        "procore_project_id": project["id"] if project else None,
        "origin_id": origin,
        "expected_status": "ready" if reason is None else "blocked",
        "blocked_reason": reason,
        "scenario": b.scenario,
        "line_counts": {o: outcome_counts.get(o, 0) for o in ("line_item", "skipped", "rejected")},
        "existing_procore_budget": dict(sorted(existing.items())),
        "expected_budget": expected,
        "expected_budget_keep_existing": keep,
        "lines": lines,
    }


class ManifestWriter:
    """Streams the manifest JSON: header, then one job at a time, then totals."""

    def __init__(self, fh: IO[str], dataset, *, indent: int | None = None):
        self.fh = fh
        self.indent = indent
        self.first = True
        self.counts = {t.name: 0 for t in TABLES}
        self.status = Counter()
        self.reasons = Counter()
        self.outcomes = Counter()
        self.line_reasons = Counter()
        self.tags = Counter()
        header = {
            "format": MANIFEST_FORMAT,
            "parameters": dataset.parameters,
            "conventions": {
                "procore_origin_id": "<company code>|<trimmed job number>",
                "trim": "leading and trailing spaces removed",
                "jtd_cost": "SUM(Tran_Amount) per trimmed phase code and cost type; 0 without transactions",
                "original_estimate": "JC_PHASE_MASTER_MC.Original_Est_Cost (NULL = no estimate)",
                "budget_key": "<trimmed phase code>|<trimmed cost type>",
                "expected_budget": "override mode: exactly the job's line items; blocked jobs: unchanged",
                "expected_budget_keep_existing": "existing line items kept, missing combinations added",
                "blocked_reason_order": list(BLOCK_ORDER),
                "line_reason_order": list(REJECT_REASONS + SKIP_REASONS),
                "max_description_length": MAX_DESCRIPTION,
            },
            "companies": [
                {
                    "company_code": c.code, "name": c.name, "procore_company_id": c.procore_company_id,
                    "cost_types": [ct.code for ct in c.cost_types],
                    "clients": [{"client_id": cl.client_id, "permission": cl.permission,
                                 "blocked_reason": None if cl.permission in ("standard", "admin") else "no_permission"}
                                for cl in c.clients],
                }
                for c in dataset.companies
            ],
        }
        self.counts["JC_COST_TYPE_MASTER_MC"] = len(dataset.cost_type_rows())
        text = json.dumps(header, ensure_ascii=False, indent=indent)
        fh.write(text[:-1].rstrip() + (",\n" if indent is not None else ",") + self._key("jobs") + "[")

    def _key(self, k: str) -> str:
        pad = " " * (self.indent or 0)
        return f'{pad}"{k}": ' if self.indent is not None else f'"{k}":'

    def add(self, bundle: JobBundle) -> None:
        m = bundle.manifest
        for table, rows in bundle.rows.items():
            self.counts[table] += len(rows)
        self.status[m["expected_status"]] += 1
        if m["blocked_reason"]:
            self.reasons[m["blocked_reason"]] += 1
        for ln in m["lines"]:
            self.outcomes[ln["expected_outcome"]] += 1
            if ln["reason"]:
                self.line_reasons[ln["reason"]] += 1
            self.tags.update(ln["tags"])
        sep = "" if self.first else ","
        self.first = False
        if self.indent is None:
            self.fh.write(sep + json.dumps(m, ensure_ascii=False, separators=(",", ":")))
        else:
            body = json.dumps(m, ensure_ascii=False, indent=self.indent)
            pad = " " * (self.indent * 2)
            self.fh.write(sep + "\n" + "\n".join(pad + ln for ln in body.splitlines()))

    def close(self) -> None:
        totals = {
            "counts": self.counts,
            "summary": {
                "jobs": sum(self.status.values()),
                "jobs_by_status": dict(sorted(self.status.items())),
                "blocked_reasons": dict(sorted(self.reasons.items())),
                "lines_by_outcome": dict(sorted(self.outcomes.items())),
                "line_reasons": dict(sorted(self.line_reasons.items())),
                "tags": dict(sorted(self.tags.items())),
            },
        }
        if self.indent is None:
            self.fh.write("]," + json.dumps(totals, ensure_ascii=False, separators=(",", ":"))[1:] + "\n")
        else:
            body = json.dumps(totals, ensure_ascii=False, indent=self.indent)
            self.fh.write("\n" + " " * self.indent + "],\n" + body[2:] + "\n")
