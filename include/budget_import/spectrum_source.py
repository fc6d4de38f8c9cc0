"""Reads Spectrum's job-cost tables over any DB-API connection (pyodbc through OdbcHook in Airflow).

Everything a query returns passes through `normalise_*` here: keys are trimmed (Spectrum pads job
numbers) and amounts become exact Decimals, whatever driver answered.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from include.budget_import.money import MoneyError, db_amount
from include.budget_import.sql_files import load_sql

log = logging.getLogger(__name__)
NOT_AN_AMOUNT = Decimal("NaN")  # an amount the driver returned that is no number: rule `amount_invalid`


class SpectrumError(RuntimeError):
    """Spectrum could not be read (connection refused or dropped, query timed out...) for one job and
    stage. Raised before anything is written to Procore, so the job is never reported as synced; the
    task fails and Airflow retries it."""

    def __init__(self, company_code: str, job_number: str, stage: str, cause: BaseException) -> None:
        self.company_code = company_code
        self.job_number = job_number
        self.stage = stage
        args = getattr(cause, "args", ())
        # pyodbc errors are (SQLSTATE, message): keep the message, on one line
        text = args[-1] if len(args) >= 2 and isinstance(args[-1], str) else str(cause)
        detail = " ".join(text.split())[:500]
        # (no f-strings in this module: tests/spectrum_extract check by AST that no SQL text is built here)
        super().__init__(
            "Spectrum could not be read for job " + company_code + "/" + job_number + " (stage " + stage + "): "
            + type(cause).__name__ + ": " + detail + ". Nothing was written to Procore for this job."
        )


def database_errors() -> tuple[type[BaseException], ...]:
    """The DB-API error classes of the drivers in use (pyodbc in Airflow, sqlite3 in some tools)."""
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import pyodbc

        errors.append(pyodbc.Error)
    except ImportError:  # pragma: no cover - pyodbc is a requirement; tolerate its absence in tools
        pass
    return tuple(errors)


@contextmanager
def spectrum_errors(company_code: str, job_number: str, stage: str) -> Iterator[None]:
    """Turn a driver's error while reading one job's data into a SpectrumError naming job and stage."""
    try:
        yield
    except database_errors() as exc:
        raise SpectrumError(company_code, str(job_number).strip(), stage, exc) from exc


class DbConnection(Protocol):
    def cursor(self) -> Any: ...


@dataclass(frozen=True)
class SpectrumJob:
    company_code: str
    job_number: str  # trimmed, as people write it
    stored_job_number: str  # as stored (padded): the key the other queries seek on
    master_job: str | None
    description: str | None
    status_code: str  # A active, I inactive, C closed


@dataclass(frozen=True)
class JobReadinessFacts:
    """Spectrum's side of the seed's prerequisites for one job."""

    unposted_estimate_entries: int
    budget_locked: bool

    @property
    def estimates_posted(self) -> bool:
        return self.unposted_estimate_entries == 0


# Column names of an extracted budget line, in the order every later stage uses.
EXTRACT_COLUMNS: tuple[str, ...] = (
    "company_code",
    "job_number",
    "phase_code",
    "cost_type",
    "description",
    "unit_of_measure",
    "est_quantity",
    "est_unit_cost",
    "original_estimate",
    "jtd_cost",
)
AMOUNT_COLUMNS = ("est_quantity", "est_unit_cost", "original_estimate", "jtd_cost")


def trim_key(value: object) -> str | None:
    """Spectrum keys are space-padded varchars; a blank key is missing (None)."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    return str(value).strip() or None


def trim_text(value: object) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    return str(value).strip() or None


def _job(row: Sequence[Any]) -> SpectrumJob:
    company, stored, master, description, status = row
    return SpectrumJob(
        company_code=trim_key(company) or "",
        job_number=trim_key(stored) or "",
        stored_job_number=str(stored),
        master_job=trim_key(master),
        description=trim_text(description),
        status_code=(trim_key(status) or "").upper(),
    )


def _query(conn: DbConnection, sql_name: str, params: Sequence[Any]) -> list[Sequence[Any]]:
    cursor = conn.cursor()
    try:
        cursor.execute(load_sql(sql_name), list(params))
        return cursor.fetchall()
    finally:
        cursor.close()


def list_jobs(conn: DbConnection, company_code: str) -> list[SpectrumJob]:
    return [_job(row) for row in _query(conn, "spectrum_jobs", [company_code])]


class SpectrumDataError(ValueError):
    """Spectrum's data cannot be imported as it stands (e.g. two jobs with one number): fix it in Spectrum."""


def find_job(conn: DbConnection, company_code: str, job_number: str) -> SpectrumJob | None:
    """The job whose trimmed number is `job_number`, or None. Input is bound, never spliced into SQL.
    Two stored numbers that trim alike ('     19.50', '19.50     ') are refused, never picked between."""
    rows = _query(conn, "spectrum_job_lookup", [company_code, job_number.strip()])
    if len(rows) > 1:
        stored = ", ".join(repr(str(row[1])) for row in rows)
        raise SpectrumDataError(
            "Spectrum company " + company_code + " has " + str(len(rows)) + " jobs numbered " + repr(job_number.strip())
            + " once trimmed (" + stored + "): remove or renumber the duplicate in JC_JOB_MASTER_MC, then import."
        )
    return _job(rows[0]) if rows else None


def readiness_facts(conn: DbConnection, job: SpectrumJob) -> JobReadinessFacts:
    key = [job.company_code, job.stored_job_number]
    unposted = _query(conn, "job_estimates_posted", key)[0][0]
    locked_rows = _query(conn, "job_budget_locked", key)
    locked = bool(locked_rows) and (trim_key(locked_rows[0][0]) or "").upper() == "Y"
    return JobReadinessFacts(unposted_estimate_entries=int(unposted or 0), budget_locked=locked)


def cost_types(conn: DbConnection, company_code: str) -> dict[str, str]:
    """Cost type code -> description for one company."""
    return {
        code: trim_text(description) or code
        for code, description in ((trim_key(r[0]), r[1]) for r in _query(conn, "cost_types", [company_code]))
        if code
    }


def _strict_amount(value: object, column: str, row: Sequence[Any]) -> Decimal:
    return db_amount(value)


def normalise_line(row: Sequence[Any], amount: Callable[[object, str, Sequence[Any]], Decimal] = _strict_amount) -> tuple[Any, ...]:
    """One budget_lines.sql row as EXTRACT_COLUMNS values: trimmed keys, exact Decimal amounts."""
    company, job, phase, cost_type, description, uom, qty, unit_cost, estimate, jtd = row
    return (
        trim_key(company),
        trim_key(job),
        trim_key(phase),
        trim_key(cost_type),
        trim_text(description),
        trim_text(uom),
        amount(qty, "Original_Est_Quantity", row),
        amount(unit_cost, "Est_Unit_Cost", row),
        amount(estimate, "Original_Est_Cost", row),
        amount(jtd, "Job_To_Date_Cost", row),
    )


def normalise_lines(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """normalise_line over a fetched chunk, with the common case (a str key) inlined: the same result,
    about twice as fast, which keeps the extraction close to the driver's own speed (docs/spectrum.md)."""
    amount, key = db_amount, trim_key
    return [
        (
            (c.strip() or None) if type(c) is str else key(c),
            (j.strip() or None) if type(j) is str else key(j),
            (p.strip() or None) if type(p) is str else key(p),
            (t.strip() or None) if type(t) is str else key(t),
            (d.strip() or None) if type(d) is str else key(d),
            (u.strip() or None) if type(u) is str else key(u),
            amount(q),
            amount(uc),
            amount(e),
            amount(jtd),
        )
        for c, j, p, t, d, u, q, uc, e, jtd in rows
    ]


def _lenient_amount(value: object, column: str, row: Sequence[Any]) -> Decimal:
    try:
        return db_amount(value)
    except MoneyError as exc:
        log.warning(
            "Spectrum job %s/%s, phase %r cost type %r: %s %s; the row is rejected (amount_invalid)",
            trim_key(row[0]), trim_key(row[1]), trim_key(row[2]), trim_key(row[3]), column, exc,
        )
        return NOT_AN_AMOUNT


def normalise_line_leniently(row: Sequence[Any]) -> tuple[Any, ...]:
    """normalise_line, but an amount that is no number (text, NaN, infinity, out of range: only a
    loosely typed store such as SQLite can hold one) becomes NOT_AN_AMOUNT instead of failing the
    whole extract, so the row is rejected with its reason and the job's other rows still load."""
    return normalise_line(row, _lenient_amount)


def iter_budget_lines(
    conn: DbConnection, job: SpectrumJob, chunk_size: int = 10_000
) -> Iterator[list[tuple[Any, ...]]]:
    """Stream a job's budget lines in chunks (bounded memory for very large jobs)."""
    key = [job.company_code, job.stored_job_number]
    cursor = conn.cursor()
    try:
        cursor.execute(load_sql("budget_lines"), key + key)
        while True:
            rows = cursor.fetchmany(chunk_size)
            if not rows:
                break
            try:
                chunk = normalise_lines(rows)
            except MoneyError:  # rare: redo this chunk row by row, marking the unreadable amounts
                chunk = [normalise_line_leniently(row) for row in rows]
            yield chunk
    finally:
        cursor.close()
