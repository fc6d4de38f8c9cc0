"""SQL lives in include/sql/*.sql; this reads it by name so the Python never embeds a query.

A site may keep its own copy of the folder (BUDGET_IMPORT_SQL_DIR, settings.sql_dir); every file says
which rule it implements in a one-line `-- rule:` header, which the preflight names when a file fails.
"""
from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from include.budget_import.settings import sql_dir as configured_sql_dir

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"  # the shipped files
RULE_PREFIX = "-- rule:"
log = logging.getLogger(__name__)


def sql_dir() -> Path:
    """The folder the pipeline reads its SQL from: BUDGET_IMPORT_SQL_DIR, else include/sql/."""
    return configured_sql_dir() or SQL_DIR


def sql_names(folder: Path | None = None) -> list[str]:
    """The statement names (file stems) of a SQL folder, sorted."""
    return sorted(path.stem for path in (folder or sql_dir()).glob("*.sql"))


def sql_path(name: str) -> Path:
    """<sql dir>/<name>.sql. A site's folder (BUDGET_IMPORT_SQL_DIR) without a file the shipped folder has
    (one a later version added, such as transaction_job_numbers.sql) uses the shipped file, logged once:
    the site's copy predates it, and the preflight says so (copy it into the folder to adapt it)."""
    folder = sql_dir()
    path = folder / f"{name}.sql"
    if folder != SQL_DIR and not path.is_file() and (SQL_DIR / f"{name}.sql").is_file():
        _warn_shipped_used(str(folder), name)
        return SQL_DIR / f"{name}.sql"
    return path


@cache
def _warn_shipped_used(folder: str, name: str) -> None:
    log.warning("%s has no %s.sql (a file added after the folder was copied): using the shipped include/sql/%s.sql; "
                "copy it into %s to adapt it to this Spectrum", folder, name, name, folder)


def missing_from(folder: Path) -> list[str]:
    """The statement names the shipped folder has and `folder` lacks (the shipped file is used for them)."""
    if folder.resolve() == SQL_DIR.resolve():
        return []
    return sorted(set(sql_names(SQL_DIR)) - set(sql_names(folder)))


def load_sql(name: str) -> str:
    """Text of <sql dir>/<name>.sql (sql_path) without its whole-line `--` comments: some ODBC drivers
    (SQLite's) count `?` markers without understanding comments, so an apostrophe in a comment breaks them."""
    return _statement(str(sql_path(name)))


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
