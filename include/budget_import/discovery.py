"""Which Spectrum jobs have a Procore project: the link is the project's `origin_id`, `<company>|<job>`.

Plain Python (no Airflow, no database driver): the nightly asks it which jobs to import, the manual
import asks it for one job's project, and the preflight which jobs are not linked yet.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SEPARATOR = "|"


def origin_id(company_code: str, job_number: str) -> str:
    """How a Procore project names its Spectrum job (project.origin_id). One place to adapt it."""
    return f"{company_code}{SEPARATOR}{job_number}"


def parse_origin_id(origin: Any) -> tuple[str, str] | None:
    """(company code, job number) of an origin_id this tool writes, or None for any other value."""
    if not isinstance(origin, str):
        return None
    company, sep, job = origin.partition(SEPARATOR)
    return (company, job) if sep and company and job else None


@dataclass(frozen=True)
class JobRef:
    company_code: str
    job_number: str
    procore_company_id: int

    def as_dict(self) -> dict[str, Any]:
        return {"company_code": self.company_code, "job_number": self.job_number, "procore_company_id": self.procore_company_id}


@dataclass
class Discovery:
    """One Spectrum company's jobs against its Procore company's projects."""

    linked: list[JobRef] = field(default_factory=list)  # active, with a project: imported
    not_linked: list[str] = field(default_factory=list)  # active job numbers no project names
    orphans: list[str] = field(default_factory=list)  # job numbers a project names that Spectrum lacks


def discover(company_code: str, procore_company_id: int, jobs: Iterable[Any], projects: Iterable[Mapping[str, Any]]) -> Discovery:
    """`jobs`: the company's Spectrum jobs (anything with job_number and status_code, trimmed);
    `projects`: the Procore company's projects (each with its origin_id). Only active jobs import."""
    linked = {parsed for p in projects if (parsed := parse_origin_id(p.get("origin_id"))) and parsed[0] == company_code}
    found = Discovery()
    known: set[str] = set()
    for job in jobs:
        known.add(job.job_number)
        if job.status_code != "A":
            continue
        if (company_code, job.job_number) in linked:
            found.linked.append(JobRef(company_code, job.job_number, procore_company_id))
        else:
            found.not_linked.append(job.job_number)
    found.orphans = sorted(job for company, job in linked if job not in known)
    return found


# --- which companies a run of the scheduled sync imports (sync frequency: sync_schedule.py) ----------
SYNC_MODES = ("auto", "due", "all")  # the scheduled DAG's `sync` param


def companies_to_sync(codes: list[str], mode: str, instant: Any, run_type: str | None) -> tuple[list[str], dict[str, Any]]:
    """The companies a run imports, and what its report says of the others. `auto`: a scheduled run
    imports the companies due at its logical date (`instant`), any other run (a manual trigger) every
    company; `due`: the companies due at `instant` whatever started the run; `all`: every company."""
    from include.budget_import.sync_schedule import configured_schedules, select_companies

    if mode not in SYNC_MODES:
        raise ValueError(f"sync must be one of {SYNC_MODES}, not {mode!r}")
    due_only = mode == "due" or (mode == "auto" and run_type == "scheduled")
    schedules = configured_schedules()
    selection = select_companies(codes, schedules, instant, due_only=due_only)
    return selection.due, selection.report(schedules, instant, "due" if due_only else "all")
