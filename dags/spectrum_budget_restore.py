"""Put back a Procore budget snapshot taken before an override (thin wiring only)."""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from include.budget_import.import_tasks import PROCORE_POOL, TAGS, default_args

DOC_MD = """
### Restore a Procore budget from a pre-override snapshot

Every override that changes or deletes existing Procore lines first saves the budget as it was
(`budget_reports/runs/<run id>/<company>_<job>/snapshot.json` and `snapshot.pdf`). Trigger this DAG with
that run's **snapshot_run_id**, **company_code** and **job_number**: Procore's budget is made equal to
the snapshot again (lines re-created, amounts put back, lines added since removed). The budget as it
stood before the restore is snapshotted in this run's folder first, so a restore can be undone too.

A restore is a writer like any import: it holds the job's lock (an import of the same job waits, and
this waits for one), runs in the `procore_api` pool, retries, and writes the job's status
("restored from the snapshot of run X", or failed with the error).
"""


@dag(
    dag_id="spectrum_budget_restore",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=TAGS,
    default_args=default_args(retry_delay=timedelta(seconds=30)),
    params={
        "snapshot_run_id": Param("", type="string", minLength=1, description="Run id of the override run that took the snapshot"),
        "company_code": Param("01", type="string", minLength=1, maxLength=3, description="Spectrum company code"),
        "job_number": Param("", type="string", minLength=1, maxLength=10, description="Spectrum job number, without padding"),
    },
)
def spectrum_budget_restore():
    @task(pool=PROCORE_POOL, multiple_outputs=False)
    def restore_snapshot(params=None, run_id=None) -> dict:
        from include.budget_import import dag_tasks

        return dag_tasks.restore_snapshot(params, run_id)

    restore_snapshot()


spectrum_budget_restore()
