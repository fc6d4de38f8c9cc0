"""Load a generated sample into a database given as an ODBC connection string.

* PostgreSQL, MariaDB/MySQL, SQL Server: through pyodbc, ``fast_executemany`` with input sizes taken from
  the schema (exact DECIMAL(15,4) parameters, Unicode varchar).
* SQLite: the file named by ``Database=`` is written with Python's ``sqlite3`` module (bulk speed); the
  result is then read back through the real ``SQLite3`` ODBC driver (:func:`count_rows`), which is how the
  pipeline reads it.

Tables are dropped and recreated (idempotent); indexes are created after the bulk insert.
"""
from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable

from . import schema
from .generate import Dataset, JobBundle
from .oracle import ManifestWriter
from .procore_fixture import FixtureBuilder

ODBC_BATCH = 5_000
SQLITE_BATCH = 50_000


def dialect_of(odbc: str) -> str:
    """The schema dialect for an ODBC connection string, from its DRIVER (or DSN name)."""
    m = re.search(r"(?i)(?:^|;)\s*driver\s*=\s*\{?([^};]*)", odbc)
    name = (m.group(1) if m else odbc).lower()
    if "sqlite" in name:
        return "sqlite"
    if "postgres" in name or "psql" in name:
        return "postgresql"
    if "mariadb" in name or "mysql" in name:
        return "mariadb"
    if "sql server" in name or "mssql" in name or "freetds" in name:
        return "tsql"
    raise ValueError(f"cannot tell the database engine from {odbc!r} (DRIVER=...)")


def sqlite_path(odbc: str) -> str:
    m = re.search(r"(?i)(?:^|;)\s*database\s*=\s*\{?([^};]*)", odbc)
    if not m or not m.group(1).strip():
        raise ValueError("SQLite connection string needs Database=<path>")
    return m.group(1).strip()


class _SqliteTarget:
    def __init__(self, odbc: str):
        path = sqlite_path(odbc)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        sqlite3.register_adapter(Decimal, str)  # exact text; NUMERIC affinity stores the value
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=DELETE")
        self.con.execute("PRAGMA synchronous=OFF")
        self.con.execute("BEGIN")
        self.batch = SQLITE_BATCH

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def insert(self, table: schema.Table, rows: list[tuple]) -> None:
        marks = ",".join("?" * len(table.columns))
        self.con.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows)

    def commit(self) -> None:
        self.con.execute("COMMIT")
        self.con.execute("BEGIN")

    def close(self) -> None:
        self.con.execute("COMMIT")
        self.con.close()


class _OdbcTarget:
    def __init__(self, odbc: str):
        import pyodbc

        self.pyodbc = pyodbc
        self.con = pyodbc.connect(odbc, autocommit=False)
        self.batch = ODBC_BATCH
        self.sizes = {t.name: self._sizes(t) for t in schema.TABLES}

    def _sizes(self, table: schema.Table) -> list[tuple]:
        p = self.pyodbc
        return [(p.SQL_WVARCHAR, c.size, 0) if c.kind == "varchar" else (p.SQL_DECIMAL, c.precision, c.scale)
                for c in table.columns]

    def execute(self, sql: str) -> None:
        cur = self.con.cursor()
        cur.execute(sql)
        cur.close()
        self.con.commit()

    def insert(self, table: schema.Table, rows: list[tuple]) -> None:
        cur = self.con.cursor()
        cur.fast_executemany = True
        cur.setinputsizes(self.sizes[table.name])
        marks = ",".join("?" * len(table.columns))
        cur.executemany(f"INSERT INTO {table.name} ({', '.join(table.column_names)}) VALUES ({marks})", rows)
        cur.close()

    def commit(self) -> None:
        self.con.commit()

    def close(self) -> None:
        self.con.commit()
        self.con.close()


@dataclass
class LoadStats:
    dialect: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    jobs: int = 0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


class Loader:
    """Buffers rows per table and writes them in batches."""

    def __init__(self, odbc: str):
        self.dialect = dialect_of(odbc)
        self.target = _SqliteTarget(odbc) if self.dialect == "sqlite" else _OdbcTarget(odbc)
        self.buffers: dict[str, list[tuple]] = {t.name: [] for t in schema.TABLES}
        self.counts = {t.name: 0 for t in schema.TABLES}

    def create_tables(self) -> None:
        for sql in schema.statements(self.dialect, indexes=False):
            self.target.execute(sql)

    def add_rows(self, table: str, rows: Iterable[tuple]) -> None:
        buf = self.buffers[table]
        buf.extend(rows)
        if len(buf) >= self.target.batch:
            self._flush(table)

    def add_job(self, bundle: JobBundle) -> None:
        for table, rows in bundle.rows.items():
            self.add_rows(table, rows)

    def _flush(self, table: str) -> None:
        buf = self.buffers[table]
        if buf:
            self.target.insert(schema.TABLES_BY_NAME[table], buf)
            self.counts[table] += len(buf)
            self.buffers[table] = []

    def finish(self) -> None:
        for t in schema.TABLES:
            self._flush(t.name)
        self.target.commit()
        for t in schema.TABLES:
            for sql in schema.create_index_sqls(t, self.dialect):
                self.target.execute(sql)
        for sql in analyze_sqls(self.dialect):
            self.target.execute(sql)
        self.target.close()


def analyze_sqls(dialect: str) -> list[str]:
    """Statements that gather optimizer statistics after the bulk load, as a live database has them.

    Without them PostgreSQL estimates one row per table right after the load and plans budget_lines.sql as
    a nested loop that re-aggregates the job's transactions once per phase row: 2.4 s instead of 20 ms for
    a 2,500-line job (see docs/spectrum.md). SQL Server creates statistics on its own; MariaDB's InnoDB
    samples on its own; ANALYZE there is cheap and keeps the engines alike.
    """
    names = [t.name for t in schema.TABLES]
    if dialect == "postgresql":
        return [f"ANALYZE {name}" for name in names]
    if dialect == "mariadb":
        return [f"ANALYZE TABLE {name}" for name in names]
    if dialect == "sqlite":
        return ["ANALYZE"]
    if dialect == "tsql":
        return [f"UPDATE STATISTICS {name}" for name in names]
    return []


def build(dataset: Dataset, *, odbc: str | None = None, manifest_path: str | None = None,
          fixture_path: str | None = None, progress: Callable[[str], None] | None = None) -> LoadStats:
    """Generate ``dataset`` and stream it into the database, manifest and fixture (each optional)."""
    t0 = time.perf_counter()
    loader = Loader(odbc) if odbc else None
    stats = LoadStats(loader.dialect if loader else "none")
    fixture = FixtureBuilder(dataset.companies)
    mfh = None
    if manifest_path:
        if os.path.dirname(manifest_path):
            os.makedirs(os.path.dirname(manifest_path), exist_ok=True)
        mfh = open(manifest_path, "w", encoding="utf-8")
    try:
        writer = ManifestWriter(mfh, dataset, indent=1 if dataset.profile == "demo" else None) if mfh else None
        if loader:
            loader.create_tables()
            loader.add_rows("JC_COST_TYPE_MASTER_MC", dataset.cost_type_rows())
        counts = {t.name: 0 for t in schema.TABLES}
        counts["JC_COST_TYPE_MASTER_MC"] = len(dataset.cost_type_rows())
        last = t0
        for bundle in dataset.iter_jobs():
            stats.jobs += 1
            for table, rows in bundle.rows.items():
                counts[table] += len(rows)
            if loader:
                loader.add_job(bundle)
            if writer:
                writer.add(bundle)
            fixture.add(bundle)
            now = time.perf_counter()
            if progress and now - last > 10:
                last = now
                rows = sum(counts.values())
                progress(f"{stats.jobs} jobs, {rows:,} rows, {rows / (now - t0):,.0f} rows/s")
        if loader:
            loader.finish()
        if writer:
            writer.close()
    finally:
        if mfh:
            mfh.close()
    if fixture_path:
        if os.path.dirname(fixture_path):
            os.makedirs(os.path.dirname(fixture_path), exist_ok=True)
        with open(fixture_path, "w", encoding="utf-8") as fh:
            fixture.write(fh)
    stats.counts = counts
    stats.seconds = time.perf_counter() - t0
    return stats


def count_rows(odbc: str) -> dict[str, int]:
    """Row count of every sample table, read through pyodbc and the connection string's ODBC driver."""
    import pyodbc

    con = pyodbc.connect(odbc, autocommit=True)
    try:
        cur = con.cursor()
        out = {}
        for t in schema.TABLES:
            cur.execute(f"SELECT COUNT(*) FROM {t.name}")
            out[t.name] = int(cur.fetchone()[0])
        return out
    finally:
        con.close()


def dump_sql(dataset: Dataset, dialect: str, fh, *, rows_per_insert: int = 200, with_ddl: bool = True) -> None:
    """Write a SQL script (DDL + multi-row INSERTs) that loads ``dataset`` without Python (e.g. SQL Server)."""
    if with_ddl:
        fh.write(schema.ddl(dialect))
    fh.write(f"\n-- Sample data: {dataset.parameters}. Generated by `python -m standins.spectrum_sample sql`.\n")

    def emit(table: schema.Table, rows: list[tuple]) -> None:
        for i in range(0, len(rows), rows_per_insert):
            chunk = rows[i:i + rows_per_insert]
            values = ",\n".join("(" + ", ".join(schema.sql_literal(v, dialect) for v in r) + ")" for r in chunk)
            fh.write(f"INSERT INTO {table.name} ({', '.join(table.column_names)}) VALUES\n{values};\n")

    emit(schema.TABLES_BY_NAME["JC_COST_TYPE_MASTER_MC"], dataset.cost_type_rows())
    for bundle in dataset.iter_jobs():
        for t in schema.TABLES:
            if bundle.rows.get(t.name):
                emit(t, bundle.rows[t.name])
