"""SQL lives in include/sql/*.sql; this reads it by name so the Python never embeds a query.

A site may keep its own copy of the folder (BUDGET_IMPORT_SQL_DIR, settings.sql_dir); every file says
which rule it implements in a one-line `-- rule:` header, which the preflight names when a file fails.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from include.budget_import.settings import sql_dir as configured_sql_dir

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"  # the shipped files
RULE_PREFIX = "-- rule:"


def sql_dir() -> Path:
    """The folder the pipeline reads its SQL from: BUDGET_IMPORT_SQL_DIR, else include/sql/."""
    return configured_sql_dir() or SQL_DIR


def sql_names(folder: Path | None = None) -> list[str]:
    """The statement names (file stems) of a SQL folder, sorted."""
    return sorted(path.stem for path in (folder or sql_dir()).glob("*.sql"))


def load_sql(name: str) -> str:
    """Text of <sql dir>/<name>.sql without its whole-line `--` comments: some ODBC drivers (SQLite's)
    count `?` markers without understanding comments, so an apostrophe in a comment breaks them."""
    return _statement(str(sql_dir() / f"{name}.sql"))


@cache
def _statement(path_text: str) -> str:
    path = Path(path_text)
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip()


def rule_of(path: Path) -> str | None:
    """The rule a SQL file implements, from its `-- rule:` header line (None when it has none)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().lower().startswith(RULE_PREFIX):
            return line.strip()[len(RULE_PREFIX):].strip() or None
    return None
