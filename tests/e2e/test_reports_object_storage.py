"""Reports on object storage: BUDGET_IMPORT_REPORTS_DIR=s3://bucket/reports, through Airflow's
ObjectStoragePath and the amazon provider's s3 filesystem, against moto's S3 server (from PyPI, run as a
subprocess on 127.0.0.1). A real `airflow dags test` import writes every report to the bucket; the bucket
is then listed with boto3 (not our code), and the UI plugin's reader and its FastAPI app show the run and
the job from S3. Retention prunes run folders on S3 too. No shared folder: the state DB is an SQLite file
in tmp_path (reports on S3 cannot hold it)."""
from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_airflow import ROOT, dags_test
from tests.s3_server import S3Server, moto_s3_server

PLUGINS = ROOT / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))  # as Airflow does: plugins/ is on sys.path

CONN_ID = "budget_reports_s3"
MANUAL_CONF = {"company_code": "01", "job_number": "19.50", "merge_mode": "override", "dry_run": False, "review": "never"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server from PyPI, a subprocess on a free 127.0.0.1 port, ready when its port answers."""
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture()
def s3_reports(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh bucket, and the settings that put the reports in it (in this process too, for the readers)."""
    bucket = s3_server.new_bucket()
    settings = {
        "BUDGET_IMPORT_REPORTS_DIR": f"s3://{bucket}/reports",
        "BUDGET_IMPORT_REPORTS_CONN_ID": CONN_ID,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": s3_server.connection(),
        "BUDGET_IMPORT_STATE_DB": f"sqlite:///{tmp_path / 'budget_state.db'}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return {**settings, "bucket": bucket}


def test_settings_name_an_object_store_and_the_state_db_must_be_elsewhere(s3_reports, monkeypatch):
    from airflow.sdk import ObjectStoragePath

    from include.budget_import import settings

    root = settings.reports_root()
    assert isinstance(root, ObjectStoragePath)
    assert (root.protocol, root.conn_id, root.path) == ("s3", CONN_ID, f"{s3_reports['bucket']}/reports")
    assert str(root) == f"s3://{CONN_ID}@{s3_reports['bucket']}/reports"  # ObjectStoragePath's own form: the connection id, never a secret
    monkeypatch.delenv("BUDGET_IMPORT_STATE_DB")
    with pytest.raises(ValueError, match="set BUDGET_IMPORT_STATE_DB"):
        settings.state_db_url()


@pytest.mark.e2e
def test_an_import_writes_its_reports_to_s3_and_the_plugin_shows_them(demo_sample, emulator, airflow_home, s3_server, s3_reports):
    emulator.reset()
    bucket = s3_reports["bucket"]
    env = {**airflow_home, **{k: v for k, v in s3_reports.items() if k != "bucket"}}
    local = Path(airflow_home["BUDGET_IMPORT_REPORTS_DIR"])
    local_runs_before = set((local / "runs").glob("*")) if (local / "runs").is_dir() else set()

    result = dags_test(env, "spectrum_budget_import", MANUAL_CONF)
    output = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, output

    # the bucket, listed with boto3: one run, the job's every report, the run summary, the Procore cache
    keys = s3_server.keys(bucket, "reports/")
    runs = sorted({k.split("/")[2] for k in keys if k.startswith("reports/runs/")})
    assert len(runs) == 1, keys
    run = runs[0]
    job = f"reports/runs/{run}/01_19.50/"
    expected = {"result.json", "validation.json", "line_item_validation.json", "rejects.csv", "plan.json", "reconciliation.json",
                "snapshot.json", "snapshot.pdf"}
    assert expected <= {k.removeprefix(job) for k in keys if k.startswith(job)}, keys
    assert f"reports/runs/{run}/summary.json" in keys
    assert any(k.startswith(f"reports/runs/{run}/.procore_cache/company_") for k in keys), keys
    assert not [k for k in keys if k.endswith(".tmp")], keys  # a PUT is atomic: no temporary objects
    report = json.loads(s3_server.body(bucket, job + "result.json"))
    assert (report["status"], report["company_code"], report["job_number"]) == ("synced", "01", "19.50")
    assert s3_server.body(bucket, job + "snapshot.pdf").startswith(b"%PDF-")
    summary = json.loads(s3_server.body(bucket, f"reports/runs/{run}/summary.json"))
    assert [(r["company_code"], r["job_number"], r["status"]) for r in summary["results"]] == [("01", "19.50", "synced")]
    # and nothing went to the local reports folder
    assert (set((local / "runs").glob("*")) if (local / "runs").is_dir() else set()) == local_runs_before

    # the plugin's reader, from S3
    from spectrum_budget_reports import reports as rp

    store = rp.ReportStore(rp.reports_root())
    listed = store.runs()
    assert [r.folder for r in listed] == [run]
    assert listed[0].jobs == 1 and listed[0].complete and listed[0].modified  # its time: summary.json's on S3
    assert store.job_keys(run) == ["01_19.50"]
    shown = store.job(run, "01_19.50")
    assert shown is not None and shown.row.status == "synced"
    assert shown.plan is not None and shown.validation is not None and shown.reconciliation is not None and shown.snapshot is not None
    assert {d.name for d in shown.downloads} >= {"rejects.csv", "plan.json", "snapshot.pdf"}
    assert store.find_job_run("01_19.50") == run

    # the FastAPI app (as tests/ui drives it), from S3
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*is deprecated.*")
        from fastapi.testclient import TestClient
    from spectrum_budget_reports.app import create_app

    app = create_app(task_label=lambda dag_id, run_id, task_id, map_index: None)  # the root from the settings, per request
    app.dependency_overrides[app.state.auth_dependency] = lambda: None
    with TestClient(app) as client:
        page = client.get("/runs")
        assert page.status_code == 200 and run in page.text
        page = client.get(f"/runs/{run}")
        assert page.status_code == 200 and "01_19.50" in page.text
        page = client.get(f"/runs/{run}/jobs/01_19.50")
        assert page.status_code == 200 and "19.50" in page.text
        for name in ("plan.json", "snapshot.pdf", "rejects.csv"):
            download = client.get(f"/runs/{run}/jobs/01_19.50/files/{name}")
            assert download.status_code == 200, name
            assert download.content == s3_server.body(bucket, job + name), name
            assert f"{run}_01_19.50_{name}" in download.headers["content-disposition"]
        assert client.get(f"/runs/{run}/jobs/01_19.50/files/result.json.tmp").status_code == 404
        assert client.get(f"/runs/{run}/jobs/01_19.50/files/..%2Fsummary.json").status_code == 404


def test_retention_prunes_run_folders_on_s3(s3_server, s3_reports):
    from include.budget_import import settings
    from include.budget_import.artifacts import RunFolder
    from include.budget_import.retention import prune_runs

    bucket = s3_reports["bucket"]
    root = settings.reports_root()
    for name in ("run_1", "run_2", "run_3"):  # written in this order: run_3 is the newest
        run = RunFolder(name, root=root)
        run.write_summary({"results": []})
        run.job("01", "19.50").write_json("result.json", {"status": "synced", "run_id": name})
    assert {k.split("/")[2] for k in s3_server.keys(bucket, "reports/runs/")} == {"run_1", "run_2", "run_3"}

    # within both limits (none older than 90 days): nothing goes
    assert prune_runs(root, days=90, runs=1).removed == []

    # 100 days on, keep the newest 1: run_2 goes; run_1 is the current run's, run_3 the newest
    done = prune_runs(root, now=time.time() + 100 * 86400, days=90, runs=1, current_run="run_1")
    assert done.removed == ["run_2"]
    left = s3_server.keys(bucket, "reports/runs/")
    assert {k.split("/")[2] for k in left} == {"run_1", "run_3"}, left
    assert "reports/runs/run_3/01_19.50/result.json" in left

    # both limits off: nothing is touched
    assert prune_runs(root, days=0, runs=0).removed == []
