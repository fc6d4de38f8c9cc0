"""The plugin on a REAL `airflow api-server` (simple auth manager) over a demo-like run's reports:
refused without a login, right figures with one, escaped data, working links from Airflow's views."""
from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import pytest
import requests

from tests.ui.conftest import ApiServer
from tests.ui.test_app import rows_of

pytestmark = pytest.mark.e2e

PREFIX = "/spectrum-budgets"
HTML = {"accept": "text/html,application/xhtml+xml"}


def dollars(text: str | None) -> str:
    """As the page shows an amount; none (e.g. Procore's total of a job blocked before it was compared) is empty."""
    if text is None:
        return ""
    number = Decimal(text)
    return ("-" if number < 0 else "") + f"${abs(number):,.2f}"


def signed_dollars(text: str | None) -> str:
    """As the page shows a difference; none (a job blocked before Procore was compared) is an empty cell."""
    return "" if text is None else ("+" if Decimal(text) > 0 else "") + dollars(text)


def statuses(server: ApiServer) -> dict[str, dict]:
    """Each job's latest status as the pipeline recorded it (the state database of the server's reports)."""
    from include.budget_import import job_status_store

    return {s.key: s.payload for s in sorted(job_status_store.latest_statuses(root=server.reports), key=lambda s: s.key)}


def nightly_run_id(server: ApiServer) -> str:
    for summary in sorted(server.reports.glob("runs/*/summary.json")):
        data = json.loads(summary.read_text(encoding="utf-8"))
        if data["jobs"] > 1:
            return next(r["run_id"] for r in data["results"] if r.get("run_id"))
    raise AssertionError("no nightly run in the reports")


def logged_in(server: ApiServer, user: str = "admin") -> requests.Session:
    session = requests.Session()
    session.cookies.set("_token", server.token(user), domain="127.0.0.1", path="/")
    return session


def test_without_a_login_the_pages_refuse_and_show_no_data(api_server: ApiServer):
    some_job = next(iter(statuses(api_server)))
    urls = [f"{PREFIX}/", f"{PREFIX}/runs", f"{PREFIX}/jobs/{some_job}", f"{PREFIX}/assets/style.css",
            f"{PREFIX}/dag-run?dag_id=spectrum_budget_nightly&run_id={quote(nightly_run_id(api_server))}"]
    for url in urls:
        anonymous = requests.get(api_server.url + url, timeout=30, allow_redirects=False)
        assert anonymous.status_code == 401, (url, anonymous.status_code, anonymous.text[:300])
        assert some_job.split("_")[1] not in anonymous.text and "Riverside" not in anonymous.text
        browser = requests.get(api_server.url + url, headers=HTML, timeout=30, allow_redirects=False)
        assert browser.status_code == 303 and browser.headers["location"].startswith("/auth/login?next="), (url, browser.status_code)
        forged = requests.get(api_server.url + url, cookies={"_token": "not-a-token"}, timeout=30, allow_redirects=False)
        assert forged.status_code in (401, 403) and "Riverside" not in forged.text, (url, forged.status_code)
    login = requests.get(api_server.url + "/auth/login", timeout=30)
    assert login.status_code == 200, "the redirect's target is Airflow's login page"


def test_logged_in_the_budgets_page_matches_the_status_files(api_server: ApiServer):
    response = logged_in(api_server).get(f"{api_server.url}{PREFIX}/", timeout=30)
    assert response.status_code == 200, response.text[:500]
    rows, states = rows_of(response.text)
    files = statuses(api_server)
    assert set(rows) == set(files), "one row per status file"
    expected_state = {"synced": "synced", "ready": "ready", "blocked": "blocked", "failed": "failed"}
    for key, status in files.items():
        state = "failed_validation" if status.get("reason") == "failed_validation" else expected_state[status["status"]]
        if state == "synced" and status["stages"]["reshape"]["rejected"]:
            state = "synced_exceptions"
        assert states[key] == state, key
        assert rows[key]["job"] == f"{status['company_code']}/{status['job_number']}"
        if status.get("stages"):
            shape, totals = status["stages"]["reshape"], status["totals"]
            # Spectrum's total is every extracted row: imported + skipped + rejected, to the cent
            assert Decimal(totals["spectrum"]) == Decimal(totals["line_items"]) + Decimal(totals["skipped"]) + Decimal(totals["rejected"]), key
            if totals["difference"] is None:  # prepared, then blocked before its first write (a locked budget): not compared
                assert status["status"] == "blocked" and totals["procore"] is None, key
            else:
                assert Decimal(totals["difference"]) == Decimal(totals["procore"]) - Decimal(totals["spectrum"]), key
            for field, name in (("spectrum_total", "spectrum"), ("imported_total", "line_items"), ("skipped_total", "skipped"),
                                ("rejected_total", "rejected"), ("procore_total", "procore")):
                assert rows[key][field] == dollars(totals[name]), (key, field)
            assert rows[key]["line_items"] == str(shape["line_items"]) and rows[key]["rejected"] == str(shape["rejected"]), key
        if status["status"] == "blocked":
            assert status["message"] in rows[key]["details"], key
            # the nightly ran as a dry run: its blocked jobs' reports say so
            assert (status["mode"], status["dry_run"]) == ("override", True), key
    assert set(states.values()) >= {"synced", "ready", "blocked"}, "the demo-like run gives each kind"
    assert states["01_19.50"] == "synced" and states["01_20.01"] == "ready" and states["01_21.10"] == "blocked"


def test_logged_in_the_rejects_and_the_snapshot_pdf_download(api_server: ApiServer):
    session = logged_in(api_server)
    manual = next(p.parent for p in api_server.reports.glob("runs/*/summary.json") if json.loads(p.read_text())["jobs"] == 1)
    base = f"{api_server.url}{PREFIX}/runs/{manual.name}/jobs/01_19.50/files"
    pdf = session.get(f"{base}/snapshot.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (manual / "01_19.50" / "snapshot.pdf").read_bytes()
    csv = session.get(f"{base}/rejects.csv", timeout=30)
    assert csv.status_code == 200 and csv.text == (manual / "01_19.50" / "rejects.csv").read_text(encoding="utf-8")
    assert requests.get(f"{base}/snapshot.pdf", timeout=30).status_code == 401, "not without a login"
    assert session.get(f"{base}/extracted.pkl", timeout=30).status_code == 404, "only the offered files"


def test_a_viewer_may_read_the_reports(api_server: ApiServer):
    response = logged_in(api_server, "viewer").get(f"{api_server.url}{PREFIX}/", timeout=30)
    assert response.status_code == 200 and "01/19.50" in response.text


def test_a_job_description_with_a_script_is_shown_as_text(api_server: ApiServer):
    from include.budget_import import job_status_store

    job_status_store.record_status({
        "company_code": "99", "job_number": "XSS", "status": "blocked", "finished_at": "2026-11-26T00:00:00+00:00",
        "reason": "budget_not_locked", "message": "<img src=x onerror=alert(2)>", "job_description": "<script>alert(1)</script>",
    }, root=api_server.reports)
    try:
        response = logged_in(api_server).get(f"{api_server.url}{PREFIX}/", timeout=30)
        assert response.status_code == 200
        assert "<script>alert(1)</script>" not in response.text and "<img src=x" not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text and "&lt;img src=x onerror=alert(2)&gt;" in response.text
        assert rows_of(response.text)[0]["99_XSS"]["description"] == "<script>alert(1)</script>", "a person reads it as text"
    finally:
        table = job_status_store.JOB_STATUS
        with job_status_store.store_engine(api_server.reports).begin() as conn:
            conn.execute(table.delete().where(table.c.job_key == "99_XSS"))


def test_the_plugin_is_registered_with_its_views(api_server: ApiServer):
    plugins = requests.get(f"{api_server.url}/api/v2/plugins", headers={"Authorization": f"Bearer {api_server.token()}"}, timeout=30)
    assert plugins.status_code == 200, plugins.text
    ours = next(p for p in plugins.json()["plugins"] if p["name"] == "spectrum_budget_reports")
    assert [a["url_prefix"] for a in ours["fastapi_apps"]] == [PREFIX]
    views = {v["destination"]: v for v in ours["external_views"]}
    assert views["nav"]["name"] == "Spectrum Budgets" and views["nav"]["href"] == f"{PREFIX}/"
    assert "{RUN_ID}" in views["dag_run"]["href"] and "{MAP_INDEX}" in views["task_instance"]["href"]


def test_links_from_the_dag_run_and_task_instance_views(api_server: ApiServer):
    session = logged_in(api_server)
    run_id = nightly_run_id(api_server)
    run = session.get(f"{api_server.url}{PREFIX}/dag-run", params={"dag_id": "spectrum_budget_nightly", "run_id": run_id}, timeout=30)
    assert run.status_code == 200 and run.url.startswith(f"{api_server.url}{PREFIX}/runs/")
    assert set(rows_of(run.text)[0]) == {p.name for p in (api_server.reports / "runs" / run.url.rsplit("/", 1)[1]).iterdir()
                                         if p.is_dir() and not p.name.startswith(".")}

    bearer = {"Authorization": f"Bearer {api_server.token()}"}
    tis = requests.get(f"{api_server.url}/api/v2/dags/spectrum_budget_nightly/dagRuns/{quote(run_id, safe='')}/taskInstances",
                       params={"task_id": "load_job", "limit": 100}, headers=bearer, timeout=30)
    assert tis.status_code == 200, tis.text
    mapped = next(t for t in tis.json()["task_instances"] if t["rendered_map_index"] == "01/20.01")
    job = session.get(f"{api_server.url}{PREFIX}/task-instance", timeout=30, params={
        "dag_id": "spectrum_budget_nightly", "run_id": run_id, "task_id": "load_job", "map_index": mapped["map_index"]})
    assert job.status_code == 200 and job.url.endswith("/jobs/01_20.01"), "the mapped task instance opens its job's report"
    assert "Job <span class=\"mono\">01/20.01</span>" in job.text
