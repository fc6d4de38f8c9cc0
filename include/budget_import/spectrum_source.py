"""Reads Spectrum's job-cost tables over any DB-API connection (pyodbc through OdbcHook in Airflow).

Everything a query returns passes through `normalise_*` here: keys are trimmed (Spectrum pads job
numbers) and amounts become exact Decimals, whatever driver answered.

Keys compare as SQL Server compares them (its default collation ignores trailing spaces and case), plus
the project's trim of leading spaces, on every engine: include/sql/ spells that out as
UPPER(LTRIM(RTRIM(x))) wherever keys of two tables meet (see the KEYS comment atop each file), and Python
agrees through `fold_key`. The phase code and cost type of an extracted line are folded here, so they
leave this module as SQL Server's comparison sees them: '04-100  ' and '04-100' are one phase, 'l' is
the company's 'L' (matched against JC_COST_TYPE_MASTER_MC, whose codes `cost_types` folds too), and two
phase rows that fold alike (09-100/L and '09-100 '/l) are one key twice, which the rules reject as
`duplicate_key` (in SQL they each get that key's job-to-date cost; neither is imported). The codes sent
to Procore are therefore upper-case. Company code, job number and free text keep their stored spelling
(trimmed): the job number is the job's own (find_job matches it case-insensitively, near_jobs suggests
the spellings people vary) and Procore's origin ids carry it as stored. Only ASCII letters fold, as
SQLite's UPPER folds no others; Spectrum's codes are ASCII.
"""
from __future__ import annotations

import logging
import sqlite3
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from include.budget_import.money import MoneyError, db_amount
from include.budget_import.sql_files import load_sql, sql_dir

log = logging.getLogger(__name__)
NOT_AN_AMOUNT = Decimal("NaN")  # an amount the driver returned that is no number: rule `amount_invalid`


class SpectrumError(RuntimeError):
    """Spectrum could not be read (connection refused or dropped, query timed out...) for one job and
    stage. Raised before anything is written to Procore, so the job is never reported as synced; the
    task fails and Airflow retries it."""

    retry_helps = True  # the connection or the query may work next time

    def __init__(self, company_code: str, job_number: str, stage: str, cause: BaseException) -> None:
        self.company_code = company_code
        self.job_number = job_number
        self.stage = stage
        args: tuple[object, ...] = getattr(cause, "args", ())
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


# Column names of an extracted budget line, in the order every later stage uses: what budget_lines.sql
# returns, and only what a later stage reads (Spectrum's unit of measure, quantity and unit cost are not
# fetched: Procore's budget line takes the original estimate, as Procore's own import does).
EXTRACT_COLUMNS: tuple[str, ...] = (
    "company_code",
    "job_number",
    "phase_code",
    "cost_type",
    "description",
    "original_estimate",
    "jtd_cost",
)
AMOUNT_COLUMNS = ("original_estimate", "jtd_cost")


def trim_key(value: object) -> str | None:
    """Spectrum keys and texts are space-padded varchars; a blank one is missing (None)."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    return str(value).strip() or None


_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def fold_key(value: object) -> str | None:
    """A key as SQL Server's default collation compares it: trimmed (trim_key) and case-insensitive, as
    UPPER(LTRIM(RTRIM(x))) in include/sql/. ASCII letters only, as SQLite's UPPER: 'l' -> 'L', 'é' stays."""
    key = trim_key(value)
    if key is None:
        return None
    return key.upper() if key.isascii() else key.translate(_ASCII_UPPER)


def _job(row: Sequence[Any]) -> SpectrumJob:
    company, stored, master, description, status = row
    return SpectrumJob(
        company_code=trim_key(company) or "",
        job_number=trim_key(stored) or "",
        stored_job_number=str(stored),
        master_job=trim_key(master),
        description=trim_key(description),
        status_code=fold_key(status) or "",
    )


# pyodbc binds a Python str as nvarchar. SQL Server compares a varchar column (every Spectrum key is one)
# with an nvarchar value by converting the column, which under a SQL collation (Spectrum's
# SQL_Latin1_General_CP1_CI_AS) turns each seek of the (Company_Code, Job_Number) indexes into a scan (pyodbc
# issues 376 and 1151, SQLAlchemy issue 8177). So text parameters are declared varchar, as SQLAlchemy does
# for SQL Server; one size for all, so SQL Server keeps one plan per statement. (A typed character outside
# the database's code page then reaches SQL Server as '?'; Spectrum's keys are ASCII.)
SQL_VARCHAR = 12  # ODBC's SQL_VARCHAR (pyodbc.SQL_VARCHAR)
TEXT_PARAMETER_SIZE = 255


def declare_text_parameters(cursor: Any, params: Sequence[Any]) -> None:
    """Bind each str of `params` as varchar (above); a DB-API cursor without pyodbc's setinputsizes is left as is."""
    setinputsizes = getattr(cursor, "setinputsizes", None)
    if setinputsizes is not None:
        setinputsizes([(SQL_VARCHAR, max(TEXT_PARAMETER_SIZE, len(p)), 0) if isinstance(p, str) else None for p in params])


def _query(conn: DbConnection, sql_name: str, params: Sequence[Any]) -> list[Sequence[Any]]:
    cursor = conn.cursor()
    try:
        declare_text_parameters(cursor, params)
        cursor.execute(load_sql(sql_name), list(params))
        rows: list[Sequence[Any]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def list_jobs(conn: DbConnection, company_code: str) -> list[SpectrumJob]:
    return [_job(row) for row in _query(conn, "spectrum_jobs", [company_code])]


class SpectrumDataError(ValueError):
    """Spectrum's data cannot be imported as it stands (e.g. two jobs with one number): fix it in Spectrum."""

    retry_helps = False  # the same data fails the same way


def find_job(conn: DbConnection, company_code: str, job_number: str) -> SpectrumJob | None:
    """The job whose number is `job_number` once trimmed, in any case (as SQL Server compares it), or None.
    Input is bound, never spliced into SQL. Two stored numbers that compare alike ('     19.50' and
    '19.50     ', 'a-100' and 'A-100') are refused, never picked between."""
    rows = _query(conn, "spectrum_job_lookup", [company_code, job_number.strip()])
    if len(rows) > 1:
        stored = ", ".join(repr(str(row[1])) for row in rows)
        raise SpectrumDataError(
            "Spectrum company " + company_code + " has " + str(len(rows)) + " jobs numbered " + repr(job_number.strip())
            + " once trimmed, in any case (" + stored + "): remove or renumber the duplicate in JC_JOB_MASTER_MC, then import."
        )
    return _job(rows[0]) if rows else None


JOB_NUMBER_WIDTH = 10  # JC_JOB_MASTER_MC.Job_Number is varchar(10)
NEAR_MATCHES = 5  # at most this many suggestions for a job that was not found


def job_number_core(number: str) -> str:
    """What stays of a job number once the spelling people vary is dropped: spaces around it, case, leading
    zeros, trailing zeros after a decimal point ('0019.50', ' 19.5 ' -> '19.5'; 'a-100' -> 'A-100';
    '000' -> '0'). Empty for a blank number."""
    text = fold_key(number) or ""
    core = text.lstrip("0")
    if "." in core:
        core = core.rstrip("0").rstrip(".")
    return core or ("0" if text else "")


def _like_contains(text: str) -> str:
    """A LIKE pattern (ESCAPE '!') matching any text that contains `text`: %, _ and ! are LIKE's own, [ is
    SQL Server's."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_").replace("[", "![")
    return "%" + escaped + "%"


def near_jobs(conn: DbConnection, company_code: str, job_number: str, limit: int = NEAR_MATCHES) -> list[SpectrumJob]:
    """Jobs a person may have meant by (company_code, job_number) when find_job found none, nearest first:
    the same number in another company ('O1' typed for '01'), then the same number spelt otherwise
    (19.5 / 19.50 / 0019.50, a-100 / A-100) in the same company, then in others. One query; none when
    nothing typed could be a stored job number (blank, or a core longer than the column)."""
    core = job_number_core(job_number)
    if not core or len(core) > JOB_NUMBER_WIDTH:
        return []
    wanted, company = fold_key(job_number), trim_key(company_code)
    ranked: dict[tuple[str, str], tuple[int, SpectrumJob]] = {}
    for row in _query(conn, "spectrum_job_near_matches", [_like_contains(core)]):
        job = _job(row)
        if job_number_core(job.job_number) != core:
            continue
        same_number, same_company = fold_key(job.job_number) == wanted, job.company_code == company
        if same_number and same_company:
            continue  # the job asked for itself (find_job would have found it)
        rank = 0 if same_number else 1 if same_company else 2
        ranked.setdefault((job.company_code, job.job_number), (rank, job))
    nearest = sorted(ranked.items(), key=lambda item: (item[1][0], item[0]))
    return [job for _, (_, job) in nearest[:limit]]


def readiness_facts(conn: DbConnection, job: SpectrumJob) -> JobReadinessFacts:
    key = [job.company_code, job.stored_job_number]
    unposted = _query(conn, "job_estimates_posted", key)[0][0]
    locked_rows = _query(conn, "job_budget_locked", key)
    # the SQL file is the rule (it answers 'Y' or not); its flag is read as every key is, so a site's file
    # that returns its raw column ('y') still means locked
    locked = bool(locked_rows) and fold_key(locked_rows[0][0]) == "Y"
    return JobReadinessFacts(unposted_estimate_entries=int(unposted or 0), budget_locked=locked)


def cost_types(conn: DbConnection, company_code: str) -> dict[str, str]:
    """Cost type code (folded, as the lines' codes are) -> description for one company."""
    return {
        code: trim_key(description) or code
        for code, description in ((fold_key(r[0]), r[1]) for r in _query(conn, "cost_types", [company_code]))
        if code
    }


def _strict_amount(value: object, column: str, row: Sequence[Any]) -> Decimal:
    return db_amount(value)


def normalise_line(row: Sequence[Any], amount: Callable[[object, str, Sequence[Any]], Decimal] = _strict_amount) -> tuple[Any, ...]:
    """One budget_lines.sql row as EXTRACT_COLUMNS values: trimmed keys (phase code and cost type folded),
    exact Decimal amounts."""
    company, job, phase, cost_type, description, estimate, jtd = row
    return (
        trim_key(company),
        trim_key(job),
        fold_key(phase),
        fold_key(cost_type),
        trim_key(description),
        amount(estimate, "Original_Est_Cost", row),
        amount(jtd, "Job_To_Date_Cost", row),
    )


def normalise_lines(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """normalise_line over a fetched chunk, with the common case (a str key) inlined: the same result,
    about twice as fast, which keeps the extraction close to the driver's own speed (docs/spectrum.md)."""
    amount, key, fold = db_amount, trim_key, fold_key
    return [
        (
            (c.strip() or None) if type(c) is str else key(c),
            (j.strip() or None) if type(j) is str else key(j),
            (p.strip().upper() or None) if type(p) is str and p.isascii() else fold(p),
            (t.strip().upper() or None) if type(t) is str and t.isascii() else fold(t),
            (d.strip() or None) if type(d) is str else key(d),
            amount(e),
            amount(jtd),
        )
        for c, j, p, t, d, e, jtd in rows
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
    loosely typed store such as SQLite can hold one) in the original estimate or the job-to-date cost
    becomes NOT_AN_AMOUNT instead of failing the whole extract, so the row is rejected with its reason
    and the job's other rows still load."""
    return normalise_line(row, _lenient_amount)


def _check_width(description: Sequence[Any] | None) -> None:
    """A site's own copy of budget_lines.sql (BUDGET_IMPORT_SQL_DIR) that returns other columns than
    EXTRACT_COLUMNS, e.g. one copied before Unit_of_Measure, Original_Est_Quantity and Est_Unit_Cost were
    dropped, fails here in words, not as a tuple that does not unpack."""
    if description is not None and len(description) != len(EXTRACT_COLUMNS):
        got = ", ".join(str(column[0]) for column in description)
        raise SpectrumDataError(
            "budget_lines.sql returns " + str(len(description)) + " columns (" + got + "); the import reads "
            + str(len(EXTRACT_COLUMNS)) + ": Company_Code, Job_Number, Phase_Code, Cost_Type, Description, "
            "Original_Est_Cost, Job_To_Date_Cost, in this order. Edit the file (see its header and docs/spectrum.md)."
        )


@dataclass(frozen=True)
class TransactionJobNumbers:
    """How a company's cost transactions store each job's number (JC_TRANSACTION_HISTORY_MC may pad it
    otherwise than the job master): per job key (fold_key), its first and last stored form in the
    database's order (transaction_job_numbers.sql), the range of the transaction index budget_lines.sql
    seeks. Read once per company and batch of jobs."""

    company_code: str
    forms: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)

    def range_of(self, job: SpectrumJob) -> tuple[Any, Any]:
        """The job's first and last stored form; the master's form twice for a job without transactions
        when they were read (a transaction posted since in that form is still found)."""
        return self.forms.get(fold_key(job.job_number) or "", (job.stored_job_number, job.stored_job_number))


def transaction_job_numbers(conn: DbConnection, company_code: str) -> TransactionJobNumbers:
    """Every stored form of a job number in the company's transactions, grouped by key. The query returns
    them in the database's order (its collation), so the first and last of a key bound all of its forms in
    the order the range comparison uses, whatever the engine."""
    forms: dict[str, tuple[Any, Any]] = {}
    for (stored,) in _query(conn, "transaction_job_numbers", [company_code]):
        key = fold_key(stored)
        if key is not None:
            forms[key] = (forms[key][0], stored) if key in forms else (stored, stored)
    return TransactionJobNumbers(company_code, forms)


BUDGET_LINE_PARAMETERS = 6  # budget_lines.sql's `?` markers (its header); 4 in copies from before the range


def budget_line_parameters(job: SpectrumJob, transactions: TransactionJobNumbers) -> list[Any]:
    """The values budget_lines.sql binds, in its header's order. A site's copy from before the job's range
    of transaction forms (four markers) is bound as it was, and still exact, only slower: it reads every
    transaction of the company for each job (logged once)."""
    markers = load_sql("budget_lines").count("?")
    if markers == BUDGET_LINE_PARAMETERS:
        first, last = transactions.range_of(job)
        return [job.company_code, first, last, job.stored_job_number, job.company_code, job.stored_job_number]
    if markers == 4:
        _warn_four_parameter_budget_lines()
        return [job.company_code, job.stored_job_number] * 2
    raise SpectrumDataError(
        "budget_lines.sql has " + str(markers) + " parameters (?); the import binds " + str(BUDGET_LINE_PARAMETERS)
        + ": company code, the job's first and last form in its transactions, job number as stored, company code, "
        "job number as stored (its header). Edit the file (see docs/spectrum.md)."
    )


@cache
def _warn_four_parameter_budget_lines() -> None:
    log.warning("budget_lines.sql (%s) is a copy from before the job's range of transaction forms: it reads every "
                "transaction of the company for each job. Copy the transaction filter of the shipped include/sql/"
                "budget_lines.sql into it to seek them.", sql_dir() / "budget_lines.sql")


def iter_budget_lines(
    conn: DbConnection, job: SpectrumJob, chunk_size: int = 10_000, transactions: TransactionJobNumbers | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """Stream a job's budget lines in chunks (bounded memory for very large jobs). `transactions`: the
    company's (transaction_job_numbers), read here when not given, as a batch of jobs reads it once."""
    if transactions is None or transactions.company_code != job.company_code:
        transactions = transaction_job_numbers(conn, job.company_code)
    parameters = budget_line_parameters(job, transactions)
    cursor = conn.cursor()
    try:
        declare_text_parameters(cursor, parameters)
        cursor.execute(load_sql("budget_lines"), parameters)
        _check_width(cursor.description)
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
