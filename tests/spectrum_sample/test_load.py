"""Load the demo profile through real ODBC drivers and read it back through pyodbc."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.load import build, count_rows, dialect_of, sqlite_path

from .checks import assert_database_matches


def test_dialect_and_path_from_connection_string():
    assert dialect_of("DRIVER={SQLite3};Database=var/spectrum.db") == "sqlite"
    assert dialect_of("Driver={PostgreSQL Unicode};Server=x") == "postgresql"
    assert dialect_of("DRIVER={MariaDB Unicode};Server=x") == "mariadb"
    assert dialect_of("DRIVER={ODBC Driver 18 for SQL Server};Server=x") == "tsql"
    assert sqlite_path("DRIVER={SQLite3};Database=var/spectrum.db") == "var/spectrum.db"
    with pytest.raises(ValueError):
        dialect_of("DSN=whatever")


def test_sqlite_through_the_sqlite3_odbc_driver(demo_build, pyodbc_module):
    pyodbc = pyodbc_module
    con = pyodbc.connect(demo_build["odbc"])
    try:
        assert con.getinfo(pyodbc.SQL_DRIVER_NAME).startswith("sqlite3odbc")
        assert_database_matches(con, demo_build["manifest"])
        value = con.execute("SELECT Original_Est_Cost FROM JC_PHASE_MASTER_MC WHERE Phase_Code = '07-200' "
                            "AND Cost_Type = 'M' AND Job_Number = '     20.01'").fetchone()[0]
        assert isinstance(value, str) and Decimal(value) == Decimal("1234.5675")  # that driver returns str
        huge = con.execute("SELECT Original_Est_Cost FROM JC_PHASE_MASTER_MC WHERE Phase_Code = '15-500' "
                           "AND Cost_Type = 'S' AND Job_Number = '     20.02'").fetchone()[0]
        assert Decimal(huge) == Decimal("98765432109.99")
    finally:
        con.close()


def test_sqlite_rebuild_is_idempotent(demo_build):
    before = count_rows(demo_build["odbc"])
    build(Dataset("demo"), odbc=demo_build["odbc"])
    assert count_rows(demo_build["odbc"]) == before == demo_build["manifest"]["counts"]


@pytest.mark.parametrize("server", ["postgres_odbc", "mariadb_odbc"])
def test_server_through_odbc(server, request, tmp_path, pyodbc_module):
    pyodbc = pyodbc_module
    odbc = request.getfixturevalue(server)
    manifest_path = tmp_path / "manifest.json"
    stats = build(Dataset("demo"), odbc=odbc, manifest_path=str(manifest_path))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert stats.counts == manifest["counts"]
    build(Dataset("demo"), odbc=odbc)  # drop and recreate: same result
    con = pyodbc.connect(odbc)
    try:
        assert_database_matches(con, manifest)
        value = con.execute("SELECT Original_Est_Cost FROM JC_PHASE_MASTER_MC WHERE Phase_Code = '07-200' "
                            "AND Cost_Type = 'M' AND Job_Number = '     20.01'").fetchone()[0]
        assert isinstance(value, Decimal) and value == Decimal("1234.5675")
        text = con.execute("SELECT Description FROM JC_PHASE_MASTER_MC WHERE Phase_Code = '16-100' "
                           "AND Cost_Type = '3'").fetchone()[0]
        assert text == "電気"
    finally:
        con.close()
