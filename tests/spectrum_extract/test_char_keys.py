"""Keys stored as CHAR(n) instead of Spectrum's varchar (a site's copy, or another stand-in, may model the
padding that way): PostgreSQL then returns every value padded to the column's width (so the forms of a job
number read from the transactions, the bounds budget_lines.sql seeks between, carry trailing spaces),
MariaDB strips them when it reads. The extraction must give the same outcome as on varchar keys: the
padded-keys oracle, and a job whose transactions hold its number only left-justified."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import padded_keys
from .canonical import extract_canonical
from .conftest import _pyodbc, scratch_database

pytestmark = pytest.mark.services

CHAR_KEYS = {  # table -> its key columns and their widths, as CHAR
    "JC_JOB_MASTER_MC": {"Company_Code": 3, "Job_Number": 10},
    "JC_PHASE_MASTER_MC": {"Company_Code": 3, "Job_Number": 10, "Phase_Code": 20, "Cost_Type": 3},
    "JC_TRANSACTION_HISTORY_MC": {"Company_Code": 3, "Job_Number": 10, "Phase_Code": 20, "Cost_Type": 3},
    "JC_PHASE_ESTIMATES_MC": {"Company_Code": 3, "Job_Number": 10},
}
ALTER = {
    "postgresql": "ALTER TABLE {table} ALTER COLUMN {column} TYPE CHAR({width})",
    "mariadb": "ALTER TABLE {table} MODIFY {column} CHAR({width})",
}


@pytest.fixture(scope="module", params=sorted(ALTER))
def char_keys_conn(request, tmp_path_factory) -> Iterator[object]:
    engine = request.param
    with scratch_database(engine, "charkeys", tmp_path_factory.mktemp(f"charkeys_{engine}")) as odbc:
        padded_keys.load(odbc)
        con = _pyodbc().connect(odbc, autocommit=True)
        try:
            for table, columns in CHAR_KEYS.items():
                for column, width in columns.items():
                    con.execute(ALTER[engine].format(table=table, column=column, width=width))
            # the job a-100's transactions all left-justified (the master has it right-justified): its only
            # stored form in them is then 'A-100' padded on the right, the bound of its range
            con.execute("UPDATE JC_TRANSACTION_HISTORY_MC SET Job_Number = 'A-100' WHERE Job_Number = '     a-100'")
            yield con
        finally:
            con.close()


def test_keys_stored_as_char_give_the_varchar_outcome(char_keys_conn):
    assert extract_canonical(char_keys_conn, padded_keys.COMPANIES) == padded_keys.expected()



def test_a_job_whose_transactions_have_one_right_padded_form_is_found(char_keys_conn):
    from include.budget_import.spectrum_source import find_job, iter_budget_lines

    job = find_job(char_keys_conn, "01", "A-100")
    (line,) = [line for chunk in iter_budget_lines(char_keys_conn, job) for line in chunk]
    assert (line[2], line[3], str(line[6])) == ("01-100", "L", "13.0000")
