"""Reading the budget import's reports for the UI: plain Python (stdlib and SQLAlchemy), typed, testable.

The pipeline (include/budget_import/artifacts.py) writes, under the reports root:
  runs/<run folder>/summary.json              the run's jobs with status and figures
  runs/<run folder>/<company>_<job>/          result.json, validation.json, line_item_validation.json,
                                              rejects.csv, plan.json, snapshot.json(.pdf), reconciliation.json
and each job's latest status and run history in the state database (include/budget_import/job_status_store.py:
BUDGET_IMPORT_STATE_DB, by default an SQLite file in the reports root).
This module only reads them. It must stay light: the plugin is imported by every Airflow process.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from include.budget_import import job_states, job_status_store, storage
from include.budget_import.artifacts import reports_root
from include.budget_import.job_keys import job_key, run_part
from include.budget_import.job_states import REASON_LABELS, reason_label, state_of
from include.budget_import.storage import Location, StoragePath
from include.budget_import.totals import FAILING, decimal_or_none, money, outcome_words, signed_money

# the pipeline's naming rules and words, re-exported for the app
__all__ = ["REASON_LABELS", "STATE_LABELS", "decimal_or_none", "job_key", "money", "outcome_words", "reason_label", "reports_root", "run_part",
           "signed_money", "state_of"]

# The pipeline's state labels, plus one only the UI can know: a job without a result in a run Airflow is still running.
STATE_LABELS: dict[str, str] = {**job_states.STATE_LABELS, "running": "Running"}
IMPORT_DAGS = ("spectrum_budget_import", "spectrum_budget_nightly", "spectrum_budget_restore")
LIVE_RUN_STATES = frozenset({"queued", "running", "restarting", "up_for_retry", "scheduled"})


@dataclass(frozen=True)
class AirflowRun:
    """A DAG run as Airflow's metadata database has it (the plugin runs in the api-server)."""

    dag_id: str
    run_id: str
    state: str  # Airflow's DagRunState: queued, running, success, failed

    @property
    def live(self) -> bool:
        return self.state in LIVE_RUN_STATES


# --- names (the pipeline's own rules: include/budget_import/job_keys.py) ---------------------------
_NAME = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,249}$")


def is_folder_name(text: str) -> bool:
    """A single, plain path component (no separators, no leading dot, nothing to escape with)."""
    return bool(_NAME.match(text)) and text not in {".", ".."}


# --- presentation helpers (no framework) ---------------------------------------------------------
def money_change(before: Any, after: Any) -> str:
    """after - before with a sign ('+$330.00', '-$1,500.00'); '' when either side is missing."""
    b, a = decimal_or_none(before), decimal_or_none(after)
    if b is None and a is None:
        return ""
    delta = (a or Decimal(0)) - (b or Decimal(0))
    if delta == 0:
        return "$0.00"
    return ("+" if delta > 0 else "") + money(delta)


DISPLAY_LIMIT = 300  # characters of one field a page shows (the downloads hold every character)


def clip(text: Any, limit: int = DISPLAY_LIMIT) -> str:
    """Text for display, cut at `limit` characters saying how long it was: a 1 MB description must not
    swallow the page (nor hide the rows after it)."""
    value = "" if text is None else str(text)
    return value if len(value) <= limit else f"{value[:limit]}… ({len(value):,} characters)"


parse_time = job_status_store.parse_time  # (one ISO-time rule for reports and the state DB)


def when(text: Any) -> str:
    """'2026-11-26T05:25:12+00:00' -> '2026-11-26 05:25 UTC'."""
    moment = parse_time(text)
    if moment is None:
        return str(text or "")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- states of a job on the Budgets page (the pipeline's own words: include/budget_import/job_states.py)
# The Budgets page's filter tabs, as Procore's Budgets tab ('Ready to Import', 'Synced'), plus ours.
FILTERS: dict[str, tuple[str, frozenset[str]]] = {
    "all": ("All", frozenset(STATE_LABELS)),
    "ready": ("Ready to Import", frozenset({"ready"})),
    "synced": ("Synced", frozenset({"synced", "synced_exceptions"})),
    "blocked": ("Blocked", frozenset({"blocked"})),
    "review": ("Needs review", frozenset({"needs_review"})),
    "failed": ("Failed", frozenset({"failed_validation", "failed_reconciliation", "failed", "incomplete"})),
}

PLAN_ACTIONS = ("create", "update", "delete", "keep")
PLAN_WORDS = {"create": "created", "update": "updated", "delete": "deleted", "keep": "kept"}


def plan_parts(plan: dict[str, Any]) -> list[tuple[str, int]]:
    """The plan's non-zero counts in order (create, update, delete, keep)."""
    return [(a, plan[a]) for a in PLAN_ACTIONS if isinstance(plan.get(a), int) and plan[a] > 0]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Figures:
    """A job's numbers, from its result: rows through the stages, the plan, and the totals an accountant
    reconciles by (include/budget_import/totals.py: Spectrum's is every extracted row's estimate)."""

    extracted: int | None = None
    line_items: int | None = None
    skipped: int | None = None
    rejected: int | None = None
    by_reason: dict[str, int] = field(default_factory=dict)
    plan: dict[str, int] = field(default_factory=dict)
    spectrum_total: str | None = None
    imported_total: str | None = None
    skipped_total: str | None = None
    rejected_total: str | None = None
    unreadable_rows: int = 0
    procore_total: str | None = None
    difference: str | None = None
    reconciliation: str = ""
    api_calls: int | None = None
    api_writes: int | None = None

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Figures | None:
        stages = result.get("stages")
        if not isinstance(stages, dict):
            return None
        extract = stages.get("extract") or {}
        validate = stages.get("validate") or {}
        reshape = stages.get("reshape") or {}
        load = stages.get("load") or {}
        api = load.get("api") or {}
        plan = load.get("plan") or {}
        given = result.get("totals")
        totals: dict[str, Any] = given if isinstance(given, dict) else {}
        return cls(
            extracted=_int(extract.get("extracted")),
            line_items=_int(reshape.get("line_items")),
            skipped=_int(reshape.get("skipped")),
            rejected=_int(reshape.get("rejected")),
            by_reason={str(k): v for k, v in (validate.get("by_reason") or {}).items() if _int(v) is not None},
            plan={a: plan[a] for a in PLAN_ACTIONS if _int(plan.get(a)) is not None},
            spectrum_total=_text(totals.get("spectrum")),
            imported_total=_text(totals.get("line_items", load.get("imported_total"))),
            skipped_total=_text(totals.get("skipped")),
            rejected_total=_text(totals.get("rejected")),
            unreadable_rows=_int(totals.get("unreadable_rows")) or 0,
            procore_total=_text(totals.get("procore", load.get("procore_total"))),
            difference=_text(totals.get("difference")),
            reconciliation=str(load.get("reconciliation") or ""),
            api_calls=_int(api.get("calls")),
            api_writes=_int(api.get("writes")),
        )

    @property
    def changes(self) -> int:
        return sum(self.plan.get(a, 0) for a in ("create", "update", "delete"))

    @property
    def balanced(self) -> bool:
        """Procore's total equals Spectrum's (every extracted row) to the cent."""
        return self.difference is not None and decimal_or_none(self.difference) == 0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class JobRow:
    """One job as a table row: its latest state, where its reports are, and its figures."""

    key: str
    company_code: str
    job_number: str
    state: str
    status: str
    description: str = ""
    reason: str = ""
    message: str = ""
    finished_at: str = ""
    mode: str = ""
    dry_run: bool = False
    project_id: str = ""
    project_name: str = ""
    run_folder: str | None = None
    has_report: bool = True  # the run folder has this job's folder (else link the run only)
    figures: Figures | None = None

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason)

    @property
    def label(self) -> str:
        return f"{self.company_code}/{self.job_number}"

    @classmethod
    def from_result(cls, result: dict[str, Any], run_folder: str | None, state: str | None = None, key: str | None = None, has_report: bool = True) -> JobRow:
        company, job = str(result.get("company_code", "")), str(result.get("job_number", ""))
        return cls(
            key=key or job_key(company, job),
            company_code=company,
            job_number=job,
            state=state or state_of(result),
            status=str(result.get("status", "")),
            description=str(result.get("job_description") or result.get("procore_project_name") or ""),
            reason=str(result.get("reason") or ""),
            message=str(result.get("message") or ""),
            finished_at=str(result.get("finished_at") or ""),
            mode=str(result.get("mode") or ""),
            dry_run=bool(result.get("dry_run")),
            project_id=str(result.get("procore_project_id") or ""),
            project_name=str(result.get("procore_project_name") or ""),
            run_folder=run_folder,
            has_report=has_report,
            figures=Figures.from_result(result),
        )


# --- reading files ---------------------------------------------------------------------------
def read_json(path: StoragePath) -> Any:
    """The parsed file (local or on an object store), or None when it is missing or not (yet) valid JSON."""
    try:
        return json.loads(storage.read_text(path))
    except (OSError, ValueError):
        return None


def read_chunks(path: StoragePath, size: int = 1024 * 1024) -> Iterator[bytes]:
    """A file's bytes in chunks (a download from an object store, without holding it whole)."""
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Download:
    name: str
    label: str
    size: int


# Files a person may download from a job's folder, in the order they are offered. Nothing else is served.
DOWNLOADS: dict[str, str] = {
    "rejects.csv": "Skipped and rejected rows (CSV)",
    "snapshot.pdf": "Procore budget before the override (PDF)",
    "snapshot.json": "Procore budget before the override (JSON)",
    "validation.json": "Data-quality results (JSON)",
    "plan.json": "Merge plan (JSON)",
    "reconciliation.json": "Reconciliation (JSON)",
    "result.json": "Job result (JSON)",
}
MEDIA_TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json", ".pdf": "application/pdf"}


@dataclass(frozen=True)
class RunInfo:
    folder: str
    run_id: str
    modified: str
    jobs: int
    by_state: dict[str, int]
    complete: bool
    airflow: AirflowRun | None = None  # the DAG run (its DAG and state), when Airflow knows it

    @property
    def running(self) -> bool:
        return self.airflow is not None and self.airflow.live


@dataclass(frozen=True)
class RunReport:
    folder: str
    run_id: str
    modified: str
    complete: bool
    jobs: list[JobRow]
    failed_jobs: list[str]
    airflow: AirflowRun | None = None

    @property
    def running(self) -> bool:
        return self.airflow is not None and self.airflow.live

    @property
    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts


@dataclass(frozen=True)
class JobReport:
    run_folder: str
    run_id: str
    row: JobRow
    result: dict[str, Any]
    validation: dict[str, Any] | None
    mapping_checks: list[dict[str, Any]] | None
    plan: dict[str, Any] | None
    reconciliation: dict[str, Any] | None
    snapshot: dict[str, Any] | None
    rejects: list[dict[str, str]]
    rejects_total: int
    downloads: list[Download]
    airflow: AirflowRun | None = None

    @property
    def snapshot_total(self) -> str | None:
        if not self.snapshot:
            return None
        if self.snapshot.get("total") is not None:
            return str(self.snapshot["total"])
        amounts = [decimal_or_none(line.get("amount")) for line in self.snapshot.get("lines") or [] if isinstance(line, dict)]
        return str(sum((a for a in amounts if a is not None), start=Decimal(0)))

    def line_checked(self, line: dict[str, Any]) -> bool:
        """Whether the reconciliation compared this line (override: all; additive: the lines created)."""
        rc = self.reconciliation or {}
        return bool(line.get("checked", rc.get("checked", False)))

    @property
    def reconciliation_checked_lines(self) -> int:
        rc = self.reconciliation or {}
        if isinstance(rc.get("checked_lines"), int):
            return int(rc["checked_lines"])
        return sum(1 for line in rc.get("lines") or [] if isinstance(line, dict) and self.line_checked(line))

    @property
    def reconciliation_line_count(self) -> int:
        """Every line the reconciliation answered for; a report from before `line_count` listed every one."""
        rc = self.reconciliation or {}
        count = _int(rc.get("line_count"))
        return count if count is not None else sum(1 for line in rc.get("lines") or [] if isinstance(line, dict))

    @property
    def reconciliation_equal_lines(self) -> int:
        """The equal lines the reconciliation counted but did not list (0 for older reports, which list them)."""
        return _int((self.reconciliation or {}).get("equal_lines")) or 0

    @property
    def reconciliation_mismatches(self) -> int:
        """Lines whose difference fails the reconciliation (a difference kept by choice does not)."""
        return sum(
            1 for line in (self.reconciliation or {}).get("lines") or []
            if isinstance(line, dict) and (line.get("outcome") in FAILING if line.get("outcome")
                                           else self.line_checked(line) and line.get("spectrum_amount") != line.get("procore_amount"))
        )


@dataclass(frozen=True)
class HistoryRow:
    """One run of a job on its page's history table."""

    record: job_status_store.RunRecord
    run_folder: str | None  # None: the run's folder is gone (retention) or on another machine

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.record.state, self.record.state)

    @property
    def finished_at(self) -> str:
        moment = self.record.finished_at if self.record.finished_at is not None else self.record.recorded_at
        return moment.isoformat()


def _iso_mtime(path: StoragePath, mtime: float | None = None) -> str:
    mtime = storage.modified(path) if mtime is None else mtime
    if mtime is None:
        return ""
    try:
        return datetime.fromtimestamp(mtime, tz=UTC).isoformat(timespec="seconds")
    except OSError:
        return ""


CSV_FIELD_BYTES = 16 * 1024 * 1024  # the pipeline cuts fields at 32,000 characters; older reports may hold longer ones


class ReportStore:
    """Read-only access to one reports root. Every path it opens is built from checked names."""

    MAX_REJECT_ROWS = 500  # rows of rejects.csv shown on a page (the download has them all)

    def __init__(self, root: Location) -> None:
        self.root = storage.storage_path(root)  # a local folder or an object store (include/budget_import/storage.py)
        storage.forget_listings(self.root)  # one store per request: never an object store listing older than the request
        self.runs_dir = self.root / "runs"
        self._times: dict[str, float | None] = {}

    # runs ---------------------------------------------------------------------------------------
    def run_folders(self) -> list[StoragePath]:
        """Run folders, the most recently written first (on an object store a folder's time is that of
        its newest file: storage.modified, one listing a run)."""
        entries = [e for e in storage.entries(self.runs_dir) if e.is_dir and is_folder_name(e.name)]
        for e in entries:
            self._times[e.name] = e.mtime if e.mtime is not None else storage.modified(e.path)
        entries.sort(key=lambda e: (self._times[e.name] or 0.0, e.name), reverse=True)
        return [e.path for e in entries]

    def _sub_folders(self, path: StoragePath) -> list[StoragePath]:
        """The job folders of a run folder (not the pipeline's own dot-folders such as .procore_cache)."""
        return sorted((e.path for e in storage.entries(path) if e.is_dir and is_folder_name(e.name)), key=lambda p: p.name)

    def run_path(self, run: str) -> StoragePath | None:
        """The folder of a run given its folder name or its Airflow run id; None if there is none."""
        name = run_part(run)
        if not is_folder_name(name):
            return None
        path = self.runs_dir / name
        return path if path.is_dir() else None

    def runs(self, limit: int = 30, airflow: dict[str, AirflowRun] | None = None) -> list[RunInfo]:
        """The latest runs; `airflow` (run folder -> Airflow's DAG run) names each run's DAG and whether it is
        still running: a job without a result in a running run is 'running', not 'no result'."""
        airflow = airflow or {}
        infos = []
        for path in self.run_folders()[:limit]:
            summary = _dict(read_json(path / "summary.json"))
            results = [r for r in (summary or {}).get("results") or [] if isinstance(r, dict)]
            by_state: dict[str, int] = {}
            for r in results:
                by_state[state_of(r)] = by_state.get(state_of(r), 0) + 1
            dag_run = airflow.get(path.name)
            run_id = next((str(r["run_id"]) for r in results if r.get("run_id")), dag_run.run_id if dag_run else path.name)
            jobs = len(results) if summary else len(self._sub_folders(path))
            if summary is None and dag_run is not None and dag_run.live and jobs:
                by_state = {"running": jobs}
            infos.append(RunInfo(path.name, run_id, _iso_mtime(path, self._times.get(path.name)), jobs, by_state, summary is not None, dag_run))
        return infos

    def job_keys(self, run: str) -> list[str]:
        """The job folders of a run (not the pipeline's own dot-folders such as .procore_cache)."""
        path = self.run_path(run)
        if path is None:
            return []
        return [p.name for p in self._sub_folders(path)]

    def run(self, run: str, airflow: AirflowRun | None = None) -> RunReport | None:
        """One run; `airflow` is its DAG run (a job without a result while it runs is 'running')."""
        path = self.run_path(run)
        if path is None:
            return None
        pending = "running" if airflow is not None and airflow.live else "incomplete"
        summary = _dict(read_json(path / "summary.json"))
        results: dict[str, dict[str, Any]] = {}
        if summary:
            for r in summary.get("results") or []:
                if isinstance(r, dict):
                    results[job_key(str(r.get("company_code", "")), str(r.get("job_number", "")))] = r
        jobs: list[JobRow] = []
        for job_dir in self._sub_folders(path):
            result = results.pop(job_dir.name, None) or _dict(read_json(job_dir / "result.json"))
            if result is None:  # still running, or its import task failed before writing a result
                company, _, job = job_dir.name.partition("_")
                jobs.append(JobRow(job_dir.name, company, job, pending, "", run_folder=path.name))
            else:
                jobs.append(JobRow.from_result(result, path.name, key=job_dir.name))
        jobs.extend(JobRow.from_result(r, path.name, key=k) for k, r in results.items())  # in summary, no folder
        run_id = next((str(r["run_id"]) for r in (summary or {}).get("results") or [] if isinstance(r, dict) and r.get("run_id")),
                      airflow.run_id if airflow else path.name)
        failed = [str(j) for j in (summary or {}).get("failed_jobs") or []]
        return RunReport(path.name, run_id, _iso_mtime(path), summary is not None, jobs, failed, airflow)

    # jobs ---------------------------------------------------------------------------------------
    def job_path(self, run: str, key: str) -> StoragePath | None:
        run_path = self.run_path(run)
        if run_path is None or not is_folder_name(key):
            return None
        path = run_path / key
        return path if path.is_dir() else None

    def job(self, run: str, key: str, airflow: AirflowRun | None = None) -> JobReport | None:
        path = self.job_path(run, key)
        if path is None:
            return None
        result = _dict(read_json(path / "result.json"))
        pending = "running" if airflow is not None and airflow.live else "incomplete"
        row = JobRow.from_result(result, path.parent.name, key=key) if result else JobRow(key, *_split_key(key), pending, "", run_folder=path.parent.name)
        rejects, total = self._rejects(path / "rejects.csv")
        checks = read_json(path / "line_item_validation.json")
        return JobReport(
            run_folder=path.parent.name,
            run_id=str((result or {}).get("run_id") or (airflow.run_id if airflow else path.parent.name)),
            row=row,
            result=result or {},
            validation=_dict(read_json(path / "validation.json")),
            mapping_checks=[c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else None,
            plan=_dict(read_json(path / "plan.json")) or _dict((result or {}).get("plan")),  # restore runs keep it in result
            reconciliation=_dict(read_json(path / "reconciliation.json")),
            snapshot=_dict(read_json(path / "snapshot.json")),
            rejects=rejects,
            rejects_total=total,
            downloads=self.downloads(path),
            airflow=airflow,
        )

    def _rejects(self, path: StoragePath) -> tuple[list[dict[str, str]], int]:
        """The rows of rejects.csv to show (each field clipped for display) and how many there are. The
        csv module's default field limit (128 KB) would fail the whole file on one long description: it
        is raised (never lowered) to what the pipeline writes at most."""
        rows: list[dict[str, str]] = []
        total = 0
        csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_BYTES))
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    total += 1
                    if len(rows) < self.MAX_REJECT_ROWS:
                        rows.append({str(k): clip(v or "") for k, v in row.items() if k is not None})
        except (OSError, csv.Error, UnicodeDecodeError):
            return [], 0
        return rows, total

    def downloads(self, job_dir: StoragePath) -> list[Download]:
        files = {e.name: e.size for e in storage.entries(job_dir) if not e.is_dir}  # one listing, local or remote
        return [Download(name, label, files[name]) for name, label in DOWNLOADS.items() if name in files]

    def download_path(self, run: str, key: str, name: str) -> StoragePath | None:
        """The file to send for a download link, or None. Only names in DOWNLOADS, only regular files
        whose real path stays inside the reports root's runs/ folder (no '..', no symlink out). On an
        object store (no symlinks; the names are checked) the object, when there is one."""
        if name not in DOWNLOADS or not is_folder_name(run) or not is_folder_name(key):
            return None
        path = self.runs_dir / run / key / name
        local, runs_local = storage.local_path(path), storage.local_path(self.runs_dir)
        if local is None or runs_local is None:
            return path if path.is_file() else None
        try:
            real = local.resolve(strict=True)
            runs_real = runs_local.resolve(strict=True)
        except OSError:
            return None
        if not real.is_relative_to(runs_real) or not real.is_file():
            return None
        return real

    # the Budgets page ----------------------------------------------------------------------------
    def budget_jobs(self) -> list[JobRow]:
        """Every job with a status, in its latest state (synced, ready, blocked, failed): one query of
        the state database, each row linked to the run folder that wrote that state (when it is there)."""
        rows = []
        for status in job_status_store.latest_statuses(root=self.root):
            if not status.payload or not is_folder_name(status.key):
                continue
            named = self.run_path(status.run_id) if status.run_id else None
            run, has_report = (named.name, (named / status.key).is_dir()) if named is not None else (None, False)
            rows.append(JobRow.from_result(status.payload, run, key=status.key, has_report=has_report))
        rows.sort(key=lambda r: (r.company_code, _job_sort_key(r.job_number), r.key))
        return rows

    def job_history(self, key: str, limit: int = 20) -> list[HistoryRow]:
        """The job's runs, newest first, each with its run folder when that is still there."""
        if not is_folder_name(key):
            return []
        out = []
        for record in job_status_store.job_history_by_key(key, limit=limit, root=self.root):
            named = self.run_path(record.run_id)
            out.append(HistoryRow(record, named.name if named is not None and (named / key).is_dir() else None))
        return out

    def find_job_run(self, key: str) -> str | None:
        """The run folder of the job's newest recorded result; for reports from before the state
        database, the newest run folder that has a folder for this job."""
        if not is_folder_name(key):
            return None
        for row in self.job_history(key, limit=5):
            if row.run_folder:
                return row.run_folder
        for run in self.run_folders():
            if (run / key).is_dir():
                return run.name
        return None


def _job_sort_key(job_number: str) -> tuple[Any, ...]:
    """'9.50' before '19.50', '4410' before '4499': numbers compared as numbers, the rest as text."""
    parts = re.split(r"(\d+)", job_number)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def _split_key(key: str) -> tuple[str, str]:
    company, _, job = key.partition("_")
    return company, job


def filter_rows(rows: list[JobRow], show: str, query: str = "") -> list[JobRow]:
    states = FILTERS.get(show, FILTERS["all"])[1]
    needle = query.strip().lower()
    return [
        r for r in rows
        if r.state in states and (not needle or needle in f"{r.company_code}/{r.job_number} {r.description} {r.project_name}".lower())
    ]


def filter_counts(rows: list[JobRow]) -> dict[str, int]:
    return {name: sum(1 for r in rows if r.state in states) for name, (_, states) in FILTERS.items()}


def table_columns(rows: list[dict[str, Any]], first: tuple[str, ...] = ("row_id",)) -> list[str]:
    """The union of the keys of a list of row dicts, in first-seen order (row_id first)."""
    columns: list[str] = [c for c in first if any(c in r for r in rows)]
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


# --- data for the charts (charts.py draws them) ----------------------------------------------------
@dataclass(frozen=True)
class CostTypeTotal:
    cost_type: str
    name: str
    spectrum: Decimal | None
    procore: Decimal | None


def _add(total: Decimal | None, value: Any) -> Decimal | None:
    amount = decimal_or_none(value)
    if amount is None:
        return total
    return amount if total is None else total + amount


def cost_type_totals(report: JobReport) -> tuple[list[CostTypeTotal], str]:
    """Spectrum's and Procore's budget by cost type, exact, and where the figures come from ('' if nowhere).
    From the reconciliation (every Spectrum line item with Procore's amount of the same cost code and type,
    and Procore's lines Spectrum has not; a dry run's too: Procore as it is): its `by_cost_type` totals, or
    for a report from before them, its lines summed. Else, for an override plan, Spectrum's amounts after
    and Procore's before: the plan's `by_cost_type`, or its lines for an older plan that listed every
    line (an additive plan keeps no Spectrum amount for the lines it keeps, so it gives no chart)."""
    names = {str(k): str(v) for k, v in (((report.plan or {}).get("names") or {}).get("cost_types") or {}).items()}
    spectrum: dict[str, Decimal | None] = {}
    procore: dict[str, Decimal | None] = {}
    rc = report.reconciliation or {}
    plan = report.plan or {}
    lines = [line for line in rc.get("lines") or [] if isinstance(line, dict)]
    if isinstance(rc.get("by_cost_type"), dict):
        source = "reconciliation"
        for ct, sums in rc["by_cost_type"].items():
            sums = sums if isinstance(sums, dict) else {}
            spectrum[str(ct)], procore[str(ct)] = decimal_or_none(sums.get("spectrum")), decimal_or_none(sums.get("procore"))
    elif lines:
        source = "reconciliation"
        for line in lines:
            ct = str(line.get("cost_type") or "")
            spectrum[ct] = _add(spectrum.get(ct), line.get("spectrum_amount"))
            procore[ct] = _add(procore.get(ct), line.get("procore_amount"))
    elif plan and plan.get("mode") != "additive" and isinstance(plan.get("by_cost_type"), dict):
        source = "plan"
        for ct, sums in plan["by_cost_type"].items():
            sums = sums if isinstance(sums, dict) else {}
            spectrum[str(ct)], procore[str(ct)] = decimal_or_none(sums.get("after")), decimal_or_none(sums.get("before"))
    elif plan and plan.get("mode") != "additive" and not plan.get("keep_equal"):  # an older plan, every line listed
        source = "plan"
        for action in PLAN_ACTIONS:
            for line in plan.get(action) or []:
                if not isinstance(line, dict):
                    continue
                ct = str(line.get("cost_type") or "")
                spectrum.setdefault(ct, None)
                procore.setdefault(ct, None)
                if action != "delete":
                    spectrum[ct] = _add(spectrum[ct], line.get("amount_after"))
                if action != "create":
                    procore[ct] = _add(procore[ct], line.get("amount_before"))
    else:
        return [], ""
    keys = sorted(set(spectrum) | set(procore))
    return [CostTypeTotal(k, names.get(k, ""), spectrum.get(k), procore.get(k)) for k in keys], source


def dq_pass_rate(record: job_status_store.RunRecord) -> Decimal | None:
    """Share of data-quality expectations that passed in that run, in percent (exact), None if not recorded."""
    passed, failed = record.dq_passed, record.dq_failed
    if passed is None or failed is None or passed + failed == 0:
        return None
    return Decimal(100 * passed) / Decimal(passed + failed)


def preflight_report(reports: ReportStore) -> dict[str, Any] | None:
    """The newest preflight report (include/budget_import/preflight.py writes preflight/latest.json), or None."""
    return _dict(read_json(reports.root / "preflight" / "latest.json"))
