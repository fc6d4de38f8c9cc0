"""Fixtures for the sample Spectrum database tests.

Service-backed tests (PostgreSQL, MariaDB) go through :func:`require_service`: they skip with the
reason when the server or its ODBC driver is unavailable, and FAIL instead when ``CI=true``.
"""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

T = TypeVar("T")

# Server part of the connection strings (no Database=); override to point the tests elsewhere.
PG_SERVER = os.environ.get("SPECTRUM_SAMPLE_PG_ODBC",
                           "DRIVER={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Uid=postgres;Pwd=;")
MARIADB_SERVER = os.environ.get("SPECTRUM_SAMPLE_MARIADB_ODBC",
                                "DRIVER={MariaDB Unicode};Server=127.0.0.1;Port=3306;User=root;Password=;")
SQLITE_DRIVER = "SQLite3"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require_service(what: str, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (connect to a service); when it raises, skip with the reason, or fail under CI=true."""
    try:
        return attempt()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the service counts
        reason = f"{what} unavailable: {type(exc).__name__}: {exc}".strip()
        if in_ci():
            pytest.fail(f"{reason} (CI=true: service-backed tests must run)", pytrace=False)
        pytest.skip(reason)


def _pyodbc():
    import pyodbc  # noqa: PLC0415 - needs unixODBC; reported through require_service

    return pyodbc


def _driver_installed(name: str) -> None:
    if name not in _pyodbc().drivers():
        raise RuntimeError(f"ODBC driver {name!r} is not installed (see /etc/odbcinst.ini)")


@pytest.fixture(scope="session")
def pyodbc_module():
    """pyodbc, imported lazily: without unixODBC the import fails, which skips (or fails under CI=true)."""
    return require_service("pyodbc (unixODBC)", _pyodbc)


def _driver_name(odbc: str) -> str:
    return odbc.split("{", 1)[1].split("}", 1)[0] if "{" in odbc else ""


@pytest.fixture(scope="session")
def sqlite_driver() -> str:
    require_service("SQLite3 ODBC driver", lambda: _driver_installed(SQLITE_DRIVER))
    return SQLITE_DRIVER


def _scratch_name() -> str:
    # unique per run: several people may run the suite against the same servers at once
    return f"spectrum_sample_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def postgres_odbc() -> Iterator[str]:
    """An ODBC connection string to a fresh PostgreSQL database, dropped afterwards."""
    name = _scratch_name()

    def create():
        _driver_installed(_driver_name(PG_SERVER))
        con = _pyodbc().connect(PG_SERVER + "Database=test;", autocommit=True, timeout=5)
        con.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
        return con

    admin = require_service("PostgreSQL (SPECTRUM_SAMPLE_PG_ODBC or 127.0.0.1:5432)", create)
    try:
        yield PG_SERVER + f"Database={name};"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def mariadb_odbc() -> Iterator[str]:
    """An ODBC connection string to a fresh MariaDB database, dropped afterwards."""
    name = _scratch_name()

    def create():
        _driver_installed(_driver_name(MARIADB_SERVER))
        con = _pyodbc().connect(MARIADB_SERVER + "Database=test;", autocommit=True, timeout=5)
        con.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        return con

    admin = require_service("MariaDB (SPECTRUM_SAMPLE_MARIADB_ODBC or 127.0.0.1:3306)", create)
    try:
        yield MARIADB_SERVER + f"Database={name};"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory, sqlite_driver) -> dict:
    """The demo profile built once into SQLite (through the CLI), with its manifest and fixture."""
    from standins.spectrum_sample.__main__ import main

    d = tmp_path_factory.mktemp("spectrum_demo")
    odbc = f"DRIVER={{{sqlite_driver}}};Database={d / 'spectrum.db'}"
    rc = main(["build", "--profile", "demo", "--odbc", odbc, "--manifest", str(d / "manifest.json"),
               "--procore-fixture", str(d / "procore_fixture.json")])
    assert rc == 0
    with open(d / "manifest.json", encoding="utf-8") as fh:
        manifest = json.load(fh)
    with open(d / "procore_fixture.json", encoding="utf-8") as fh:
        fixture = json.load(fh)
    return {"dir": d, "odbc": odbc, "manifest": manifest, "fixture": fixture}


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory) -> dict:
    """The demo manifest alone (no database needed)."""
    from standins.spectrum_sample.generate import Dataset
    from standins.spectrum_sample.load import build

    path = tmp_path_factory.mktemp("spectrum_manifest") / "manifest.json"
    build(Dataset("demo"), manifest_path=str(path))
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
