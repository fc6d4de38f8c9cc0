"""Airflow's local settings hook (airflow.settings imports it in every Airflow process, from
$AIRFLOW_HOME/config or PYTHONPATH): in the scheduler and in `airflow celery worker` only, preload the
import's heavy modules so every task process they fork starts with them (include/budget_import/preload.py;
docs/performance.md, "Through a real scheduler"). BUDGET_IMPORT_PRELOAD=0 turns it off."""
from __future__ import annotations

import sys

try:
    from include.budget_import.preload import executor_parent, preload
except ImportError:  # the project is not on this process's path: nothing to preload
    pass
else:
    if executor_parent(sys.argv):
        preload()
