"""The executor parents' preload (config/airflow_local_settings.py -> include/budget_import/preload.py):
Great Expectations and pandas are imported in `airflow scheduler` and `airflow celery worker` only, so the
task processes they fork start with them; every other Airflow process (api-server, dag-processor, `dags
test`, DAG parsing) stays light. Each case runs in a fresh interpreter, as Airflow would start it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.budget_import.preload import executor_parent

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import sys; sys.argv = {argv!r}; import airflow_local_settings; print('great_expectations' in sys.modules, 'pandas' in sys.modules)"


def imported_after_local_settings(argv: list[str], **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "config")]), **env},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["airflow", "scheduler", "--skip-serve-logs"], ["airflow", "celery", "worker", "--concurrency", "2"]])
def test_an_executor_parent_preloads_great_expectations_and_pandas(argv: list[str]) -> None:
    assert imported_after_local_settings(argv) == "True True"


@pytest.mark.parametrize("argv", [["airflow", "api-server"], ["airflow", "dag-processor"], ["airflow", "dags", "test", "spectrum_budget_import"],
                                  ["airflow", "triggerer"], ["airflow", "db", "migrate"]])
def test_other_airflow_processes_stay_light(argv: list[str]) -> None:
    assert imported_after_local_settings(argv) == "False False"


def test_the_preload_can_be_turned_off() -> None:
    assert imported_after_local_settings(["airflow", "scheduler"], BUDGET_IMPORT_PRELOAD="0") == "False False"


def test_executor_parent_reads_the_command_words_not_the_options() -> None:
    assert executor_parent(["/opt/venv/bin/airflow", "--verbose", "scheduler"])
    assert not executor_parent(["/opt/venv/bin/airflow", "celery", "flower"])
    assert not executor_parent(["python", "-m", "pytest"])
