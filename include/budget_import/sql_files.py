"""SQL lives in include/sql/*.sql; this reads it by name so the Python never embeds a query."""
from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def load_sql(name: str) -> str:
    """Text of include/sql/<name>.sql without its whole-line `--` comments: some ODBC drivers (SQLite's)
    count `?` markers without understanding comments, so an apostrophe in a comment breaks them."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip()
