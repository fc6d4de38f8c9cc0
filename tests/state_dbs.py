"""State databases for tests of the lock and the rate budget: an SQLite file, or a uniquely named PostgreSQL
database on 127.0.0.1:5432 (dropped after; skipped with a reason when PostgreSQL is absent, failed under CI=true)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.services import require_service

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = os.environ.get("BUDGET_IMPORT_TEST_PG_URL", f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/postgres")


@contextmanager
def postgres_state_db(tag: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (WITH FORCE) afterwards."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    name = f"budget_state_{tag}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        from include.budget_import import state_db

        for key in [k for k in state_db._ENGINES if k[1].endswith(f"/{name}")]:
            state_db._ENGINES.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def state_db(kind: str, folder: Path, tag: str) -> Iterator[str]:
    """`sqlite` (a file in `folder`) or `postgresql`: the URL to set as BUDGET_IMPORT_STATE_DB."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'budget_state.db'}"
        return
    with postgres_state_db(tag) as url:
        yield url
