"""The prerequisites of Procore's article for one job, Spectrum's side then Procore's: a job that does
not meet one is blocked with its reason (`JobBlockedError`) and never fails the others."""
from __future__ import annotations

from dataclasses import dataclass

from include.budget_import.discovery import origin_id
from include.budget_import.plan import MERGE_MODES
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import ProcorePermissionError
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


def procore_prerequisites(api: ProcoreBudgetApi, request: JobRequest, job: SpectrumJob) -> ReadyJob:
    """The job is linked to a Procore project whose Budget tool is active and unlocked, and these
    credentials may change it. Returns what the later stages need of the job and its project."""
    company_id = request.procore_company_id
    projects = api.projects(company_id, origin_id=origin_id(job.company_code, job.job_number))
    if not projects:
        raise JobBlockedError("not_linked", f"(no Procore project has origin_id {origin_id(job.company_code, job.job_number)!r})")
    project_id = int(projects[0]["id"])
    try:
        if not api.budget_tool_active(company_id, project_id):
            raise JobBlockedError("budget_tool_inactive", f"(project {project_id})")
        if api.budget_locked(company_id, project_id):
            raise JobBlockedError("procore_budget_locked", f"(project {project_id})")
    except ProcorePermissionError as exc:
        raise JobBlockedError("no_permission", f"({exc.detail})") from None
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
