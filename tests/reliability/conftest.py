"""Fixtures of the reliability suites: the demo sample (tests/conftest.py) and an emulator of their own,
so fault and limit settings never leak into other folders' tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from standins.procore_emulator.server import EmulatorServer
from tests.conftest import Emulator
from tests.reliability.harness import DEFAULT_LIMITS, set_faults, set_limits


@pytest.fixture(scope="session")
def rel_emulator(demo_sample, tmp_path_factory) -> Iterator[Emulator]:
    folder = tmp_path_factory.mktemp("reliability_emulator")
    with EmulatorServer(db_path=folder / "procore.db", fixture_path=demo_sample.fixture_path, reset=True) as server:
        yield Emulator(server)


@pytest.fixture()
def emu(rel_emulator) -> Iterator[Emulator]:
    """The reliability emulator, re-seeded, with no faults and the default limits; left the same way."""
    set_faults(rel_emulator.url)
    set_limits(rel_emulator.url, **DEFAULT_LIMITS)
    rel_emulator.reset()
    yield rel_emulator
    set_faults(rel_emulator.url)
    set_limits(rel_emulator.url, **DEFAULT_LIMITS)
