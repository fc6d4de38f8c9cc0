"""Where a run keeps its files: one folder per run and job, plus the latest status of every job.

Layout under the reports root (BUDGET_IMPORT_REPORTS_DIR, default $AIRFLOW_HOME/budget_reports):
  runs/<run id>/<job key>/        validation.json, rejects.csv, plan.json, snapshot.json, result.json
                                  (the per-job report)
  runs/<run id>/summary.json      (the run's report across jobs)
  (each job's latest status and run history: the state database, job_status_store)
A job key is one-to-one with (company, job number): see job_keys.
What the load reads is an XCom, not a file here (handoff); people read the JSON and CSV. Stdlib and
Airflow only (the root may be an object store: storage.py): the UI plugin reads the same layout through this module.
"""
from __future__ import annotations

from typing import Any

from include.budget_import.job_keys import job_key, run_part
from include.budget_import.settings import reports_root
from include.budget_import.storage import Location, StoragePath, read_json, storage_path, write_json

__all__ = ["JobFolder", "RunFolder", "StoragePath", "job_key", "read_json", "reports_root", "write_json"]


class RunFolder:
    """A run's folder under the reports root: local (a Path) or on an object store (an ObjectStoragePath,
    storage.py); every file is written atomically through storage.write_* either way."""

    def __init__(self, run_id: str, root: Location | None = None) -> None:
        self.root: StoragePath = storage_path(root) if root is not None else reports_root()
        self.run_id = run_id
        self.path = self.root / "runs" / run_part(run_id)

    def job(self, company_code: str, job_number: str) -> JobFolder:
        return JobFolder(self, company_code, job_number)

    def write_summary(self, payload: Any) -> StoragePath:
        return write_json(self.path / "summary.json", payload)


class JobFolder:
    def __init__(self, run: RunFolder, company_code: str, job_number: str) -> None:
        self.run = run
        self.company_code = company_code
        self.job_number = job_number
        self.path = run.path / job_key(company_code, job_number)

    def file(self, name: str) -> StoragePath:
        return self.path / name

    def write_json(self, name: str, payload: Any) -> StoragePath:
        return write_json(self.file(name), payload)

    def read_json(self, name: str) -> Any:
        return read_json(self.file(name))

    # the job's latest status and run history live in the state database: job_status_store
