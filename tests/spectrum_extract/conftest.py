"""Sample Spectrum databases on three real engines, read through pyodbc and their ODBC drivers.

Every engine gets its own scratch database per run (several people may share the servers), created
through :func:`tests.spectrum_sample.conftest.require_service`: without the server or its ODBC driver a
test skips with the reason, and under ``CI=true`` it FAILS instead.
"""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from standins.spectrum_sample.generate import Dataset
from standins.spectrum_sample.load import build
from tests.spectrum_sample.conftest import MARIADB_SERVER, PG_SERVER, SQLITE_DRIVER, require_service

from . import padded_keys

ENGINES = ("sqlite", "postgresql", "mariadb")


def _pyodbc():
    import pyodbc  # imported late: it needs unixODBC, and a failure is reported through require_service

    return pyodbc


def _driver_name(odbc: str) -> str:
    return odbc.split("{", 1)[1].split("}", 1)[0]


def _check_driver(name: str) -> None:
    if name not in _pyodbc().drivers():
        raise RuntimeError(f"ODBC driver {name!r} is not installed (see /etc/odbcinst.ini)")


def _scratch_name(tag: str) -> str:
    return f"spectrum_extract_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


@contextmanager
def scratch_database(engine: str, tag: str, tmp: Path) -> Iterator[str]:
    """An ODBC connection string to a new, empty database on ``engine``; dropped (servers) afterwards."""
    if engine == "sqlite":
        require_service(f"{SQLITE_DRIVER} ODBC driver", lambda: _check_driver(SQLITE_DRIVER))
        yield f"DRIVER={{{SQLITE_DRIVER}}};Database={tmp / f'{tag}.db'}"
        return
    name = _scratch_name(tag)
    if engine == "postgresql":
        server, what = PG_SERVER, "PostgreSQL (SPECTRUM_SAMPLE_PG_ODBC or 127.0.0.1:5432)"
        create = f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"
        drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    elif engine == "mariadb":
        server, what = MARIADB_SERVER, "MariaDB (SPECTRUM_SAMPLE_MARIADB_ODBC or 127.0.0.1:3306)"
        create = f"CREATE DATABASE {name} CHARACTER SET utf8mb4"
        drop = f"DROP DATABASE IF EXISTS {name}"
    else:
        raise ValueError(engine)

    def connect_and_create():
        _check_driver(_driver_name(server))
        con = _pyodbc().connect(server + "Database=test;", autocommit=True, timeout=5)
        con.execute(create)
        return con

    admin = require_service(what, connect_and_create)
    try:
        yield server + f"Database={name};"
    finally:
        admin.execute(drop)
        admin.close()


def _built(tmp_path_factory, engine: str, tag: str, dataset: Callable[[], Dataset]) -> Iterator[str]:
    with scratch_database(engine, tag, tmp_path_factory.mktemp(f"{tag}_{engine}")) as odbc:
        build(dataset(), odbc=odbc)
        yield odbc


@pytest.fixture(scope="session")
def sqlite_driver() -> str:
    require_service(f"{SQLITE_DRIVER} ODBC driver", lambda: _check_driver(SQLITE_DRIVER))
    return SQLITE_DRIVER


@pytest.fixture(scope="session")
def demo_manifest_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("extract_oracle") / "manifest.json"
    build(Dataset("demo"), manifest_path=str(path))
    return path


@pytest.fixture(scope="session")
def demo_oracle(demo_manifest_path) -> dict:
    """The demo profile's oracle manifest (computed in Python from the generated rows, never by our SQL)."""
    return json.loads(demo_manifest_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory) -> Iterator[str]:
    yield from _built(tmp_path_factory, "sqlite", "demo", lambda: Dataset("demo"))


@pytest.fixture(scope="session")
def demo_postgresql(tmp_path_factory) -> Iterator[str]:
    yield from _built(tmp_path_factory, "postgresql", "demo", lambda: Dataset("demo"))


@pytest.fixture(scope="session")
def demo_mariadb(tmp_path_factory) -> Iterator[str]:
    yield from _built(tmp_path_factory, "mariadb", "demo", lambda: Dataset("demo"))


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture()
def demo_conn(engine, request):
    """A pyodbc connection to the demo database on each of the three engines (parametrised)."""
    odbc = request.getfixturevalue(f"demo_{engine}")
    con = _pyodbc().connect(odbc)
    yield con
    con.close()


def _padded(tmp_path_factory, engine: str) -> Iterator[str]:
    with scratch_database(engine, "padded", tmp_path_factory.mktemp(f"padded_{engine}")) as odbc:
        padded_keys.load(odbc)
        yield odbc


@pytest.fixture(scope="session")
def padded_sqlite(tmp_path_factory) -> Iterator[str]:
    """tests/spectrum_extract/padded_keys.py's database: keys padded and cased differently per table."""
    yield from _padded(tmp_path_factory, "sqlite")


@pytest.fixture(scope="session")
def padded_postgresql(tmp_path_factory) -> Iterator[str]:
    yield from _padded(tmp_path_factory, "postgresql")


@pytest.fixture(scope="session")
def padded_mariadb(tmp_path_factory) -> Iterator[str]:
    yield from _padded(tmp_path_factory, "mariadb")


@pytest.fixture()
def padded_conn(engine, request):
    """A pyodbc connection to the padded-keys database on each of the three engines (parametrised)."""
    con = _pyodbc().connect(request.getfixturevalue(f"padded_{engine}"))
    yield con
    con.close()


# One big job (scale profile) for the streaming tests: more lines than one chunk.
BIG_JOB_LINES = 2_500


@pytest.fixture(scope="session")
def big_job_sqlite(tmp_path_factory) -> Iterator[str]:
    yield from _built(tmp_path_factory, "sqlite", "bigjob", lambda: Dataset("scale", jobs=1, lines=BIG_JOB_LINES))


@pytest.fixture(scope="session")
def big_job_postgresql(tmp_path_factory) -> Iterator[str]:
    yield from _built(tmp_path_factory, "postgresql", "bigjob",
                      lambda: Dataset("scale", jobs=1, lines=BIG_JOB_LINES))


@pytest.fixture(scope="session")
def big_job_mariadb(tmp_path_factory) -> Iterator[str]:
    yield from _built(tmp_path_factory, "mariadb", "bigjob", lambda: Dataset("scale", jobs=1, lines=BIG_JOB_LINES))
