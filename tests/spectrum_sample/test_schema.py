"""One schema definition -> DDL for tsql, postgresql, mariadb, sqlite."""
from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from standins.spectrum_sample import schema
from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.load import dump_sql

DDL_DIR = Path(schema.__file__).parent / "ddl"
SQLGLOT_READ = {"tsql": "tsql", "postgresql": "postgres", "mariadb": "mysql", "sqlite": "sqlite"}
TABLE_NAMES = {"JC_JOB_MASTER_MC", "JC_PHASE_MASTER_MC", "JC_TRANSACTION_HISTORY_MC", "JC_COST_TYPE_MASTER_MC",
               "JC_PHASE_ESTIMATES_MC"}


@pytest.mark.parametrize("dialect", schema.DIALECTS)
def test_ddl_parses_and_defines_every_table(dialect):
    statements = [s for s in sqlglot.parse(schema.ddl(dialect), read=SQLGLOT_READ[dialect]) if s is not None]
    creates = [s for s in statements if isinstance(s, exp.Create)]
    tables = {s.this.this.name for s in creates if s.kind == "TABLE"}
    indexes = [s for s in creates if s.kind == "INDEX"]
    assert tables == TABLE_NAMES
    assert len(indexes) == 3
    assert sum(isinstance(s, exp.Drop) for s in statements) == 5


def test_tsql_ddl_parses_with_sqlglot_tsql():
    sql = (DDL_DIR / "spectrum_tsql.sql").read_text(encoding="utf-8")
    parsed = sqlglot.parse(sql, read="tsql")
    assert len([p for p in parsed if p is not None]) == 13
    assert "COLLATE Latin1_General_100_CI_AS_SC_UTF8" in sql  # non-ASCII sample text fits in varchar


@pytest.mark.parametrize("dialect", schema.DIALECTS)
def test_committed_ddl_files_are_current(dialect):
    assert (DDL_DIR / f"spectrum_{dialect}.sql").read_text(encoding="utf-8") == schema.ddl(dialect), (
        "regenerate: python -m standins.spectrum_sample ddl --write-all")


def test_fixed_column_decisions():
    job = schema.JC_JOB_MASTER_MC
    phase = schema.JC_PHASE_MASTER_MC
    assert job.primary_key == ("Company_Code", "Job_Number")
    assert job.column("Job_Number").size == 10 and job.column("Lock_Estimate_Entry").size == 1
    assert phase.primary_key == () and phase.indexes[0].columns == ("Company_Code", "Job_Number")
    assert phase.column("Description").size == 60 and phase.column("Phase_Code").size == 20
    assert schema.JC_PHASE_ESTIMATES_MC.column("Posted_Status").size == 1
    assert schema.JC_COST_TYPE_MASTER_MC.primary_key == ("Company_Code", "Cost_Type")
    for table in schema.TABLES:
        assert table.column_names[0] == "Company_Code"
        for col in table.columns:
            if col.kind == "decimal":
                assert col.size == (15, 4), (table.name, col.name)
    money = "DECIMAL(15,4)"
    assert f"Original_Est_Cost {money}" in schema.ddl("tsql")
    assert "Original_Est_Cost NUMERIC(15,4)" in schema.ddl("postgresql")
    assert "CHARSET=utf8mb4" in schema.ddl("mariadb")
    assert re.search(r"CREATE TABLE JC_PHASE_MASTER_MC \([^;]*PRIMARY KEY", schema.ddl("sqlite")) is None


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError):
        schema.ddl("oracle")


def test_committed_tsql_demo_data_is_current_and_parses():
    committed = (DDL_DIR / "spectrum_demo_data_tsql.sql").read_text(encoding="utf-8")
    buf = io.StringIO()
    dump_sql(Dataset("demo"), "tsql", buf, with_ddl=False)
    assert committed == buf.getvalue(), (
        "regenerate: python -m standins.spectrum_sample sql --dialect tsql --data-only "
        "-o standins/spectrum_sample/ddl/spectrum_demo_data_tsql.sql")
    parsed = [p for p in sqlglot.parse(committed, read="tsql") if p is not None]
    assert parsed and all(isinstance(p, exp.Insert) for p in parsed)
    assert "N'Béton coulé — niveau 2'" in committed and "N'電気'" in committed


def test_sqlite_script_loads_and_matches_manifest(demo_manifest):
    buf = io.StringIO()
    dump_sql(Dataset("demo"), "sqlite", buf)
    con = sqlite3.connect(":memory:")
    con.executescript(buf.getvalue())
    counts = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in demo_manifest["counts"]}
    assert counts == demo_manifest["counts"]
    # SQLite keeps the text exactly, trailing spaces and non-ASCII included
    assert con.execute("SELECT COUNT(*) FROM JC_PHASE_MASTER_MC WHERE Phase_Code = '03-310  ' "
                       "AND Cost_Type = 'L '").fetchone()[0] == 1
    assert con.execute("SELECT Description FROM JC_PHASE_MASTER_MC WHERE Description LIKE 'B_ton%'").fetchone()[0] \
        == "Béton coulé — niveau 2"
