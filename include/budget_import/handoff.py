"""What the prepare task hands the load task, exactly (amounts never pass through float): one module, so
moving hand-offs to object storage changes this file only.

The load input (`LoadInput`): the line items as plain columns, the cost codes Procore needs and the cost
types' names, the job and project it is for, and the keys of rejected rows. Plain lists, not a pandas
frame: a 1,000-line job's input pickles in a fraction of a millisecond (a frame takes several), which a
nightly of 1,000 jobs pays twice per job (docs/performance.md). The prepare task returns its reference;
the load task reads it from that reference, never from a path it recomputes.
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from include.budget_import.artifacts import JobFolder
from include.budget_import.load import desired_lines
from include.budget_import.plan import DesiredLine, paused_gc

LOAD_INPUT = "load_input.pkl"
LOAD_COLUMNS = ("cost_code", "cost_type", "amount", "description")  # what the load reads of a line item


class LoadIdentityError(ValueError):
    """A load's input names another job or Procore project than its task: nothing may be written."""


@dataclass(frozen=True)
class LoadInput:
    line_items: dict[str, list[Any]]  # LOAD_COLUMNS; amounts as exact text
    cost_codes: dict[str, str]  # cost code -> description: every code Procore needs (line items and JTD-only rows)
    cost_types: dict[str, str]  # cost type -> its name in Spectrum (a missing line item type is created with it)
    identity: dict[str, Any]  # company_code, job_number, procore_project_id the input was prepared for, and prepared_at
    rejected: dict[tuple[str, str], str]  # (cost code, cost type) of a rejected Spectrum row -> its reason

    def desired(self) -> list[DesiredLine]:
        with paused_gc():
            return desired_lines(self.line_items)

    def names(self) -> dict[str, dict[str, str]]:
        """Readable names beside codes, for plans and snapshots: cost code descriptions, cost type names."""
        return {"cost_codes": self.cost_codes, "cost_types": self.cost_types}

    def line_item_types(self) -> dict[str, str]:
        """The cost types the line items use, with their names."""
        return {ct: self.cost_types.get(ct, ct) for ct in sorted(set(self.line_items["cost_type"]))}

    def check_identity(self, ready: Mapping[str, Any]) -> None:
        """Before the first write: the input is this task's job and project, or nothing is written."""
        wanted = {k: ready.get(k) for k in IDENTITY_KEYS}
        found = {k: self.identity.get(k) for k in IDENTITY_KEYS}
        if {k: str(v) for k, v in found.items()} != {k: str(v) for k, v in wanted.items()}:
            raise LoadIdentityError(f"the load input names {found}, but this load is for {wanted}: nothing was written")


IDENTITY_KEYS = ("company_code", "job_number", "procore_project_id")


def prepared_at() -> str:
    """When a job's Spectrum data was read and reshaped (UTC, to the microsecond): a load whose data is
    older than a newer import's that already finished must not write it (see pipeline.load)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def rejected_keys(left_out: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(cost code, cost type) of every rejected row with a usable key, and why it was rejected: override
    keeps Procore's line for it (Spectrum has the line; we could not read it)."""
    rows = left_out[left_out["outcome"] == "rejected"]
    out: dict[tuple[str, str], str] = {}
    for code, ctype, reason in zip(rows["phase_code"].tolist(), rows["cost_type"].tolist(), rows["reason"].tolist(), strict=True):
        if isinstance(code, str) and isinstance(ctype, str) and code.strip() and ctype.strip():
            out.setdefault((code, ctype), str(reason))
    return out


def write_load_input(folder: JobFolder, line_items: pd.DataFrame, cost_codes: pd.DataFrame, cost_types: dict[str, str],
                     *, identity: Mapping[str, Any], rejected: dict[tuple[str, str], str]) -> str:
    """Store a job's load input; returns the reference the load task is handed (`read_load_input`)."""
    columns = {c: line_items[c].tolist() for c in LOAD_COLUMNS}
    columns["amount"] = [str(v) for v in columns["amount"]]
    payload = {"line_items": columns, "cost_codes": dict(zip(cost_codes["cost_code"].tolist(), cost_codes["description"].tolist(), strict=True)),
               "cost_types": dict(cost_types), "identity": {**{k: identity.get(k) for k in IDENTITY_KEYS}, "prepared_at": prepared_at()},
               "rejected": [[code, ctype, reason] for (code, ctype), reason in sorted(rejected.items())]}
    path = folder.file(LOAD_INPUT)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)  # atomic: a retried load never reads half a file
    return str(path)


def read_load_input(ref: str) -> LoadInput:
    """The load input a prepare task stored under `ref` (today a file under the reports root)."""
    payload = pickle.loads(Path(ref).read_bytes())
    return LoadInput(line_items=payload["line_items"], cost_codes=payload["cost_codes"], cost_types=payload["cost_types"],
                     identity=payload.get("identity") or {}, rejected={(c, t): r for c, t, r in payload.get("rejected") or []})
