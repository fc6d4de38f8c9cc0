"""Benchmark-only DAG (scripts/bench_scheduler.py): the manual import's shape with empty TaskFlow tasks.

The reference for "each task <= 1 s above an empty task started the same way": the same chain of six
tasks as `spectrum_budget_import` (one_job -> prepare_batch -> ready_jobs -> plan_review -> load_job ->
summarise), each returning a small value, scheduled by the same scheduler and executor. Not in dags/.
"""
from __future__ import annotations

from airflow.sdk import dag, task


@dag(dag_id="bench_empty_import_shape", schedule=None, catchup=False, tags=["benchmark"])
def bench_empty_import_shape():
    @task
    def one_job() -> list:
        return [{"company_code": "01"}]

    @task
    def prepare_batch(jobs: list) -> list:
        return jobs

    @task
    def ready_jobs(jobs: list) -> list:
        return jobs

    # multiple_outputs=True is what Airflow inferred from `-> dict` before it was written out (ruff AIR202):
    # the benchmark's XCom pushes, and so its timings, stay as they were.
    @task(multiple_outputs=True)
    def plan_review(jobs: list) -> dict:
        return {"ask": False}

    @task(multiple_outputs=True)
    def load_job(review: dict) -> dict:
        return {"status": "synced"}

    @task(multiple_outputs=True)
    def summarise(result: dict) -> dict:
        return result

    summarise(load_job(plan_review(ready_jobs(prepare_batch(one_job())))))


bench_empty_import_shape()
