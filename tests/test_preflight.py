"""The preflight (include/budget_import/preflight.py) against the sample Spectrum (real SQLite ODBC driver,
through the project's OdbcHook connection code) and the Procore emulator (through ProcoreHook): every
check passes on the sample, its unlinked jobs are listed with the projects to link, a SQL file pointing at a
missing column is named with its rule, and the link action sets origin_id (read back through the emulator's
own API) and refuses a project linked to another job. The UI page renders the report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from include.budget_import import preflight
from include.budget_import.sql_files import SQL_DIR, rule_of
from scripts.local_airflow import airflow_env, procore_target_from_fixture

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
LAKESIDE = 2008  # the sample's Procore project for 01/22.00, same name and number, no origin_id
RIVERSIDE = 2001  # linked to 01/19.50


@pytest.fixture()
def site(monkeypatch, tmp_path, demo_sample, emulator):
    """The connections as a deployment sets them (AIRFLOW_CONN_*), reports in a scratch folder; a fresh emulator."""
    emulator.reset()
    env = airflow_env(tmp_path / "home", demo_sample.db_path, procore_target_from_fixture(emulator.url, demo_sample.fixture_path), tmp_path / "reports")
    (tmp_path / "reports").mkdir()
    for key in ("AIRFLOW_CONN_SPECTRUM_DB", "AIRFLOW_CONN_PROCORE_API", "AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA",
                "BUDGET_IMPORT_REPORTS_DIR", "PROCORE_RATE_LIMITS"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("BUDGET_IMPORT_STATE_DB", raising=False)
    monkeypatch.delenv("BUDGET_IMPORT_SQL_DIR", raising=False)
    admin = json.loads(env["AIRFLOW_CONN_PROCORE_API"])
    admin.update(login="admin-client", password="admin-secret")  # Update project needs Admin (emulator: a guess)
    monkeypatch.setenv("AIRFLOW_CONN_PROCORE_ADMIN", json.dumps(admin))
    return env


def admin_hook():
    from include.budget_import.connections import procore_hook

    return procore_hook("procore_admin")


def projects_seen_by_procore(emulator, company_id: int = 1001) -> dict[int, str | None]:
    """origin_id of every project, read through the emulator's own REST API (not the pipeline's client)."""
    token = requests.post(f"{emulator.url}/oauth/token", data={"grant_type": "client_credentials", "client_id": "demo-client",
                                                              "client_secret": "demo-secret"}, timeout=30).json()["access_token"]
    rows = requests.get(f"{emulator.url}/rest/v1.0/companies/{company_id}/projects", params={"per_page": 1000}, timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Procore-Company-Id": str(company_id)}).json()
    return {row["id"]: row["origin_id"] for row in rows}


def test_every_sql_file_names_its_rule():
    for path in sorted(SQL_DIR.glob("*.sql")):
        assert rule_of(path), f"{path.name} has no `-- rule:` header"


def test_the_sample_passes_every_check_and_lists_its_unlinked_jobs(site, demo_sample, emulator):
    emulator.clear_log()
    report = preflight.run_preflight()
    by_name = {c.name: c for c in report.checks}
    assert report.failed() == [], [(c.name, c.message) for c in report.failed()]
    sql_checks = [c for c in report.checks if c.name.startswith("sql:")]
    assert sorted(c.name for c in sql_checks) == sorted(f"sql:{p.name}" for p in SQL_DIR.glob("*.sql"))
    assert all(c.status == preflight.OK for c in sql_checks)
    for name in ("spectrum_connection", "procore_token", "company_map", "budget_access:01", "budget_access:02"):
        assert by_name[name].status == preflight.OK, (name, by_name[name].message)
    assert "Standard" in by_name["budget_access:01"].message
    assert report.company_codes == ["01", "02"]

    # the oracle: every active Spectrum job with no project carrying its origin_id
    manifest = demo_sample.manifest()
    expected = sorted((j["company_code"], j["job_number"]) for j in manifest["jobs"]
                      if j["in_spectrum"] and j["status_code"] == "A" and j["procore_project_id"] is None)
    assert expected == [("01", "22.00")]
    assert sorted((u["company_code"], u["job_number"]) for u in report.unlinked) == expected
    (lakeside,) = report.unlinked
    assert lakeside["origin_id"] == "01|22.00"
    assert lakeside["suggestions"][0]["procore_project_id"] == LAKESIDE
    assert lakeside["suggestions"][0]["why"] == "project number matches the job number"
    assert json.loads(lakeside["how"]["dag_conf"]) == {"link": {"company_code": "01", "job_number": "22.00", "procore_project_id": LAKESIDE}}
    assert by_name["links:01"].status == preflight.WARNING and "22.00" in by_name["links:01"].message
    assert by_name["links:02"].status == preflight.WARNING and "4499" in by_name["links:02"].message  # a project naming a job Spectrum lacks
    assert report.status == preflight.WARNING
    assert emulator.writes() == [], "the preflight wrote to Procore"

    written = preflight.write_report(report, run_id="manual__2026-01-01T00:00:00+00:00")
    body = json.loads(Path(str(written)).read_text(encoding="utf-8"))
    assert body["status"] == "warning" and body["counts"]["failed"] == 0 and body["unlinked"][0]["job_number"] == "22.00"
    assert Path(str(written)) == Path(site["BUDGET_IMPORT_REPORTS_DIR"]) / "preflight" / "latest.json"


def test_a_sql_file_pointing_at_a_missing_column_is_named_with_its_rule(site, tmp_path, monkeypatch):
    folder = tmp_path / "site_sql"
    shutil.copytree(SQL_DIR, folder)
    locked = folder / "job_budget_locked.sql"
    locked.write_text(locked.read_text(encoding="utf-8").replace("j.Lock_Estimate_Entry", "j.Budget_Lock_Flag"), encoding="utf-8")
    monkeypatch.setenv("BUDGET_IMPORT_SQL_DIR", str(folder))  # the pipeline's own setting for the SQL folder

    report = preflight.run_preflight()
    (failed,) = report.failed()
    assert failed.name == "sql:job_budget_locked.sql"
    assert failed.details["file"] == str(locked)
    assert failed.details["rule"] == rule_of(locked) and "finalized and locked" in failed.details["rule"]
    assert "Budget_Lock_Flag" in failed.details["error"]  # the database's own words: no such column
    assert "finalized and locked" in failed.message and str(locked) in failed.todo
    assert report.status == preflight.FAILED
    others = [c for c in report.checks if c.name.startswith("sql:") and c is not failed]
    assert others and all(c.status == preflight.OK for c in others)


def test_a_wrong_secret_and_an_unmapped_company_are_reported(site, monkeypatch):
    conn = json.loads(site["AIRFLOW_CONN_PROCORE_API"])
    monkeypatch.setenv("AIRFLOW_CONN_PROCORE_API", json.dumps({**conn, "password": "wrong"}))
    report = preflight.run_preflight()
    assert report.check("procore_token").status == preflight.FAILED and "client secret" in report.check("procore_token").todo
    monkeypatch.setenv("AIRFLOW_CONN_PROCORE_API", json.dumps({**conn, "extra": {**conn["extra"], "companies": {"01": 1001, "02": 4242}}}))
    report = preflight.run_preflight()
    company_map = report.check("company_map")
    assert company_map.status == preflight.FAILED and "4242" in company_map.message


def test_link_sets_origin_id_and_refuses_an_already_linked_project(site, emulator):
    assert projects_seen_by_procore(emulator)[LAKESIDE] is None
    result = preflight.link_project("01", "22.00", LAKESIDE, procore=admin_hook)
    assert result["changed"] is True and result["origin_id"] == "01|22.00"
    assert projects_seen_by_procore(emulator)[LAKESIDE] == "01|22.00"  # read back through the emulator's API
    writes = emulator.writes()
    assert [(w["method"], w["path"]) for w in writes] == [("PATCH", f"/rest/v1.0/projects/{LAKESIDE}")]

    again = preflight.link_project("01", "22.00", LAKESIDE, procore=admin_hook)
    assert again["changed"] is False and len(emulator.writes()) == 1

    emulator.clear_log()
    with pytest.raises(preflight.LinkRefused, match="already linked to job 01/19.50"):
        preflight.link_project("01", "22.00", RIVERSIDE, procore=admin_hook)
    with pytest.raises(preflight.LinkRefused, match="no job 99.99"):
        preflight.link_project("01", "99.99", LAKESIDE, procore=admin_hook)
    assert emulator.writes() == []
    assert projects_seen_by_procore(emulator)[RIVERSIDE] == "01|19.50"

    report = preflight.run_preflight()  # linked now: 01's jobs all linked
    assert report.check("links:01").status == preflight.OK and [u["job_number"] for u in report.unlinked] == []


def test_link_with_standard_credentials_is_refused_by_procore(site, emulator):
    from include.budget_import.procore.errors import ProcorePermissionError

    with pytest.raises(ProcorePermissionError):
        preflight.link_project("01", "22.00", LAKESIDE)
    assert projects_seen_by_procore(emulator)[LAKESIDE] is None


def test_the_preflight_page_renders_the_report(site, tmp_path):
    import sys

    if str(PLUGINS) not in sys.path:
        sys.path.insert(0, str(PLUGINS))
    import warnings

    with warnings.catch_warnings():  # Starlette warns once, at import, that its TestClient will move (as tests/ui/conftest.py)
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*is deprecated.*")
        from fastapi.testclient import TestClient

    from spectrum_budget_reports.app import create_app

    root = Path(site["BUDGET_IMPORT_REPORTS_DIR"])
    app = create_app(root)
    app.dependency_overrides[app.state.auth_dependency] = lambda: None
    with TestClient(app) as client:
        empty = client.get("/preflight")
        assert empty.status_code == 200 and "No preflight report yet" in empty.text
        preflight.write_report(preflight.run_preflight(), run_id="manual__1")
        page = client.get("/preflight")
    assert page.status_code == 200
    html = page.text
    assert "Preflight" in html and 'href="/preflight"' in html.replace("href=\"/preflight\" class=\"on\"", 'href="/preflight"')
    assert "job_budget_locked.sql" in html and "finalized and locked" in html
    assert "01|22.00" in html and "Lakeside Library" in html and str(LAKESIDE) in html
    assert "&#34;link&#34;" in html or "&quot;link&quot;" in html  # the DAG conf to copy, escaped


def test_the_cli_checks_and_links(site, emulator, capsys, monkeypatch):
    from scripts import preflight as cli

    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "not linked: 01/22.00" in out and "python -m scripts.preflight link --company 01 --job 22.00 --project 2008" in out
    admin = site["AIRFLOW_CONN_PROCORE_API"].replace("demo-client", "admin-client").replace("demo-secret", "admin-secret")
    monkeypatch.setenv("AIRFLOW_CONN_PROCORE_API", admin)
    assert cli.main(["link", "--company", "01", "--job", "22.00", "--project", str(RIVERSIDE)]) == 1
    assert "already linked to job 01/19.50" in capsys.readouterr().err
    assert cli.main(["link", "--company", "01", "--job", "22.00", "--project", str(LAKESIDE)]) == 0
    assert projects_seen_by_procore(emulator)[LAKESIDE] == "01|22.00"
