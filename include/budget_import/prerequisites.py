"""The prerequisites of Procore's article for one job, Spectrum's side then Procore's: a job that does
not meet one is blocked with its reason (`JobBlockedError`) and never fails the others."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from include.budget_import.discovery import origin_id
from include.budget_import.plan import MERGE_MODES
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.rules import JOB_RULES_BY_REASON
from include.budget_import.spectrum_source import (
    DbConnection,
    JobReadinessFacts,
    SpectrumJob,
    find_job,
    near_jobs,
    readiness_facts,
    spectrum_errors,
)
from include.budget_import.task_values import ReadyJob


class JobBlockedError(RuntimeError):
    """A prerequisite is not met; the job is skipped with this reason (and never fails the others)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        message = JOB_RULES_BY_REASON[reason].message
        super().__init__(f"{message}{' ' + detail if detail else ''}")


@dataclass(frozen=True)
class JobRequest:
    """One job to import, as the run was triggered: the merge mode and dry run are set here, once."""

    company_code: str
    job_number: str
    procore_company_id: int
    merge_mode: str = "override"
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}, not {self.merge_mode!r}")
        for name in ("company_code", "job_number"):
            value = getattr(self, name)
            # A NUL ends the string inside the ODBC driver ('19.50\x00x' would find job 19.50): refuse
            # any control character rather than import a job the request did not name.
            if not isinstance(value, str) or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise ValueError(f"{name} must be text without control characters, not {value!r}")


def spectrum_prerequisites(spectrum: DbConnection, request: JobRequest) -> tuple[SpectrumJob, JobReadinessFacts]:
    """The job exists and is active in Spectrum; its estimate and budget facts (judged by `block_on_facts`)."""
    with spectrum_errors(request.company_code, request.job_number, "check_prerequisites"):
        job = find_job(spectrum, request.company_code, request.job_number)
    if job is None:
        with spectrum_errors(request.company_code, request.job_number, "check_prerequisites"):
            near = near_jobs(spectrum, request.company_code, request.job_number)
        detail = f"(company {request.company_code!r}, job {request.job_number!r})"
        if near:  # a mistyped company ('O1' for '01') or number ('19.5' for '19.50'): name what exists
            detail += ". Near matches: " + "; ".join(f"job {j.job_number} exists in company {j.company_code}" for j in near) + "."
        raise JobBlockedError("job_not_found", detail)
    if job.status_code == "C":
        raise JobBlockedError("job_closed")
    if job.status_code != "A":  # I, or a blank / unknown status: only active jobs import (as the nightly)
        raise JobBlockedError("job_inactive", "" if job.status_code == "I" else f"(Status_Code {job.status_code!r}, not 'A')")
    with spectrum_errors(job.company_code, job.job_number, "check_prerequisites"):
        return job, readiness_facts(spectrum, job)


def block_on_facts(facts: JobReadinessFacts, blocked: str | None) -> None:
    """Raise the job-facts suite's verdict (`quality.job_facts_blocking`) with the facts that explain it."""
    if blocked == "estimates_not_posted":
        raise JobBlockedError(blocked, f"({facts.unposted_estimate_entries} unposted estimate entries)")
    if blocked:
        raise JobBlockedError(blocked)


class ProjectDirectory:
    """Which Procore project each job's origin_id names. For a batch of many jobs of one company, one list
    of the company's projects (a call per 1,000 projects) instead of a filtered lookup per job; for one
    job, the filtered lookup (`filters[origin_id]`). Either answers the same projects in the same order."""

    def __init__(self, api: ProcoreBudgetApi, company_id: int, jobs: int = 1) -> None:
        self.api = api
        self.company_id = company_id
        self._list_all = jobs > 1
        self._by_origin: dict[str, list[dict[str, Any]]] | None = None

    def projects(self, origin: str) -> list[dict[str, Any]]:
        if not self._list_all:
            return self.api.projects(self.company_id, origin_id=origin)
        if self._by_origin is None:
            self._by_origin = {}
            for project in self.api.projects(self.company_id):
                if project.get("origin_id") is not None:
                    self._by_origin.setdefault(str(project["origin_id"]), []).append(project)
        return self._by_origin.get(origin, [])


def procore_prerequisites(api: ProcoreBudgetApi, request: JobRequest, job: SpectrumJob, directory: ProjectDirectory | None = None) -> ReadyJob:
    """The job is linked to a Procore project. The other Procore-side prerequisites (Budget tool active,
    budget unlocked, write permission) are asked before the first write (`load.BudgetLoader.require_write_permission`):
    a job whose budget already equals Spectrum's needs none of them. Returns what the later stages need."""
    company_id = request.procore_company_id
    link = origin_id(job.company_code, job.job_number)
    projects = (directory or ProjectDirectory(api, company_id)).projects(link)
    if not projects:
        raise JobBlockedError("not_linked", f"(no Procore project has origin_id {link!r})")
    project_id = int(projects[0]["id"])
    return ReadyJob(**{
        "company_code": job.company_code,
        "job_number": job.job_number,
        "stored_job_number": job.stored_job_number,
        "job_description": job.description,
        "master_job": job.master_job,
        "procore_company_id": company_id,
        "procore_project_id": project_id,
        "procore_project_name": projects[0].get("name"),
        "procore_project_number": projects[0].get("project_number"),
    })
