"""Preflight for a real site: check Spectrum, the SQL rules and Procore before the first import (thin wiring only)."""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from include.budget_import.import_tasks import PROCORE_POOL, TAGS, default_args

DOC_MD = """
### Preflight: is this site ready for its first import?

Run it (manually) right after setting the `spectrum_db` and `procore_api` connections. **It writes nothing**
to Spectrum or Procore (read-only SQL, Procore GETs only) and checks:

1. the Spectrum connection opens;
2. every SQL file in `include/sql/` (or `BUDGET_IMPORT_SQL_DIR`) runs against this Spectrum's schema, bound
   to values that match nothing: a failure names the file, the rule it implements and the database's error
   (e.g. the column `Lock_Estimate_Entry` this Spectrum lacks), and says which file to edit;
3. the Procore credentials get a token, the company map (`extra.companies` / `company_id`) names companies
   the app can see, and the app's access to the Budget tool of a project;
4. which active Spectrum jobs no Procore project is linked to (the project's `origin_id`), with the
   `origin_id` to set and the projects whose number or name matches.

The report is the page **Spectrum Budgets > Preflight** (`/spectrum-budgets/preflight`) and
`budget_reports/preflight/latest.json`. The run fails when a check failed (warnings let it pass).

**Linking a project** is a separate, explicit action: trigger with the param
`link: {"company_code": "01", "job_number": "22.00", "procore_project_id": 2008}`. The task `link_project`
sets that project's `origin_id` to `01|22.00` (Procore's Update project; the app needs Admin on the
project), refusing a project already linked to another job or a job another project already names; the
preflight then runs and shows the new state. Params: `company_codes` (default: the keys of
`extra.companies`), `link` (default none: nothing is written). Pool `procore_api`.
"""


@dag(
    dag_id="spectrum_budget_preflight",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=[*TAGS, "preflight"],
    default_args=default_args(retry_delay=timedelta(seconds=30)),
    params={
        "company_codes": Param([], type="array", items={"type": "string"}, description="Spectrum companies to check (empty: extra.companies' keys)"),
        "link": Param(None, type=["null", "object"], description='Optional: {"company_code": "01", "job_number": "22.00", "procore_project_id": 2008} '
                      "sets that project's origin_id before the checks (the only write)"),
    },
)
def spectrum_budget_preflight():
    @task(pool=PROCORE_POOL, multiple_outputs=False)
    def link_project(params=None) -> dict | None:
        from airflow.exceptions import AirflowFailException, AirflowSkipException

        from include.budget_import import preflight

        link = (params or {}).get("link")
        if not link:
            raise AirflowSkipException("no link asked for (param link): nothing to write")
        try:
            return preflight.link_project(link.get("company_code", ""), link.get("job_number", ""), int(link.get("procore_project_id") or 0))
        except (preflight.LinkRefused, ValueError, TypeError) as exc:
            raise AirflowFailException(f"link refused: {exc}") from None

    @task(pool=PROCORE_POOL, multiple_outputs=False, trigger_rule="none_failed")
    def run_preflight(params=None, run_id=None, ti=None) -> dict:
        from airflow.exceptions import AirflowFailException

        from include.budget_import import preflight

        report = preflight.run_preflight(company_codes=(params or {}).get("company_codes") or None)
        report.link = ti.xcom_pull(task_ids="link_project") if ti is not None else None
        path = preflight.write_report(report, run_id=run_id)
        summary = {"status": report.status, "report": str(path), "failed": [c.name for c in report.failed()],
                   "unlinked": [f"{u['company_code']}/{u['job_number']}" for u in report.unlinked]}
        if report.failed():
            raise AirflowFailException("preflight failed: " + "; ".join(f"{c.name}: {c.message}" for c in report.failed()) + f" (report {path})")
        return summary

    link_project() >> run_preflight()


spectrum_budget_preflight()
