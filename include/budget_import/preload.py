"""Heavy modules imported once in an executor's long-lived parent process, so the task processes it forks
start with them (issue 19).

Airflow 3 runs every task in a process of its own: the LocalExecutor's workers are forked from the
scheduler and fork each task; a Celery worker's pool is forked from `airflow celery worker` and forks each
task too. What the parent imported before it forked is in every task process for free; what it did not,
each task imports again (pandas + Great Expectations: 3-4 s a task). Only modules are imported here, no
connection, thread or GX context is opened, so nothing is shared across a fork that must not be.
config/airflow_local_settings.py calls `preload()` in those two processes only (never in the api-server,
the dag-processor, `airflow dags test` or any other command; DAG parsing stays light). A
KubernetesExecutor pod starts a fresh interpreter per task: there is no parent to inherit from.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

PRELOAD_ENV = "BUDGET_IMPORT_PRELOAD"  # "0" turns it off
MODULES = ("pandas", "pyodbc", "requests", "include.budget_import.quality", "include.budget_import.reshape",
           "include.budget_import.spectrum_source", "include.budget_import.plan", "include.budget_import.line_checks")


def executor_parent(argv: Sequence[str]) -> bool:
    """Whether this process is an executor's parent: `airflow scheduler` or `airflow celery worker`."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return words[:1] == ["scheduler"] or words[:2] == ["celery", "worker"]


def preload(modules: Sequence[str] = MODULES) -> list[str]:
    """Import `modules` and Great Expectations; returns what was imported. A failure is logged, never raised:
    the scheduler must start whatever a task module needs."""
    import importlib

    if os.environ.get(PRELOAD_ENV, "1") == "0":
        return []
    started = time.perf_counter()
    done: list[str] = []
    for name in modules:
        try:
            importlib.import_module(name)
            done.append(name)
        except Exception:  # noqa: BLE001 - a preload must never stop the scheduler
            log.warning("preload of %s failed; tasks will import it themselves", name, exc_info=True)
    try:
        from include.budget_import import quality

        quality._gx()  # the package itself, quietly (its logger set as quality sets it)
        done.append("great_expectations")
    except Exception:  # noqa: BLE001
        log.warning("preload of great_expectations failed; tasks will import it themselves", exc_info=True)
    log.info("preloaded %s in %.1f s for the task processes this process forks", ", ".join(done), time.perf_counter() - started)
    return done
