"""Where a run keeps its files: one folder per run and job, plus the latest status of every job.

Layout under the reports root (BUDGET_IMPORT_REPORTS_DIR, default $AIRFLOW_HOME/budget_reports):
  runs/<run id>/<job key>/        validation.json, rejects.csv, plan.json, snapshot.json, result.json
                                  (the per-job report) and load_input.pkl (what the load reads: handoff)
  runs/<run id>/summary.json      (the run's report across jobs)
  (each job's latest status and run history: the state database, job_status_store)
A job key is one-to-one with (company, job number): see job_keys.
load_input.pkl is the exact (Decimal) hand-off between tasks; people read the JSON and CSV. Stdlib only:
the UI plugin reads the same layout through this module.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.budget_import.job_keys import job_key, run_part
from include.budget_import.settings import reports_root

__all__ = ["JobFolder", "RunFolder", "job_key", "read_json", "reports_root", "write_json"]


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a report
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class RunFolder:
    def __init__(self, run_id: str, root: Path | None = None) -> None:
        self.root = root or reports_root()
        self.run_id = run_id
        self.path = self.root / "runs" / run_part(run_id)

    def job(self, company_code: str, job_number: str) -> JobFolder:
        return JobFolder(self, company_code, job_number)

    def write_summary(self, payload: Any) -> Path:
        return write_json(self.path / "summary.json", payload)


class JobFolder:
    def __init__(self, run: RunFolder, company_code: str, job_number: str) -> None:
        self.run = run
        self.company_code = company_code
        self.job_number = job_number
        self.path = run.path / job_key(company_code, job_number)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, payload: Any) -> Path:
        return write_json(self.file(name), payload)

    def read_json(self, name: str) -> Any:
        return read_json(self.file(name))

    # the job's latest status and run history live in the state database: job_status_store
