"""Shared fixtures: the sample Spectrum database (real SQLite ODBC driver) and its oracle manifest."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sample:
    db_path: Path
    manifest_path: Path
    fixture_path: Path

    @property
    def odbc(self) -> str:
        return f"DRIVER={{SQLite3}};Database={self.db_path}"

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))


def build_sample(folder: Path, profile: str = "demo", *extra: str) -> Sample:
    folder.mkdir(parents=True, exist_ok=True)
    sample = Sample(folder / "spectrum.db", folder / "manifest.json", folder / "procore_fixture.json")
    subprocess.run(
        [sys.executable, "-m", "standins.spectrum_sample", "build", "--profile", profile, "--odbc", sample.odbc,
         "--manifest", str(sample.manifest_path), "--procore-fixture", str(sample.fixture_path), *extra],
        cwd=ROOT, check=True, capture_output=True,
    )
    return sample


@pytest.fixture(scope="session")
def demo_sample(tmp_path_factory) -> Sample:
    return build_sample(tmp_path_factory.mktemp("demo_sample"))


@pytest.fixture()
def spectrum_conn(demo_sample):
    import pyodbc

    conn = pyodbc.connect(demo_sample.odbc)
    yield conn
    conn.close()
