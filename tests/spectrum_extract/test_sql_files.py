"""Every statement in include/sql/ is valid T-SQL (what Spectrum's SQL Server runs), takes its input only
through `?` markers, and gets exactly as many values from spectrum_source as it has markers."""
from __future__ import annotations

import ast
import logging
import sqlite3
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.tokens import TokenType

from include.budget_import import spectrum_source
from include.budget_import.money import db_amount
from include.budget_import.sql_files import SQL_DIR, load_sql

SQL_FILES = sorted(SQL_DIR.glob("*.sql"))
SQL_NAMES = [p.stem for p in SQL_FILES]
# Token types that would mean another way of getting values into a statement than a bound `?`:
# @name / :name / $1 parameters, %s / %(name)s (Python DB-API styles), {name} (str.format).
FORBIDDEN_TOKENS = {TokenType.PARAMETER, TokenType.MOD, TokenType.L_BRACE, TokenType.R_BRACE, TokenType.COLON,
                    TokenType.DCOLON}


def test_the_sql_folder_holds_the_eight_statements():
    assert SQL_NAMES == ["budget_lines", "cost_types", "job_budget_locked", "job_estimates_posted",
                         "spectrum_job_lookup", "spectrum_job_near_matches", "spectrum_jobs", "transaction_job_numbers"]


@pytest.mark.parametrize("path", SQL_FILES, ids=SQL_NAMES)
def test_every_file_states_the_key_convention_at_its_top(path: Path):
    """One rule for comparing keys (issue 15), stated where a site adapting a file reads it."""
    head = path.read_text(encoding="utf-8").splitlines()[0]
    assert head.startswith("-- KEYS, the one convention of every file in include/sql/"), path.name
    assert "UPPER(LTRIM(RTRIM(x)))" in path.read_text(encoding="utf-8"), path.name


@pytest.mark.parametrize("path", SQL_FILES, ids=SQL_NAMES)
def test_parses_as_one_tsql_select(path: Path):
    for text in (path.read_text(encoding="utf-8"), load_sql(path.stem)):  # as written, and as sent to a driver
        statements = sqlglot.parse(text, read="tsql", error_level=ErrorLevel.RAISE)
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), path.name


@pytest.mark.parametrize("path", SQL_FILES, ids=SQL_NAMES)
def test_input_comes_only_through_question_mark_markers(path: Path):
    text = load_sql(path.stem)
    tokens = sqlglot.tokenize(text, read="tsql")
    bad = [t.text for t in tokens if t.token_type in FORBIDDEN_TOKENS]
    assert not bad, f"{path.name}: non-`?` parameter syntax {bad}"
    markers = sum(1 for t in tokens if t.token_type == TokenType.PLACEHOLDER)
    assert markers == placeholder_count(path.stem) > 0
    assert not any(t.token_type == TokenType.STRING and ("?" in t.text or "{" in t.text) for t in tokens)


def placeholder_count(name: str) -> int:
    (statement,) = sqlglot.parse(load_sql(name), read="tsql")
    return sum(1 for _ in statement.find_all(exp.Placeholder))


def test_comment_stripping_keeps_every_marker():
    """load_sql drops whole-line comments (the SQLite ODBC driver miscounts `?` after an apostrophe in one);
    the statement itself must be untouched."""
    for path in SQL_FILES:
        as_written = sqlglot.parse_one(path.read_text(encoding="utf-8"), read="tsql").sql("tsql", comments=False)
        as_sent = sqlglot.parse_one(load_sql(path.stem), read="tsql").sql("tsql")
        assert as_written == as_sent, path.name


def test_spectrum_source_never_builds_sql_text():
    """AST check of spectrum_source.py: every cursor.execute gets load_sql(<name>) as its statement, every
    name is a literal (or _query's own sql_name), and no f-string, % or .format touches a query."""
    tree = ast.parse(Path(spectrum_source.__file__).read_text(encoding="utf-8"))
    executes, names = [], []
    for node in ast.walk(tree):
        assert not isinstance(node, ast.JoinedStr), f"f-string at line {node.lineno}"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            pytest.fail(f"% formatting at line {node.lineno}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr != "format", f".format() at line {node.lineno}"
            if node.func.attr in ("execute", "executemany"):
                executes.append(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("load_sql", "_query"):
            arg = node.args[0] if node.func.id == "load_sql" else node.args[1]
            names.append(arg)
    assert executes, "no cursor.execute found"
    for call in executes:
        stmt = call.args[0]
        assert isinstance(stmt, ast.Call) and isinstance(stmt.func, ast.Name) and stmt.func.id == "load_sql", (
            f"execute at line {call.lineno} does not take load_sql(...)")
    for arg in names:
        assert (isinstance(arg, ast.Constant) and arg.value in SQL_NAMES) or (
            isinstance(arg, ast.Name) and arg.id == "sql_name"), f"SQL name at line {arg.lineno} is not a literal"


class _RecordingCursor:
    def __init__(self, cursor, calls):
        self._cursor, self._calls = cursor, calls

    def execute(self, sql, params=()):
        self._calls.append((sql, list(params)))
        return self._cursor.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _RecordingConnection:
    def __init__(self, conn):
        self._conn, self.calls = conn, []

    def cursor(self):
        return _RecordingCursor(self._conn.cursor(), self.calls)


def test_every_statement_gets_as_many_values_as_it_has_markers(demo_sqlite, demo_oracle):
    """Run every extraction function through the real SQLite ODBC driver (which refuses a marker/value
    mismatch, see the next test) and check each file's marker count against what it was given."""
    import pyodbc

    conn = pyodbc.connect(demo_sqlite)
    try:
        rec = _RecordingConnection(conn)
        for company in demo_oracle["companies"]:
            cc = company["company_code"]
            spectrum_source.cost_types(rec, cc)
            spectrum_source.near_jobs(rec, "O1", "19.50")
            for job in spectrum_source.list_jobs(rec, cc):
                assert spectrum_source.find_job(rec, cc, job.job_number) == job
                spectrum_source.readiness_facts(rec, job)
                for _ in spectrum_source.iter_budget_lines(rec, job, chunk_size=100):
                    pass
    finally:
        conn.close()
    by_text = {load_sql(name): name for name in SQL_NAMES}
    seen: dict[str, set[int]] = {}
    for sql, params in rec.calls:
        assert sql in by_text, f"a statement not from include/sql/: {sql[:80]!r}"
        seen.setdefault(by_text[sql], set()).add(len(params))
        assert all(isinstance(p, str) for p in params), params
    assert sorted(seen) == SQL_NAMES, "every file in include/sql/ is used by the extraction"
    assert {name: sorted(counts) for name, counts in seen.items()} == {
        name: [placeholder_count(name)] for name in SQL_NAMES}


def test_the_sqlite_odbc_driver_refuses_a_marker_value_mismatch(demo_sqlite):
    """So executing through it (previous test) is a real check, not a formality."""
    import pyodbc

    conn = pyodbc.connect(demo_sqlite)
    try:
        with pytest.raises(pyodbc.Error, match="parameter markers"):
            conn.cursor().execute(load_sql("budget_lines"), ["01", "     19.50"])
        with pytest.raises(pyodbc.Error, match="parameter markers"):
            conn.cursor().execute(load_sql("cost_types"), ["01", "extra"])
    finally:
        conn.close()


def test_sqlite_odbc_truncates_an_untyped_expression_column(tmp_path, sqlite_driver):
    """The finding behind `CAST(... AS CHAR(30))` in budget_lines.sql: the SQLite3 ODBC driver types an
    expression column (here SUM) by its FIRST row, so when that row is an integer, later sums lose their
    decimals (15500.125 -> 15500, 0.1 + 0.2 -> 0) without any error. As text, every value is exact."""
    import pyodbc

    path = tmp_path / "quirk.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (k VARCHAR(3), a DECIMAL(15,4))")
        db.executemany("INSERT INTO t VALUES (?, ?)",
                       [("a", 100), ("b", 12500.125), ("b", 3000), ("c", 0.1), ("c", 0.2)])
    con = pyodbc.connect(f"DRIVER={{{sqlite_driver}}};Database={path}")
    try:
        raw = con.execute("SELECT k, SUM(a) FROM t GROUP BY k ORDER BY k").fetchall()
        assert [tuple(r) for r in raw] == [("a", 100), ("b", 15500), ("c", 0)]  # silently truncated
        text = con.execute("SELECT k, CAST(SUM(a) AS CHAR(30)) FROM t GROUP BY k ORDER BY k").fetchall()
        assert [str(db_amount(r[1])) for r in text] == ["100.0000", "15500.1250", "0.3000"]
    finally:
        con.close()


def test_a_site_copy_of_budget_lines_with_other_columns_fails_in_words(demo_sqlite, tmp_path, monkeypatch):
    """A site's own budget_lines.sql (BUDGET_IMPORT_SQL_DIR) copied before issue 19, still returning Spectrum's
    unit of measure, quantity and unit cost, fails naming what it returns and what the import reads, instead
    of as a row that does not unpack."""
    import shutil

    import pyodbc

    folder = tmp_path / "site_sql"
    shutil.copytree(SQL_DIR, folder)
    old = folder / "budget_lines.sql"
    old.write_text(old.read_text(encoding="utf-8").replace(
        "    p.Description,\n", "    p.Description,\n    p.Unit_of_Measure,\n    p.Original_Est_Quantity,\n    p.Est_Unit_Cost,\n"),
        encoding="utf-8")
    monkeypatch.setenv("BUDGET_IMPORT_SQL_DIR", str(folder))
    conn = pyodbc.connect(demo_sqlite)
    try:
        job = spectrum_source.find_job(conn, "01", "19.50")
        assert job is not None
        with pytest.raises(spectrum_source.SpectrumDataError, match="returns 10 columns .*Unit_of_Measure.*the import reads 7"):
            next(spectrum_source.iter_budget_lines(conn, job))
    finally:
        conn.close()


def test_budget_lines_seeks_the_jobs_transactions_on_sqlite(demo_sqlite):
    """The plan the SQLite engine makes for budget_lines.sql: the transactions of the job are sought in the
    (Company_Code, Job_Number) index between the job's forms, not read for the whole company per job
    (which made a night grow as jobs x transactions: 594 s to extract 1,000 jobs of 1,000 lines)."""
    import pyodbc

    conn = pyodbc.connect(demo_sqlite)
    try:
        job = spectrum_source.find_job(conn, "01", "19.50")
        parameters = spectrum_source.budget_line_parameters(job, spectrum_source.transaction_job_numbers(conn, "01"))
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + load_sql("budget_lines"), parameters).fetchall()]
    finally:
        conn.close()
    (transactions,) = [step for step in plan if step.startswith(("SEARCH h ", "SCAN h"))]
    assert "IX_JC_TRANSACTION_HISTORY_MC_JOB (Company_Code=? AND Job_Number>? AND Job_Number<?)" in transactions, plan


def _site_copy(tmp_path, edit) -> Path:
    import shutil

    folder = tmp_path / "site_sql"
    shutil.copytree(SQL_DIR, folder)
    path = folder / "budget_lines.sql"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def _lines(conn, job) -> list:
    return [line for chunk in spectrum_source.iter_budget_lines(conn, job) for line in chunk]


RANGE_FILTER = "      AND h.Job_Number BETWEEN ? AND ?\n"


def test_a_site_copy_of_budget_lines_from_before_the_range_still_gives_every_line(demo_sqlite, tmp_path, monkeypatch, caplog):
    """A site's budget_lines.sql with the four parameters of earlier versions is bound as before: the same
    lines, only slower, and the log says how to make it seek."""
    import pyodbc

    assert RANGE_FILTER in (SQL_DIR / "budget_lines.sql").read_text(encoding="utf-8")
    conn = pyodbc.connect(demo_sqlite)
    try:
        job = spectrum_source.find_job(conn, "01", "19.50")
        shipped = _lines(conn, job)
        monkeypatch.setenv("BUDGET_IMPORT_SQL_DIR", str(_site_copy(tmp_path, lambda text: text.replace(RANGE_FILTER, ""))))
        spectrum_source._warn_four_parameter_budget_lines.cache_clear()
        with caplog.at_level("WARNING", logger=spectrum_source.__name__):
            old = _lines(conn, job)
    finally:
        conn.close()
    assert len(shipped) > 1 and old == shipped
    assert "reads every transaction of the company for each job" in caplog.text


def test_a_site_copy_of_budget_lines_with_other_parameters_fails_in_words(demo_sqlite, tmp_path, monkeypatch):
    import pyodbc

    edit = lambda text: text.replace(RANGE_FILTER, RANGE_FILTER + "      AND h.Batch_Code <> ?\n")  # noqa: E731
    monkeypatch.setenv("BUDGET_IMPORT_SQL_DIR", str(_site_copy(tmp_path, edit)))
    conn = pyodbc.connect(demo_sqlite)
    try:
        job = spectrum_source.find_job(conn, "01", "19.50")
        with pytest.raises(spectrum_source.SpectrumDataError, match="budget_lines.sql has 7 parameters .*the import binds 6"):
            _lines(conn, job)
    finally:
        conn.close()


class _DeclaringCursor(_RecordingCursor):
    """Records what each statement's parameters were declared as (setinputsizes) beside its values."""

    def __init__(self, cursor, calls, declared):
        super().__init__(cursor, calls)
        self._declared = declared

    def setinputsizes(self, sizes):
        self._declared.append(list(sizes))
        return self._cursor.setinputsizes(sizes)


class _DeclaringConnection(_RecordingConnection):
    def __init__(self, conn):
        super().__init__(conn)
        self.declared: list[list] = []

    def cursor(self):
        return _DeclaringCursor(self._conn.cursor(), self.calls, self.declared)


def test_text_parameters_are_declared_varchar_so_sql_server_can_seek_its_indexes(demo_sqlite):
    """pyodbc would bind each str as nvarchar, and SQL Server compares a varchar key with an nvarchar value by
    converting the column: an index scan instead of a seek. Every statement declares each of its text values
    varchar, of one size, through the real pyodbc cursor (which accepts the declaration on the SQLite driver)."""
    import pyodbc

    assert spectrum_source.SQL_VARCHAR == pyodbc.SQL_VARCHAR
    conn = pyodbc.connect(demo_sqlite)
    try:
        rec = _DeclaringConnection(conn)
        job = spectrum_source.find_job(rec, "01", "19.50")
        spectrum_source.readiness_facts(rec, job)
        lines = [line for chunk in spectrum_source.iter_budget_lines(rec, job) for line in chunk]
    finally:
        conn.close()
    assert lines and len(rec.declared) == len(rec.calls) == 5  # lookup, two facts, the forms, the lines
    for (sql, params), declared in zip(rec.calls, rec.declared, strict=True):
        assert len(declared) == len(params) == sql.count("?")
        assert declared == [(pyodbc.SQL_VARCHAR, spectrum_source.TEXT_PARAMETER_SIZE, 0)] * len(params), sql[:60]


def test_a_site_folder_from_before_a_file_was_added_uses_the_shipped_one_and_the_preflight_says_so(demo_sqlite, tmp_path, monkeypatch):
    """A site's copy of include/sql/ (BUDGET_IMPORT_SQL_DIR) made before transaction_job_numbers.sql existed:
    the extraction uses the shipped file (the same lines as with the shipped folder) and logs it; the preflight
    runs that file and warns, saying to copy it; a file the site's folder has is still its own."""
    import pyodbc

    from include.budget_import import preflight, sql_files

    conn = pyodbc.connect(demo_sqlite)
    try:
        job = spectrum_source.find_job(conn, "01", "19.50")
        shipped = _lines(conn, job)
        folder = _site_copy(tmp_path, lambda text: text)
        (folder / "transaction_job_numbers.sql").unlink()
        (folder / "cost_types.sql").write_text("-- rule: the site's own\nSELECT 'X', 'site' WHERE 1 = ?", encoding="utf-8")
        monkeypatch.setenv("BUDGET_IMPORT_SQL_DIR", str(folder))
        sql_files._warn_shipped_used.cache_clear()
        warnings: list[logging.LogRecord] = []
        handler = logging.Handler(logging.WARNING)
        handler.emit = warnings.append  # type: ignore[method-assign]  # (Airflow's logging set-up may not propagate)
        logging.getLogger(sql_files.__name__).addHandler(handler)
        try:
            assert _lines(conn, job) == shipped
        finally:
            logging.getLogger(sql_files.__name__).removeHandler(handler)
        assert sql_files.sql_path("transaction_job_numbers") == SQL_DIR / "transaction_job_numbers.sql"
        assert spectrum_source.cost_types(conn, "01") == {}, "the site's own file is read, not the shipped one"
        checks = {c.name: c for c in preflight.check_sql_files(conn, folder)}
    finally:
        conn.close()
    assert ["has no transaction_job_numbers.sql" in r.getMessage() for r in warnings] == [True], "logged once"
    added = checks["sql:transaction_job_numbers.sql"]
    assert added.status == preflight.WARNING and "Copy include/sql/transaction_job_numbers.sql into" in added.todo
    assert checks["sql:budget_lines.sql"].status == preflight.OK and len(checks) == len(SQL_FILES)
    assert sql_files.missing_from(SQL_DIR) == []
