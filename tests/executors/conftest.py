"""Executor tests: a fresh Procore emulator per test (over real HTTP) and the services they need."""
from __future__ import annotations

import pytest

from standins.procore_emulator.server import EmulatorServer
from tests.conftest import Emulator
from tests.executors.cluster import PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT
from tests.services import require_service


@pytest.fixture()
def fresh_emulator(demo_sample, tmp_path):
    with EmulatorServer(db_path=tmp_path / "procore.db", fixture_path=demo_sample.fixture_path, reset=True) as server:
        yield Emulator(server)


@pytest.fixture()
def postgres():
    require_service("PostgreSQL", PG_HOST, PG_PORT)


@pytest.fixture()
def redis_broker():
    require_service("Redis", REDIS_HOST, REDIS_PORT)
