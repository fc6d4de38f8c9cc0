"""The values tasks pass each other, as typed dictionaries: what XCom stores is exactly these (JSON by
construction, no custom deserialiser to allow), and mypy checks every key read against them.

A batch -> prepare_batch -> BatchOutcome (its ready jobs and its blocked ones) -> ready_jobs ->
PreparedJob per load_job -> a job result per job -> summarise.
"""
from __future__ import annotations

from typing import Any, TypedDict


class JobToImport(TypedDict):
    company_code: str
    job_number: str
    procore_company_id: int


class Batch(TypedDict):
    """Consecutive jobs of one company, prepared by one task (its label names it in the UI)."""

    company_code: str
    label: str
    jobs: list[JobToImport]


class RequestFields(TypedDict):
    """A JobRequest, as it travels (prerequisites.JobRequest(**fields) rebuilds it)."""

    company_code: str
    job_number: str
    procore_company_id: int
    merge_mode: str
    dry_run: bool


class ReadyJob(TypedDict):
    """A job that met every prerequisite, with what the later stages need of it and its project."""

    company_code: str
    job_number: str
    stored_job_number: str
    job_description: str | None
    master_job: str | None
    procore_company_id: int
    procore_project_id: int
    procore_project_name: str | None
    procore_project_number: str | None


class LoadInputRef(TypedDict):
    """Where a job's load input is (handoff): an XCom of the prepare task instance (`task_id`,
    `map_index`, `key`); `task_id` empty for a hand-off kept in the process's memory (outside Airflow)."""

    task_id: str
    map_index: int
    key: str


class PreparedJob(TypedDict):
    """A job ready to load: its request, its facts, its stages' figures, and the reference of its load
    input (handoff.read_load_input)."""

    request: RequestFields
    ready: ReadyJob
    stages: dict[str, Any]
    load_input: LoadInputRef


class BatchOutcome(TypedDict):
    ready: list[PreparedJob]
    blocked: list[dict[str, Any]]  # the job results of the batch's blocked jobs (job_reports.blocked_result)
