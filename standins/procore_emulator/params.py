"""Reading query/body parameters with Procore's (Grape-style) 400 messages, and SQL `IN` helpers."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from starlette.requests import Request

from .errors import bad_request

SQL_CHUNK = 500  # stays well under SQLite's host-parameter limit


def to_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise bad_request(f"{name} is invalid")
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise bad_request(f"{name} is invalid") from None


def query_int(request: Request, name: str, body: Any = None, required: bool = True) -> int | None:
    """An integer from the query string, falling back to the JSON body (Procore accepts either)."""
    raw = request.query_params.get(name)
    if (raw is None or raw == "") and isinstance(body, dict):
        raw = body.get(name)
    if raw is None or raw == "":
        if required:
            raise bad_request(f"{name} is missing")
        return None
    return to_int(raw, name)


def filter_values(request: Request, name: str, split: bool = False) -> list[str] | None:
    """`filters[name]=a` or repeated `filters[name][]=a` (and `a,b` when `split`); None when not given."""
    values = request.query_params.getlist(f"filters[{name}]") + request.query_params.getlist(f"filters[{name}][]")
    if not values:
        return None
    out: list[str] = []
    for value in values:
        out.extend(part for part in value.split(",") if part != "") if split else out.append(value)
    return out


def id_filter(request: Request, name: str = "id") -> list[int] | None:
    values = filter_values(request, name, split=True)
    return None if values is None else [to_int(v, f"filters[{name}]") for v in values]


def chunks(items: Sequence[Any], size: int = SQL_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def select_in(conn: sqlite3.Connection, sql: str, values: Iterable[Any], *args: Any) -> list[sqlite3.Row]:
    """Run `sql` (which contains `{marks}` for an IN list, after any `args` placeholders) over chunks of values."""
    values = list(values)
    rows: list[sqlite3.Row] = []
    for part in chunks(values):
        marks = ", ".join("?" for _ in part)
        rows.extend(conn.execute(sql.format(marks=marks), (*args, *part)).fetchall())
    return rows
