"""Airflow plugin: the 'Spectrum Budgets' reports in the Airflow UI (docs/ui.md).

- fastapi_apps: the web app (spectrum_budget_reports.app) mounted on the api-server under URL_PREFIX;
  it requires an Airflow login on every route.
- external_views: 'Spectrum Budgets' in the navigation, and tabs on a DAG run and a task instance that
  open that run's (or that job's) reports.

Kept light: Airflow imports plugins in every process, each task included. The FastAPI app (and with
it FastAPI, Jinja2 and Airflow's API security module) is built on first access to `fastapi_apps`,
which only the api-server (and `airflow plugins`) makes.
"""
from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from spectrum_budget_reports import APP_NAME, URL_PREFIX


class _BuiltOnFirstUse:
    """Class attribute that builds the FastAPI app list the first time it is read, then keeps it."""

    def __get__(self, instance: object, owner: type) -> list[dict[str, Any]]:
        from spectrum_budget_reports.app import create_app

        apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": APP_NAME}]
        owner.fastapi_apps = apps  # type: ignore[attr-defined]  # replaces this descriptor
        return apps


class SpectrumBudgetReportsPlugin(AirflowPlugin):
    name = "spectrum_budget_reports"
    fastapi_apps = _BuiltOnFirstUse()  # a descriptor: reading it gives the list AirflowPlugin declares
    external_views = [
        {
            "name": APP_NAME,
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "spectrum-budgets",
        },
        {
            "name": "Budget reports",
            "href": f"{URL_PREFIX}/dag-run?dag_id={{DAG_ID}}&run_id={{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "spectrum-budgets-run",
        },
        {
            "name": "Budget report",
            "href": f"{URL_PREFIX}/task-instance?dag_id={{DAG_ID}}&run_id={{RUN_ID}}&task_id={{TASK_ID}}&map_index={{MAP_INDEX}}",
            "destination": "task_instance",
            "url_route": "spectrum-budgets-job",
        },
    ]
