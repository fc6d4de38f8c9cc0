"""Prepare many jobs for their load at once: both DAGs' path (the manual DAG's is a batch of one).

Prerequisites and extraction run job by job (the job-facts suite once for the batch); validation (Great
Expectations) and reshaping (pandas) run once per batch of extracted jobs of one company. Great
Expectations costs about 0.1 s per validation call whatever the rows, so a job per call cost the nightly
100 s at 1,000 jobs; a batch costs it once
(docs/performance.md). Every job still gets its own reports and figures, exactly as if it had been
prepared alone, and the file its load reads (`handoff.LoadInput`).

A job that is blocked gets its blocked result and status. A job whose own data or Procore project
refuses it in a way a retry will not heal (Spectrum data to fix, a 4xx from Procore for that project)
is reported as failed and left out; the batch goes on. Anything that may pass (Spectrum or Procore
unreachable) raises, so Airflow retries the batch: preparing writes nothing to Procore, so a retry is
harmless.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from include.budget_import import quality
from include.budget_import.artifacts import JobFolder, RunFolder
from include.budget_import.job_reports import (
    blocked_result,
    reshape_report,
    validation_report,
)
from include.budget_import.prerequisites import (
    JobBlockedError,
    JobRequest,
    ProjectDirectory,
    block_on_facts,
    procore_prerequisites,
    spectrum_prerequisites,
)
from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.errors import ProcoreAuthError, ProcoreError
from include.budget_import.reshape import extracted_frame, reshape_many
from include.budget_import.spectrum_source import (
    DbConnection,
    JobReadinessFacts,
    SpectrumDataError,
    SpectrumJob,
    TransactionJobNumbers,
    cost_types,
    iter_budget_lines,
    spectrum_errors,
    transaction_job_numbers,
)
from include.budget_import.task_values import PreparedJob, ReadyJob, RequestFields

log = logging.getLogger(__name__)

# Rows validated and reshaped together: bounds the batch's memory (about 1.2 KB a row while it is
# validated) whatever the jobs' sizes; a job is never split.
ROWS_PER_VALIDATION = 250_000


def extract_lines(spectrum: DbConnection, job: SpectrumJob, transactions: TransactionJobNumbers | None = None) -> pd.DataFrame:
    """The job's budget lines as a frame, exact Decimals, in memory."""
    with spectrum_errors(job.company_code, job.job_number, "extract"):
        return extracted_frame(iter_budget_lines(spectrum, job, transactions=transactions))


def company_transaction_job_numbers(spectrum: DbConnection, job: SpectrumJob) -> TransactionJobNumbers:
    with spectrum_errors(job.company_code, job.job_number, "extract"):
        return transaction_job_numbers(spectrum, job.company_code)


def company_cost_types(spectrum: DbConnection, job: SpectrumJob) -> dict[str, str]:
    with spectrum_errors(job.company_code, job.job_number, "extract"):
        return cost_types(spectrum, job.company_code)


@dataclass
class ExtractedJob:
    request: JobRequest
    ready: ReadyJob
    folder: JobFolder
    frame: pd.DataFrame
    cost_types: dict[str, str]
    extract: dict[str, Any]


@dataclass
class PreparedBatch:
    prepared: list[PreparedJob] = field(default_factory=list)  # ready to load: request, ready, stages, load_input (its reference)
    blocked: list[dict[str, Any]] = field(default_factory=list)  # blocked results (already reported)
    failed: list[tuple[JobRequest, Exception]] = field(default_factory=list)  # errors a retry will not heal


def job_specific(error: Exception) -> bool:
    """An error that concerns this job alone and will not heal on retry (its type's `retry_helps`).
    Refused credentials concern every job: they fail the batch instead."""
    return isinstance(error, (SpectrumDataError, ProcoreError)) and not error.retry_helps and not isinstance(error, ProcoreAuthError)


def prepare_jobs(
    spectrum: DbConnection, api: ProcoreBudgetApi, requests: Sequence[JobRequest], run: RunFolder,
    rows_per_validation: int = ROWS_PER_VALIDATION,
) -> PreparedBatch:
    batch = PreparedBatch()
    pending: list[ExtractedJob] = []
    for extracted in _extracted_jobs(spectrum, api, requests, run, batch):
        pending.append(extracted)
        if sum(len(e.frame) for e in pending) >= rows_per_validation:
            batch.prepared += validate_and_reshape(pending)
            pending = []
    if pending:
        batch.prepared += validate_and_reshape(pending)
    return batch


def _extracted_jobs(
    spectrum: DbConnection, api: ProcoreBudgetApi, requests: Sequence[JobRequest], run: RunFolder, batch: PreparedBatch
) -> Iterator[ExtractedJob]:
    """The prerequisites in the article's order, Spectrum's side for every job first so the job-facts
    suite (estimates posted, budget locked) is one GE call for the batch; then, job by job, Procore's side
    and the extraction."""
    in_spectrum: list[tuple[JobRequest, JobFolder, SpectrumJob, JobReadinessFacts, float]] = []
    for request in requests:
        folder = run.job(request.company_code, request.job_number)
        started = time.perf_counter()
        with _reported(request, folder, batch) as reported:
            job, facts = spectrum_prerequisites(spectrum, request)
        if reported.ok:
            in_spectrum.append((request, folder, job, facts, time.perf_counter() - started))
    judged = time.perf_counter()
    verdicts = quality.job_facts_blocking([(facts.estimates_posted, facts.budget_locked) for _, _, _, facts, _ in in_spectrum])
    facts_share = (time.perf_counter() - judged) / max(len(in_spectrum), 1)
    cost_types_by_company: dict[str, dict[str, str]] = {}
    transactions_by_company: dict[str, TransactionJobNumbers] = {}
    jobs_per_company = Counter(request.procore_company_id for request, *_ in in_spectrum)
    directories = {company: ProjectDirectory(api, company, jobs) for company, jobs in jobs_per_company.items()}
    for (request, folder, job, facts, spectrum_seconds), blocked in zip(in_spectrum, verdicts, strict=True):
        started = time.perf_counter()
        with _reported(request, folder, batch) as reported:
            block_on_facts(facts, blocked)
            ready = procore_prerequisites(api, request, job, directories[request.procore_company_id])
            extract_started = time.perf_counter()
            if job.company_code not in cost_types_by_company:  # one query each per company and batch
                transactions_by_company[job.company_code] = company_transaction_job_numbers(spectrum, job)
                cost_types_by_company[job.company_code] = company_cost_types(spectrum, job)
            frame = extract_lines(spectrum, job, transactions_by_company[job.company_code])
        if not reported.ok:
            continue
        figures = {"extracted": len(frame), "seconds": round(time.perf_counter() - extract_started, 3),
                   "prerequisites_seconds": round(spectrum_seconds + facts_share + extract_started - started, 3)}
        yield ExtractedJob(request, ready, folder, frame, cost_types_by_company[job.company_code], figures)


@dataclass
class _Outcome:
    ok: bool = True


@contextmanager
def _reported(request: JobRequest, folder: JobFolder, batch: PreparedBatch) -> Iterator[_Outcome]:
    """A blocked job gets its blocked result; a job's own error is kept as failed; either way the batch
    goes on (`outcome.ok` is False). Anything else raises."""
    outcome = _Outcome()
    try:
        yield outcome
    except JobBlockedError as exc:
        log.warning("%s/%s blocked: %s", request.company_code, request.job_number, exc)
        batch.blocked.append(blocked_result(request, exc, folder))
        outcome.ok = False
    except Exception as exc:
        if not job_specific(exc):
            raise
        log.error("%s/%s cannot be prepared: %s", request.company_code, request.job_number, exc)
        batch.failed.append((request, exc))
        outcome.ok = False


def validate_and_reshape(jobs: Sequence[ExtractedJob]) -> list[PreparedJob]:
    """One GE validation per set of known cost types (a company's), one reshape for all; each job's
    reports written to its folder. Each job's `seconds` is its share of the batch's time."""
    prepared: dict[int, PreparedJob] = {}
    groups: dict[tuple[str, ...], list[int]] = {}
    for n, job in enumerate(jobs):
        groups.setdefault(tuple(sorted(job.cost_types)), []).append(n)
    for known, members in groups.items():
        started = time.perf_counter()
        validations = quality.validate_rows_many({n: jobs[n].frame for n in members}, list(known))
        validated = time.perf_counter()
        reshaped = reshape_many([jobs[n].frame for n in members], [validations[n].reasons for n in members])
        validate_share = (validated - started) / len(members)
        reshape_share = (time.perf_counter() - validated) / len(members)
        for n, result in zip(members, reshaped, strict=True):
            job = jobs[n]
            writing = time.perf_counter()
            validated_figures = validation_report(job.folder, len(job.frame), validations[n], validate_share)
            reshaping = time.perf_counter()
            reshaped_figures, load_input = reshape_report(job.folder, result, job.cost_types, reshape_share, job.ready)
            validated_figures["seconds"] = round(validate_share + reshaping - writing, 3)  # + its own report's writing
            reshaped_figures["seconds"] = round(reshape_share + time.perf_counter() - reshaping, 3)
            stages = {"extract": job.extract, "validate": validated_figures, "reshape": reshaped_figures}
            prepared[n] = PreparedJob(request=_request_fields(job.request), ready=job.ready, stages=stages, load_input=load_input)
    return [prepared[n] for n in range(len(jobs))]


def _request_fields(request: JobRequest) -> RequestFields:
    return RequestFields(company_code=request.company_code, job_number=request.job_number, procore_company_id=request.procore_company_id,
                         merge_mode=request.merge_mode, dry_run=request.dry_run)
