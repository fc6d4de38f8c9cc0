"""Every name derived from a job is one-to-one with (company, job number): no two jobs share a report
folder, status file or lock, whatever their numbers contain."""
from __future__ import annotations

import itertools

import pytest

from include.budget_import.artifacts import RunFolder
from include.budget_import.job_keys import job_key, parse_job_key, path_part

LOOK_ALIKES = ["77 01", "77/01", "77_01", "77-01", "77.01", "7701", "19.50", "19.50!", "19.50\u200b", "19.5", ".19.50",
               "..", ".", "", "~", "~7E", "a/../b", "A1", "Clínica", "77%01"]


def test_look_alike_job_numbers_get_distinct_keys() -> None:
    keys = {job_key("01", job): job for job in LOOK_ALIKES}
    assert len(keys) == len(LOOK_ALIKES), "two jobs share a key"
    assert job_key("01", "19.50") == "01_19.50"  # a plain job number reads as it is


@pytest.mark.parametrize(("company", "job"), list(itertools.product(["01", "0_1", "", "Z"], LOOK_ALIKES)))
def test_a_key_gives_back_its_job_and_stays_in_its_folder(company: str, job: str, tmp_path) -> None:
    key = job_key(company, job)
    assert parse_job_key(key) == (company, job)
    assert "/" not in key and "\\\\" not in key and not key.startswith(".") and key not in (".", "..")
    folder = RunFolder("run1", root=tmp_path).job(company, job).path
    assert folder.parent == tmp_path / "runs" / "run1"


def test_company_and_job_never_run_into_each_other() -> None:
    assert job_key("0_1", "2") != job_key("0", "1_2")
    assert "_" not in path_part("a_b")


def test_an_over_long_job_number_gets_a_name_of_its_own() -> None:
    long_a, long_b = "9" * 10_000, "9" * 9_999 + "8"
    assert job_key("01", long_a) != job_key("01", long_b) and len(job_key("01", long_a)) < 80
    assert job_key("01", long_a) != job_key("01", "9" * 10)

