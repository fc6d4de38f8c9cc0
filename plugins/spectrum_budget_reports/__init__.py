"""Spectrum Budgets: the budget import's reports in the Airflow UI (an Airflow 3 plugin's FastAPI app).

Importing this package is cheap on purpose: Airflow imports plugins in every process (each task
too). The web app (FastAPI, Jinja2, Airflow's auth) is built only when the api-server asks for it.
"""
from __future__ import annotations

URL_PREFIX = "/spectrum-budgets"
APP_NAME = "Spectrum Budgets"
