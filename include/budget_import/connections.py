"""Airflow connections -> the objects the pipeline needs. Imported inside tasks only (never at parse time)."""
from __future__ import annotations

from typing import Any

from include.budget_import import log_safety
from include.budget_import.settings import PROCORE_CONN_ID, SPECTRUM_CONN_ID


def spectrum_connection(conn_id: str = SPECTRUM_CONN_ID) -> Any:
    """A pyodbc connection to Spectrum through the odbc provider's OdbcHook (read-only use)."""
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    log_safety.install()
    return OdbcHook(odbc_conn_id=conn_id).get_conn()


def procore_hook(conn_id: str = PROCORE_CONN_ID) -> Any:
    from include.budget_import.procore.hook import ProcoreHook

    log_safety.install()
    return ProcoreHook(procore_conn_id=conn_id)
