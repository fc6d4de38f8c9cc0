"""Two Celery workers that share no folder, as on machines (or pods) with their own disks.

Every process (api-server, scheduler, dag-processor, worker1, worker2) has its own AIRFLOW_HOME and its
own copy of the Spectrum sample; nothing of the pipeline's is on a disk two processes share:
- reports on an S3-compatible server started by the test (moto's, on 127.0.0.1);
- the hand-off between tasks in XCom, through Airflow's object-storage XCom backend (common-io) on that
  bucket past 1 KB;
- job status, run history, the per-project lock and the Procore request budget in PostgreSQL.
The nightly and a manual run of one of its jobs are triggered together: their writes to that project
never overlap (the lock holds, from both runs' reports), and every budget equals the sample's oracle.
"""
from __future__ import annotations

import json
import shutil

import pytest

from scripts.local_airflow import airflow_env, procore_target_from_fixture, without_retries
from tests.executors.cluster import PG_HOST, PG_PORT, PG_USER, airflow_cluster, postgres_database
from tests.s3_server import SECRET as S3_SECRET
from tests.s3_server import moto_s3_server

pytestmark = [pytest.mark.e2e, pytest.mark.services]

NIGHTLY, MANUAL = "spectrum_budget_nightly", "spectrum_budget_import"
SHARED_JOB = ("01", "19.50")
CONN_ID = "budget_storage"
RUN_TIMEOUT = 900  # an upper bound (the runs take about a minute here), not a race


def _oracle_ready_jobs(demo_sample) -> list[dict]:
    return [j for j in demo_sample.manifest()["jobs"] if j["expected_status"] == "ready"]


def test_nightly_and_a_manual_run_on_two_workers_that_share_no_folder(postgres, redis_broker, demo_sample, fresh_emulator, tmp_path):
    homes = tmp_path / "homes"

    def own_spectrum(name: str, env: dict[str, str]) -> dict[str, str]:
        """Each process reads its own copy of the Spectrum sample (a machine reaching Spectrum's server)."""
        copy = homes / name / "spectrum.db"
        copy.parent.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            shutil.copy(demo_sample.db_path, copy)
        own = {**env, "AIRFLOW_CONN_SPECTRUM_DB": json.dumps({"conn_type": "odbc", "schema": str(copy), "extra": {"driver": "SQLite3"}})}
        if name.startswith("worker"):
            own["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "DEBUG"  # where Airflow 3.3.2's supervisor logs secrets (log_safety)
        return own

    logs = tmp_path / "moto"
    logs.mkdir()
    with moto_s3_server(logs) as s3, postgres_database("budget_state_test") as state_db:
        bucket = s3.new_bucket()
        target = procore_target_from_fixture(fresh_emulator.url, demo_sample.fixture_path)
        env = without_retries(airflow_env(tmp_path / "unused_home", demo_sample.db_path, target))  # a failure shows at once
        env.update({
            "BUDGET_IMPORT_REPORTS_DIR": f"s3://{bucket}/reports",
            "BUDGET_IMPORT_REPORTS_CONN_ID": CONN_ID,
            f"AIRFLOW_CONN_{CONN_ID.upper()}": s3.connection(),
            "BUDGET_IMPORT_STATE_DB": f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{state_db}",
            "AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
            "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"s3://{CONN_ID}@{bucket}/xcom",
            "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "1024",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        manual_conf = {"company_code": SHARED_JOB[0], "job_number": SHARED_JOB[1], "merge_mode": "override", "dry_run": False, "review": "never"}
        with airflow_cluster("CeleryExecutor", env, tmp_path, workers=2, worker_concurrency=2, own_homes=True, process_env=own_spectrum) as cluster:
            (nightly, nightly_tis), (manual, manual_tis) = cluster.run_dags(
                [(NIGHTLY, {"merge_mode": "override", "dry_run": False}), (MANUAL, manual_conf)], timeout=RUN_TIMEOUT)
            for run, tis in ((nightly, nightly_tis), (manual, manual_tis)):
                bad = [f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in tis if t["state"] not in ("success", "skipped")]
                assert run["state"] == "success" and not bad, f"{run['dag_id']} {run['state']}: {bad}\n{cluster.diagnostics()}"
            hosts = {t["hostname"].split("@", 1)[0] for t in nightly_tis + manual_tis if t.get("hostname")}
            assert hosts == set(cluster.worker_names), f"task instances ran on {sorted(hosts)}"

            # every budget is the oracle's
            for spec in _oracle_ready_jobs(demo_sample):
                assert fresh_emulator.budget(spec["procore_project_id"]) == spec["expected_budget"], (spec["company_code"], spec["job_number"])

            # the reports are in the bucket (listed with boto3), and the two runs' writes to the shared job never overlapped
            keys = s3.keys(bucket, "reports/")
            job_results = [k for k in keys if k.endswith("/result.json") and f"/{SHARED_JOB[0]}" in k and "19" in k.rsplit("/", 2)[-2]]
            holds = []
            for run in (nightly, manual):
                mine = [k for k in job_results if run["dag_run_id"] in k]
                assert len(mine) == 1, (run["dag_run_id"], job_results)
                result = json.loads(s3.body(bucket, mine[0]))
                assert result["status"] in ("synced", "superseded") or result.get("reason") == "superseded", result
                lock = ((result.get("stages") or {}).get("load") or {}).get("lock")
                if lock:  # a superseded run wrote nothing
                    holds.append((lock["acquired_at"], lock["released_at"], run["dag_id"]))
            assert holds, "at least one of the runs wrote the shared job"
            holds.sort()
            for (_, first_released, first), (second_acquired, _, second) in zip(holds, holds[1:], strict=False):
                assert first_released <= second_acquired, f"{first} and {second} wrote {SHARED_JOB} at the same time: {holds}"
            print(f"[no shared disk] writes to {SHARED_JOB}: {[(d, round(b - a, 2)) for a, b, d in holds]} (held s); reports in S3: {len(keys)} objects")
            assert any(k.endswith("/summary.json") and nightly["dag_run_id"] in k for k in keys), keys[:20]

            # the load inputs went through the object-storage XCom backend (they are over 1 KB)
            assert s3.keys(bucket, "xcom/"), "no XCom reached the bucket: the object-storage XCom backend was not used"

            # the Budgets page, served by the api-server from the state DB and the bucket
            page = cluster.api.session.get(f"{cluster.api.base_url}/spectrum-budgets/", timeout=30)
            assert page.status_code == 200 and SHARED_JOB[1] in page.text, page.text[:2000]

        # no secret in any process's output or task log, the workers' at DEBUG included
        secrets = {"Procore client secret": target.client_secret, "S3 secret key": S3_SECRET}
        outputs = [*(tmp_path / "process_logs").glob("*.log"), *(p for p in homes.rglob("*.log") if p.is_file())]
        assert len(outputs) >= 7, outputs
        leaks = [(label, path.name) for path in outputs for label, secret in secrets.items() if secret in path.read_text(errors="replace")]
        assert leaks == [], leaks

        # nothing of the pipeline's landed on any process's disk: no reports, state DB, lock files or hand-offs
        strays = [p for p in homes.rglob("*") if p.is_file() and (p.suffix in (".db", ".lock", ".pkl", ".json", ".csv", ".pdf") and p.name != "spectrum.db"
                                                                   and "simple_auth_manager" not in p.name)]
        assert strays == [], strays[:10]
