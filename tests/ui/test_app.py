"""The FastAPI app through Starlette's TestClient. The Airflow login dependency is overridden where
login is not the point; the tests on auth use the real dependency (no token: 401 or a redirect)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.ui.conftest import finished, write_json, write_status

RUN_MANUAL = "manual__2026-11-20T02_30_00_00_00"
RUN_NIGHTLY = "scheduled__2026-11-21T02_30_00_00_00"


class Rows(HTMLParser):
    """Table rows marked data-job="<key>" with their cells' text by data-field, as a person reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.states: dict[str, str] = {}
        self._job: str | None = None
        self._field: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-job"):
            self._job = a["data-job"]
            self.rows[self._job] = {}
            self.states[self._job] = a.get("data-state") or ""
        elif self._job and a.get("data-field") and self._field is None:
            self._field, self._depth = a["data-field"], 0
            self.rows[self._job][self._field] = ""
        elif self._field:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._field is not None:
            if self._depth == 0:
                self._field = None
            else:
                self._depth -= 1
        if tag == "tr":
            self._job = None

    def handle_data(self, data: str) -> None:
        if self._job and self._field:
            self.rows[self._job][self._field] = " ".join((self.rows[self._job][self._field] + " " + data).split())


def rows_of(html: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    parser = Rows()
    parser.feed(html)
    return parser.rows, parser.states


def test_budgets_page_shows_every_job_with_status_and_figures(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    rows, states = rows_of(response.text)
    assert states == {"01_19.50": "synced", "01_20.01": "ready", "01_21.10": "blocked", "02_4410": "failed_validation"}
    assert rows["01_19.50"]["status"] == "Synced"
    assert "Last import 2026-11-20 02:31 UTC" in rows["01_19.50"]["details"]
    assert rows["01_19.50"]["spectrum_total"] == "$2,630,361.54"
    assert rows["01_19.50"]["plan"] == "17 created · 2 updated · 2 deleted · 1 kept"
    assert rows["01_19.50"]["difference"] == "$0.00" and rows["01_19.50"]["procore_total"] == "$2,630,361.54"
    # Spectrum's budget is every extracted row's estimate, not what was imported (8 rows rejected)
    assert rows["01_20.01"]["status"] == "Ready to Import" and rows["01_20.01"]["rejected"] == "8"
    assert rows["01_20.01"]["spectrum_total"] == "$1,112,112.07" and rows["01_20.01"]["imported_total"] == "$1,013,777.50"
    assert rows["01_20.01"]["rejected_total"] == "$98,334.57" and rows["01_20.01"]["skipped_total"] == "$0.00"
    assert rows["01_20.01"]["procore_total"] == "$0.00" and rows["01_20.01"]["difference"] == "-$1,112,112.07"
    assert rows["01_20.01"]["plan"] == "10 to create"
    assert rows["01_21.10"]["status"] == "Blocked" and rows["01_21.10"]["details"].startswith("Estimates not posted")
    assert rows["02_4410"]["status"] == "Failed validation"
    assert f'href="/runs/{RUN_NIGHTLY}/jobs/01_21.10"' in response.text


@pytest.mark.parametrize(("show", "jobs"), [("ready", ["01_20.01"]), ("synced", ["01_19.50"]), ("blocked", ["01_21.10"]), ("failed", ["02_4410"])])
def test_budgets_page_filters_like_procores_budgets_tab(client, show, jobs):
    response = client.get("/", params={"show": show})
    assert list(rows_of(response.text)[1]) == jobs
    assert re.search(rf'class="tab on" data-filter="{show}"', response.text)


def test_run_page(client):
    response = client.get(f"/runs/{RUN_NIGHTLY}")
    assert response.status_code == 200
    rows, states = rows_of(response.text)
    assert states == {"01_20.01": "dry_run", "01_21.10": "blocked", "02_4410": "failed_validation"}
    assert rows["01_20.01"]["extracted"] == "14" and rows["01_20.01"]["spectrum_total"] == "$1,112,112.07"
    assert rows["01_20.01"]["difference"] == "-$1,112,112.07"
    assert client.get("/runs").status_code == 200
    assert client.get("/runs/nope").status_code == 404


def test_job_page_shows_quality_plan_reconciliation_snapshot_and_downloads(client):
    response = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50")
    assert response.status_code == 200
    html = response.text
    assert "1 of 2 expectations failed" in html and "expect_column_values_to_not_be_null" in html
    assert re.search(r'data-rule="missing_key".*?Fail.*?1 <span class="muted">of 7', html, re.S)
    assert "(blank)" in html, "the failing row's blank phase code is shown"
    assert "$1,500.00" in html and "$1,850.00" in html and "+$350.00" in html  # update: before, after, change
    assert "-$25,000.00" in html  # delete
    assert "Procore equals Spectrum" in html
    assert "$26,500.00" in html  # snapshot total
    for name in ("rejects.csv", "snapshot.pdf", "snapshot.json"):
        assert f'href="/runs/{RUN_MANUAL}/jobs/01_19.50/files/{name}"' in html
    blocked = client.get(f"/runs/{RUN_NIGHTLY}/jobs/01_21.10").text
    assert "Estimates not posted" in blocked and "2 unposted estimate entries" in blocked


def test_a_megabyte_field_is_cut_for_display_and_hides_no_row(client, reports_root: Path):
    """rejects.csv from a run before fields were cut: one 1 MB description (past the csv module's default
    field limit) must not hide it and the rows after it; the page shows each, the long text clipped."""
    rejects = reports_root / "runs" / RUN_MANUAL / "01_19.50" / "rejects.csv"
    huge = "Crane hire " * 100_000
    rejects.write_text(
        "row_id,company_code,job_number,phase_code,cost_type,cost_type_name,description,original_estimate,jtd_cost,outcome,reason,message\n"
        f'4,01,19.50,77-100,L,Labor,"{huge}",750.0000,0,rejected,description_too_long,Description is too long.\n'
        "5,01,19.50,77-101,M,Material,Misc,-50.0000,0,rejected,negative_estimate,Negative estimate.\n"
        "6,01,19.50,77-102,L,Labor,Other,0,0,skipped,no_estimate_or_cost,No estimate or cost.\n", encoding="utf-8")
    html = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50").text
    section = html[html.index('id="rejects"'):]
    section = section[: section.index("</section>")]
    assert section.count("<tr class=") == 3 and "(3)" in section
    assert f"({len(huge):,} characters)" in section and len(section) < 20_000, "the long text is clipped, not the page"
    assert '<span class="mono">L</span> <span class="name">Labor</span>' in section, "the cost type's name beside its code"
    assert "-$50.00" in section, "amounts as money"


def test_downloads(client, reports_root: Path):
    pdf = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50/files/snapshot.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    csv = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50/files/rejects.csv")
    assert csv.status_code == 200 and csv.text.startswith("row_id,") and csv.headers["content-type"].startswith("text/csv")
    for bad in ["extracted.pkl", "..%2F..%2Fstatus%2F01_19.50.json", "%2E%2E", "result.json%00"]:
        assert client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50/files/{bad}").status_code == 404, bad
    assert client.get(f"/runs/{RUN_MANUAL}/jobs/..%2F..%2F/files/plan.json").status_code == 404
    assert client.get("/runs/..%2F..%2Fetc/jobs/passwd/files/plan.json").status_code == 404


def test_css_is_ours_and_served_by_a_checked_route(client):
    css = client.get("/assets/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "http" not in css.text and "@import" not in css.text and "url(" not in css.text
    assert client.get("/assets/app.py").status_code == 404
    assert client.get("/assets/..%2Fapp.py").status_code == 404
    assert client.get("/static/style.css").status_code == 404


def test_pages_load_nothing_from_elsewhere(client):
    """No outside URL in any page, and a Content-Security-Policy that allows only this server."""
    for url in ["/", "/runs", f"/runs/{RUN_NIGHTLY}", f"/runs/{RUN_MANUAL}/jobs/01_19.50"]:
        response = client.get(url)
        assert not re.search(r'(src|href)="(https?:)?//', response.text), url
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "style-src 'self'" in csp and "http" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"


def test_everything_from_data_is_escaped(client, reports_root: Path):
    evil = '<script>alert("job")</script>'
    write_status(reports_root, {
        "company_code": "01", "job_number": "66<b>", "status": "blocked", "reason": "<img src=x onerror=alert(1)>",
        "message": evil, "finished_at": "2026-11-21T02:31:09+00:00", "job_description": evil,
    })
    write_status(reports_root, {
        "company_code": "01", "job_number": "67", "status": "synced", "finished_at": "2026-11-21T02:31:09+00:00",
        "job_description": evil, "procore_project_name": "\" onmouseover=\"alert(2)", "run_id": "manual__2026-11-20T02:30:00+00:00",
    })
    html = client.get("/").text
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;job&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '" onmouseover="' not in html and "&#34; onmouseover=&#34;alert(2)" in html
    search = client.get("/", params={"q": '"><script>alert(3)</script>'}).text
    assert "<script>alert(3)" not in search and "&lt;script&gt;alert(3)" in search


def test_dag_run_and_task_instance_links(client):
    raw = "scheduled__2026-11-21T02:30:00+00:00"
    response = client.get("/dag-run", params={"dag_id": "spectrum_budget_nightly", "run_id": raw}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/runs/{RUN_NIGHTLY}"
    assert client.get("/dag-run", params={"dag_id": "other", "run_id": "manual__1"}).status_code == 404
    ti = {"dag_id": "spectrum_budget_nightly", "run_id": raw, "task_id": "load_job"}
    mapped = client.get("/task-instance", params={**ti, "map_index": "3"}, follow_redirects=False)  # rendered as 01/21.10
    assert mapped.headers["location"] == f"/runs/{RUN_NIGHTLY}/jobs/01_21.10"
    unmapped = client.get("/task-instance", params={**ti, "task_id": "summarise", "map_index": "{MAP_INDEX}"}, follow_redirects=False)
    assert unmapped.headers["location"] == f"/runs/{RUN_NIGHTLY}"
    manual = client.get("/task-instance", params={"dag_id": "spectrum_budget_import", "run_id": "manual__2026-11-20T02:30:00+00:00",
                                                  "task_id": "extract", "map_index": "-1"}, follow_redirects=False)
    assert manual.headers["location"] == f"/runs/{RUN_MANUAL}/jobs/01_19.50", "a manual run has one job: its report"
    latest = client.get("/jobs/01_19.50", follow_redirects=False)
    assert latest.headers["location"] == f"/runs/{RUN_MANUAL}/jobs/01_19.50"


def test_links_follow_the_mount_prefix(reports_root: Path):
    """Mounted under /spectrum-budgets (as the api-server does), every link carries the prefix."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from spectrum_budget_reports.app import create_app

    sub = create_app(reports_root)
    sub.dependency_overrides[sub.state.auth_dependency] = lambda: None
    main = FastAPI()
    main.mount("/spectrum-budgets", sub)
    with TestClient(main) as test_client:
        html = test_client.get("/spectrum-budgets/").text
        assert 'href="/spectrum-budgets/assets/style.css"' in html
        assert f'href="/spectrum-budgets/runs/{RUN_MANUAL}/jobs/01_19.50"' in html
        assert test_client.get("/spectrum-budgets/dag-run", params={"dag_id": "d", "run_id": RUN_MANUAL}, follow_redirects=False).headers["location"] \
            == f"/spectrum-budgets/runs/{RUN_MANUAL}"


# --- the real Airflow auth dependency -------------------------------------------------------------
@pytest.fixture()
def anonymous(reports_root: Path):
    from fastapi.testclient import TestClient

    from spectrum_budget_reports.app import create_app

    with TestClient(create_app(reports_root)) as test_client:
        yield test_client


@pytest.mark.parametrize("url", ["/", "/runs", f"/runs/{RUN_MANUAL}", f"/runs/{RUN_MANUAL}/jobs/01_19.50",
                                 f"/runs/{RUN_MANUAL}/jobs/01_19.50/files/rejects.csv", "/assets/style.css",
                                 "/dag-run?dag_id=spectrum_budget_nightly&run_id=x", "/jobs/01_19.50"])
def test_without_a_login_nothing_is_served(anonymous, url):
    response = anonymous.get(url, follow_redirects=False)
    assert response.status_code == 401 and response.json() == {"detail": "Not authenticated"}
    assert "19.50" not in response.text and "Riverside" not in response.text


def test_an_unknown_url_is_a_bare_404(anonymous):
    response = anonymous.get("/nope")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_a_browser_without_a_login_is_sent_to_airflows_login(anonymous):
    response = anonymous.get(f"/runs/{RUN_MANUAL}?x=1", headers={"accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=")
    assert "%2Fruns%2Fmanual__2026-11-20T02_30_00_00_00%3Fx%3D1" in response.headers["location"]
    assert "Riverside" not in response.text


def test_a_job_page_points_at_the_snapshot_of_a_run_that_failed_part_way(client, reports_root: Path):
    from tests.ui.conftest import finished

    result = finished("01", "19.50", "synced", "manual__2026-11-20T02:30:00+00:00")
    result["stages"]["load"]["interrupted_run_snapshot"] = "scheduled__2026-11-19T02_30_00_00_00"
    write_json(reports_root / "runs" / RUN_MANUAL / "01_19.50" / "result.json", result)
    html = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50").text
    assert 'data-field="interrupted"' in html and "failed part-way" in html
    assert 'href="/runs/scheduled__2026-11-19T02_30_00_00_00/jobs/01_19.50/files/snapshot.pdf"' in html


def test_a_job_page_lists_the_jobs_runs_newest_first(client, reports_root: Path):
    from include.budget_import import job_status_store

    older = finished("01", "19.50", "synced", "manual__2026-11-01T00:00:00+00:00", at="2026-11-01T00:01:00+00:00", total="10.00")
    job_status_store.record_result(older, root=reports_root)  # its run folder is gone
    newer = {**finished("01", "19.50", "dry_run", "scheduled__2026-11-21T02:30:00+00:00", at="2026-11-21T02:31:00+00:00", total="20.00")}
    job_status_store.record_result(newer, root=reports_root)
    write_json(reports_root / "runs" / RUN_NIGHTLY / "01_19.50" / "result.json", newer)
    html = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50").text
    section = html[html.index('<section id="history">'):]
    section = section[:section.index("</section>")]
    runs = re.findall(r'<tr data-run="([^"]+)"', section)
    assert runs == ["scheduled__2026-11-21T02:30:00+00:00", "manual__2026-11-20T02:30:00+00:00", "manual__2026-11-01T00:00:00+00:00"]
    assert f'href="/runs/{RUN_NIGHTLY}/jobs/01_19.50"' in section and "(this report)" in section and "(report removed)" in section
    assert "$20.00" in section and "$10.00" in section and "<script" not in section


def test_a_job_held_for_review_shows_as_needs_review_on_the_budgets_page(client, reports_root: Path):
    held = {"company_code": "01", "job_number": "77 01", "status": "needs_review", "finished_at": "2026-11-21T02:31:09+00:00",
            "reason": "needs_review", "message": "The override would delete all 5 budget lines ($81700.00): Spectrum gave no line for any of them",
            "mode": "override", "dry_run": False}
    write_status(reports_root, held)
    html = client.get("/", params={"show": "review"}).text
    assert '<tr data-job="01_77~2001" data-state="needs_review">' in html and '<span class="badge needs_review">Needs review</span>' in html
    assert "<strong>Held for review</strong>" in html and "01/77 01" in html


# --- issue 18: theme, charts, running runs, the DAG of each run ------------------------------------
def test_theme_script_is_served_and_allowed_by_the_csp_only_from_this_server(client):
    page = client.get("/")
    assert '<script src="/assets/theme.js"></script>' in page.text and '<meta name="color-scheme" content="light dark">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"] and "unsafe-inline" not in page.headers["content-security-policy"]
    js = client.get("/assets/theme.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert 'localStorage.getItem("theme")' in js.text and "http" not in js.text
    css = client.get("/assets/style.css").text
    assert "@media (prefers-color-scheme: dark)" in css and ':root[data-theme="dark"]' in css and ':root:not([data-theme="light"])' in css


def test_budgets_page_charts_jobs_per_status(client):
    import xml.etree.ElementTree as ET

    html = client.get("/").text
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == "Jobs per status"
    counts = {g.get("class"): g.find(f"{ns}rect").get("data-value") for g in root.iter(f"{ns}g")}
    assert counts == {"st-synced": "1", "st-ready": "1", "st-blocked": "1", "st-failed_validation": "1"}


def test_job_page_charts_budget_by_cost_type_and_history(client, reports_root: Path):
    import xml.etree.ElementTree as ET

    # a second run of the job, with data-quality figures, so the history charts have two points
    later = finished("01", "19.50", "synced", "scheduled__2026-11-22T02:30:00+00:00", at="2026-11-22T02:31:00+00:00", total="2630400.00",
                     rejected=2, rejected_total="38.46")
    later["stages"]["validate"].update(expectations_passed=11, expectations_failed=1)
    write_status(reports_root, later)
    html = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50").text
    ns = "{http://www.w3.org/2000/svg}"
    found = {}
    for part in html.split("<svg")[1:]:
        root = ET.fromstring("<svg" + part[:part.index("</svg>") + 6])
        found[root.find(f"{ns}title").text] = root
    cost = found["Budget by cost type: Spectrum and Procore after"]
    values = [r.get("data-value") for r in cost.iter(f"{ns}rect") if r.get("data-value")]
    assert values == ["218710.00", "218710.00"], "the reconciliation's lines summed by cost type, exactly"
    assert "Spectrum $218,710.00" in "".join(cost.itertext())
    totals = found["Budget totals over the runs"]
    assert "Spectrum $2,630,400.00" in "".join(totals.itertext()), "the latest run labelled"
    rejected = found["Rows rejected per run"]
    assert [r.get("data-value") for r in rejected.iter(f"{ns}rect") if r.get("data-value")] == ["0", "2"], "oldest first"
    quality = found["Data-quality pass rate per run"]
    assert "91.7%" in "".join(quality.itertext())


def test_a_run_airflow_is_still_running_shows_its_jobs_as_running_and_names_its_dag(client, reports_root: Path, airflow_runs: dict):
    from spectrum_budget_reports.reports import AirflowRun

    folder = "scheduled__2026-11-23T02_30_00_00_00"
    (reports_root / "runs" / folder / "01_19.50").mkdir(parents=True)  # prepared, not loaded yet: no result, no summary
    airflow_runs[folder] = AirflowRun("spectrum_budget_nightly", "scheduled__2026-11-23T02:30:00+00:00", "running")
    runs = client.get("/runs").text
    assert f'data-run="{folder}" data-dag="spectrum_budget_nightly" data-airflow-state="running"' in runs
    assert 'data-dag="spectrum_budget_import"' in runs and '<td class="dag mono small" data-field="dag">spectrum_budget_import</td>' in runs
    run = client.get(f"/runs/{folder}").text
    rows, states = rows_of(run)
    assert states == {"01_19.50": "running"} and rows["01_19.50"]["status"] == "Running"
    assert "running in Airflow" in run and "Import failed" not in run and "No result" not in run
    assert "scheduled__2026-11-23T02:30:00+00:00" in run, "the run's own id, from Airflow"
    job = client.get(f"/runs/{folder}/jobs/01_19.50").text
    assert 'data-field="running"' in job and "being imported" in job and "failed" not in job.split("<main>")[1].split("</main>")[0].lower()

    # the same run once Airflow has failed it: no result is no result
    airflow_runs[folder] = AirflowRun("spectrum_budget_nightly", "scheduled__2026-11-23T02:30:00+00:00", "failed")
    rows, states = rows_of(client.get(f"/runs/{folder}").text)
    assert states == {"01_19.50": "incomplete"} and rows["01_19.50"]["status"] == "No result"
    assert "the Airflow run failed" in client.get(f"/runs/{folder}/jobs/01_19.50").text


def test_job_page_of_reports_that_list_changes_and_counts(client, reports_root: Path):
    """plan.json and reconciliation.json as the pipeline writes them now: the page shows the counts of the
    lines not listed, and charts every line's totals by cost type from the reconciliation's totals."""
    import xml.etree.ElementTree as ET

    from tests.ui.test_reports import _pipeline_reports

    _pipeline_reports(reports_root / "runs" / RUN_MANUAL / "01_19.50")
    html = client.get(f"/runs/{RUN_MANUAL}/jobs/01_19.50").text
    plan = html[html.index('id="plan"'):html.index('id="reconciliation"')]
    keep = plan[plan.index('data-action="keep"'):]
    assert re.search(r'<span class="count">5</span> budget line items', keep), "the keep count is the plan's, not the lines listed"
    assert "5 already equal to Spectrum: counted, not listed" in keep
    rc = html[html.index('id="reconciliation"'):]
    rc = rc[:rc.index("</section>")]
    assert "Checked: 6 of 6 lines." in rc and "5 lines are equal: counted, not listed; every other line is below." in rc
    listed = rc[rc.index("<details"):]
    assert "1 line item that is not equal" in listed and listed.count("<tr class=") == 1 and 'data-outcome="differs"' in listed
    ns = "{http://www.w3.org/2000/svg}"
    charts = {}
    for part in html.split("<svg")[1:]:
        root = ET.fromstring("<svg" + part[:part.index("</svg>") + 6])
        charts[root.find(f"{ns}title").text] = root
    cost = charts["Budget by cost type: Spectrum and Procore after"]
    assert [r.get("data-value") for r in cost.iter(f"{ns}rect") if r.get("data-value")] == [
        "100.10", "100.10", "2100.10", "2100.10", "98766430612.57", "98766430612.56"], "every line's totals, exactly"
