"""What the prepare task hands the load task, exactly (amounts never pass through float): one module.

The load input (`LoadInput`): the line items as plain columns, the cost codes Procore needs and the cost
types' names, the job and project it is for, and the keys of rejected rows. It travels as an XCom of the
prepare task (plain JSON: lists and strings, amounts as exact text), one per job under the key
`load_input <job key>`; the prepared job carries its reference (task, map index, key), and the load task
pulls exactly that XCom. So no worker needs another's disk: the value is in Airflow's metadata database,
or, with Airflow's object-storage XCom backend (common-io provider; docs/deployment.md), in S3 / GCS
past its size threshold. Outside an Airflow task (the benchmark, tests that prepare and load in one
process) the hand-off stays in this process's memory, under the same kind of reference.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from include.budget_import.artifacts import JobFolder
from include.budget_import.job_keys import job_key
from include.budget_import.load import desired_lines
from include.budget_import.plan import DesiredLine, paused_gc
from include.budget_import.task_values import LoadInputRef

_IN_PROCESS: dict[str, dict[str, Any]] = {}  # the hand-offs made outside an Airflow task, by reference key

XCOM_KEY = "load_input"  # + " <job key>": one XCom per job of a batch
LOAD_COLUMNS = ("cost_code", "cost_type", "amount", "description")  # what the load reads of a line item


class LoadIdentityError(ValueError):
    """A load's input names another job or Procore project than its task: nothing may be written."""


class LoadInputMissingError(RuntimeError):
    """The prepare task's hand-off is gone (its XCom cleared, or another process's memory): prepare again."""


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
                     *, identity: Mapping[str, Any], rejected: dict[tuple[str, str], str]) -> LoadInputRef:
    """Hand a job's load input on (an XCom of the running task); returns the reference the load task is
    given (`read_load_input`)."""
    columns = {c: line_items[c].tolist() for c in LOAD_COLUMNS}
    columns["amount"] = [str(v) for v in columns["amount"]]
    payload = {"line_items": columns, "cost_codes": dict(zip(cost_codes["cost_code"].tolist(), cost_codes["description"].tolist(), strict=True)),
               "cost_types": dict(cost_types), "identity": {**{k: identity.get(k) for k in IDENTITY_KEYS}, "prepared_at": prepared_at()},
               "rejected": [[code, ctype, reason] for (code, ctype), reason in sorted(rejected.items())]}
    key = _xcom_key(folder.company_code, folder.job_number)
    ti = _running_task()
    if ti is None:
        ref = in_process_ref(folder.run.run_id, folder.company_code, folder.job_number)
        _IN_PROCESS[ref["key"]] = payload
        return ref
    ti.xcom_push(key=key, value=payload)  # a retried prepare task pushes it again (Airflow cleared the first)
    return LoadInputRef(task_id=str(ti.task_id), map_index=int(ti.map_index if ti.map_index is not None else -1), key=key)


def read_load_input(ref: LoadInputRef) -> LoadInput:
    """The load input a prepare task handed on under `ref`."""
    if ref["task_id"]:
        ti = _running_task()
        if ti is None:
            raise LoadInputMissingError(f"the load input {ref['key']!r} is an XCom of task {ref['task_id']}: read it inside the run's tasks")
        payload = ti.xcom_pull(task_ids=ref["task_id"], map_indexes=ref["map_index"], key=ref["key"])
    else:
        payload = _IN_PROCESS.get(ref["key"])
    if not isinstance(payload, dict):
        raise LoadInputMissingError(f"the load input {ref['key']!r} of task {ref['task_id'] or '(this process)'} is gone "
                                    "(its XCom was cleared?): clear the job's prepare task too, so it is prepared again")
    return LoadInput(line_items=payload["line_items"], cost_codes=payload["cost_codes"], cost_types=payload["cost_types"],
                     identity=payload.get("identity") or {}, rejected={(c, t): r for c, t, r in payload.get("rejected") or []})


def in_process_ref(run_id: str, company_code: str, job_number: str) -> LoadInputRef:
    """The reference of a job's hand-off made outside Airflow (one process prepares and loads)."""
    return LoadInputRef(task_id="", map_index=-1, key=f"{run_id}/{_xcom_key(company_code, job_number)}")


def _xcom_key(company_code: str, job_number: str) -> str:
    return f"{XCOM_KEY} {job_key(company_code, job_number)}"


def discard_in_process(ref: LoadInputRef) -> None:
    """Forget a hand-off kept in this process (the benchmark, done with a job): XComs are Airflow's to clear."""
    if not ref["task_id"]:
        _IN_PROCESS.pop(ref["key"], None)


def _running_task() -> Any:
    """The running Airflow task instance, or None outside a task."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()["ti"]
    except (ImportError, RuntimeError, KeyError):
        return None
