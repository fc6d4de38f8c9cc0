"""A small hand-written Spectrum database whose keys are padded and cased differently from table to table,
and the outcome SQL Server gives for it, worked out by hand (the oracle).

SQL Server's default collation (case-insensitive, trailing spaces ignored by `=`, GROUP BY and joins)
is what Spectrum runs on; the project's key rule adds that leading spaces are trimmed too (Spectrum pads
keys, people type them bare). So a key here means: spaces around it removed, ASCII letters upper-cased.
SQLite and PostgreSQL compare raw text, MariaDB ignores case and trailing spaces: without the rule spelt
out in include/sql/ each engine gives a different job-to-date cost for the rows below.

The two flags the sample assumes (Posted_Status, Lock_Estimate_Entry) are varchar(1) in the sample schema;
here they are varchar(3), so that ' P' (what a site's wider column may hold) can be stored on every engine.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from decimal import Decimal

from standins.spectrum_sample import schema
from standins.spectrum_sample.load import dialect_of, sqlite_path

from .canonical import _sort_key

FLAG_WIDTH = 3
WIDE_FLAGS = {"Posted_Status", "Lock_Estimate_Entry"}


def _widened(table: schema.Table) -> schema.Table:
    columns = tuple(dataclasses.replace(c, size=FLAG_WIDTH) if c.name in WIDE_FLAGS else c for c in table.columns)
    return dataclasses.replace(table, columns=columns)


TABLES = tuple(_widened(t) for t in schema.TABLES)
D = Decimal

COST_TYPES = [  # Company_Code, Cost_Type, Description
    ("01", "L", "Labor"),
    ("01", "M", "Material"),
    ("01", "s", "Subcontract"),  # defined lower-case: phases write 'S'
    ("01", "E ", "Equipment"),  # padded in the master
    ("01", "O", "Other"),
    ("02", "L", "Labour"),
]


def _job(company: str, stored: str, description: str, lock: str | None) -> tuple:
    return (company, stored, None, description, "A", "F", D("100000.00"), "100", "Y", lock)


JOBS = [
    _job("01", "     19.50", "Riverside Clinic", "y"),  # lock flag lower-case: locked
    _job("01", "     a-100", "Annex", "N"),  # stored lower-case: 'A-100' is the same job
    _job("02", "     19.50", "Northwind Depot", " Y"),  # lock flag with a leading space: locked (trimmed)
    _job("02", "   0019.50", "Northwind Yard", "Y"),  # the same number with leading zeros (near matches)
]


def _phase(company: str, job: str, phase: str, cost_type: str, description: str, estimate: str | None) -> tuple:
    return (company, job, phase, cost_type, description, "A", "LS", D("1.0000") if estimate else None,
            D(estimate) if estimate else None, None, D(estimate) if estimate else None, "N", None)


J1950, JA100, J0019 = "     19.50", "     a-100", "   0019.50"
PHASES = [
    _phase("01", J1950, "04-100  ", "L", "Padded in the master", "1000.00"),
    _phase("01", J1950, "04-200", "M", "Padded in transactions", "500.00"),
    _phase("01", J1950, "05-100", "L", "Lower-case in transactions", "250.00"),
    _phase("01", J1950, "05-200", "s", "Lower-case in the master", "125.50"),
    _phase("01", J1950, "06-100", "E", "Job padded otherwise", "2000.00"),
    _phase("01", J1950, "07-100", "O", "No transactions", "75.25"),
    _phase("01", J1950, "08-100", "L", "Leading spaces in tx", "300.00"),
    _phase("01", J1950, "GC-1", "M", "Letters, other case", "10.00"),
    _phase("01", J1950, "gc-2 ", "l ", "Lower-case, padded", "20.00"),
    _phase("01", J1950, "09-100", "L", "Twice: once as is", "40.00"),
    _phase("01", J1950, "09-100 ", "l", "Twice: padded, lower", "41.00"),
    _phase("01", JA100, "01-100", "L", "Annex labour", "800.00"),
    _phase("02", J1950, "04-100", "L", "Northwind labour", "1.00"),
]


def _tx(company: str, job: str, phase: str, cost_type: str, amount: str) -> tuple:
    return (company, job, phase, cost_type, "AP", "20240105", D(amount), None, None, "AP240105")


TRANSACTIONS = [
    _tx("01", J1950, "04-100", "L", "100.10"),
    _tx("01", J1950, "04-100", "L", "200.20"),
    _tx("01", J1950, "04-200  ", "M", "50.05"),
    _tx("01", J1950, "04-200", "M", "25.00"),
    _tx("01", J1950, "05-100", "l", "10.01"),
    _tx("01", J1950, "05-100", "L", "5.00"),
    _tx("01", J1950, "05-200", "S", "7.77"),
    _tx("01", "19.50", "06-100", "E", "1000.00"),  # the job unpadded in the transaction table
    _tx("01", "19.50     ", "06-100", "e", "1.11"),  # padded on the right
    _tx("01", "  19.50", "06-100 ", "E", "0.01"),  # padded less
    _tx("01", J1950, "06-100", "E", "2.00"),
    _tx("01", J1950, "  08-100", "L", "3.33"),
    _tx("01", J1950, "gc-1 ", "m", "4.44"),
    _tx("01", J1950, "GC-2", "L", "6.66"),
    _tx("01", J1950, "09-100", "L", "40.00"),
    _tx("01", J1950, "99-999", "L", "999.99"),  # no phase row: never becomes a line
    _tx("01", "     19.51", "04-100", "L", "888.88"),  # another job
    _tx("01", "A-100", "01-100", "L", "12.34"),  # job a-100, upper-case and unpadded here
    _tx("01", "     a-100", "01-100 ", "l", "0.66"),
    _tx("02", J1950, "04-100", "L", "9.99"),  # company 02's job of the same number
    _tx("02", J1950, "04-100", "l", "0.01"),
]


def _estimate(company: str, job: str, phase: str, cost_type: str, status: str | None) -> tuple:
    return (company, job, phase, cost_type, "OE2401", "20240102", D("10.00"), None, None, status)


ESTIMATES = [
    _estimate("01", J1950, "04-100  ", "L", "p"),  # posted, lower-case
    _estimate("01", J1950, "04-200", "M", " P"),  # posted, leading space
    _estimate("01", J1950, "05-100", "L", "P  "),  # posted, trailing spaces
    _estimate("01", J1950, "05-200", "s", "P"),
    _estimate("01", JA100, "01-100", "L", "u"),  # unposted
    _estimate("01", JA100, "01-100", "L", None),  # unposted: no status
    _estimate("01", JA100, "01-100", "L", " p "),  # posted
    _estimate("02", J1950, "04-100", "L", "P"),
]

ROWS = {
    "JC_COST_TYPE_MASTER_MC": COST_TYPES,
    "JC_JOB_MASTER_MC": JOBS,
    "JC_PHASE_MASTER_MC": PHASES,
    "JC_PHASE_ESTIMATES_MC": ESTIMATES,
    "JC_TRANSACTION_HISTORY_MC": TRANSACTIONS,
}
COMPANIES = ["01", "02"]


def load(odbc: str) -> None:
    """Create the (flag-widened) sample schema on the engine `odbc` names and insert ROWS, amounts exact."""
    dialect = dialect_of(odbc)
    if dialect == "sqlite":  # as the sample's own loader: Python's sqlite3 (Decimal stored from its text)
        sqlite3.register_adapter(Decimal, str)
        with sqlite3.connect(sqlite_path(odbc)) as db:
            for table in TABLES:
                for sql in (schema.drop_table_sql(table, dialect), schema.create_table_sql(table, dialect),
                            *schema.create_index_sqls(table, dialect)):
                    db.execute(sql)
                marks = ",".join("?" * len(table.columns))
                db.executemany(f"INSERT INTO {table.name} VALUES ({marks})", ROWS[table.name])
        return
    import pyodbc

    con = pyodbc.connect(odbc, autocommit=True)
    try:
        for table in TABLES:
            for sql in (schema.drop_table_sql(table, dialect), schema.create_table_sql(table, dialect),
                        *schema.create_index_sqls(table, dialect)):
                con.execute(sql)
            marks = ",".join("?" * len(table.columns))
            insert = f"INSERT INTO {table.name} ({', '.join(table.column_names)}) VALUES ({marks})"
            for row in ROWS[table.name]:
                con.execute(insert, list(row))
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------------------
# The oracle, by hand. A line's keys are its phase master row's, trimmed and upper-cased; its job-to-date cost
# is the sum of the job's transactions whose job, phase and cost type are equal to it once trimmed and
# upper-cased (SQL Server's comparison, plus the trim of leading spaces), to the cent.
def _line(cc: str, job: str, phase: str, cost_type: str, description: str, estimate: str, jtd: str) -> tuple:
    return (cc, job, phase, cost_type, description, f"{Decimal(estimate):.4f}", f"{Decimal(jtd):.4f}")


def _job_facts(cc: str, number: str, stored: str, description: str, unposted: int, locked: bool) -> dict:
    return {"job": {"company_code": cc, "job_number": number, "stored_job_number": stored, "master_job": None,
                    "description": description, "status_code": "A"},
            "readiness": {"unposted_estimate_entries": unposted, "estimates_posted": unposted == 0,
                          "budget_locked": locked}}


EXPECTED_LINES_01_1950 = [
    _line("01", "19.50", "04-100", "L", "Padded in the master", "1000.00", "300.30"),  # 100.10 + 200.20
    _line("01", "19.50", "04-200", "M", "Padded in transactions", "500.00", "75.05"),  # 50.05 + 25.00
    _line("01", "19.50", "05-100", "L", "Lower-case in transactions", "250.00", "15.01"),  # 10.01 + 5.00
    _line("01", "19.50", "05-200", "S", "Lower-case in the master", "125.50", "7.77"),
    _line("01", "19.50", "06-100", "E", "Job padded otherwise", "2000.00", "1003.12"),  # 1000 + 1.11 + 0.01 + 2
    _line("01", "19.50", "07-100", "O", "No transactions", "75.25", "0"),
    _line("01", "19.50", "08-100", "L", "Leading spaces in tx", "300.00", "3.33"),
    _line("01", "19.50", "09-100", "L", "Twice: once as is", "40.00", "40.00"),  # both rows are one key:
    _line("01", "19.50", "09-100", "L", "Twice: padded, lower", "41.00", "40.00"),  # each sees its JTD
    _line("01", "19.50", "GC-1", "M", "Letters, other case", "10.00", "4.44"),
    _line("01", "19.50", "GC-2", "L", "Lower-case, padded", "20.00", "6.66"),
]


def expected() -> dict:
    """The canonical extraction (tests/spectrum_extract/canonical.py) SQL Server gives for ROWS."""
    def sort(lines: list[tuple]) -> list[tuple]:  # canonical lines are compared sorted (order is no contract)
        return sorted(lines, key=_sort_key)

    return {
        "01": {
            "cost_types": {"E": "Equipment", "L": "Labor", "M": "Material", "O": "Other", "S": "Subcontract"},
            "jobs": {
                # Posted_Status 'p', ' P', 'P  ', 'P': all posted; Lock_Estimate_Entry 'y': locked
                "19.50": {**_job_facts("01", "19.50", J1950, "Riverside Clinic", 0, True),
                          "lines": sort(EXPECTED_LINES_01_1950)},
                # 'u' and NULL unposted, ' p ' posted; 'N' not locked; JTD 12.34 + 0.66
                "a-100": {**_job_facts("01", "a-100", JA100, "Annex", 2, False),
                          "lines": sort([_line("01", "a-100", "01-100", "L", "Annex labour", "800.00", "13.00")])},
            },
        },
        "02": {
            "cost_types": {"L": "Labour"},
            "jobs": {
                # ' Y' locked; JTD 9.99 + 0.01; company 01's 19.50 is another job
                "19.50": {**_job_facts("02", "19.50", J1950, "Northwind Depot", 0, True),
                          "lines": [_line("02", "19.50", "04-100", "L", "Northwind labour", "1.00", "10.00")]},
                "0019.50": {**_job_facts("02", "0019.50", J0019, "Northwind Yard", 0, True), "lines": []},
            },
        },
    }
