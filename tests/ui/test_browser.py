"""Headless Chromium (Debian's `chromium`) against the real api-server: log in through Airflow's login
page, read the Budgets page, a run's report and a job's report as a person sees them, open them inside
Airflow's own UI, save screenshots under var/test-artifacts/ui/, and count every request: none may go
to a host other than 127.0.0.1."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest

from include.budget_import.job_keys import run_part
from scripts.local_airflow import dags_test
from tests.ui.browser import Browser, RefusingProxy, chromium, chromium_binary, outside_requests
from tests.ui.conftest import ARTIFACTS, ApiServer
from tests.ui.test_api_server import dollars, nightly_run_id, signed_dollars, statuses

pytestmark = pytest.mark.e2e

PREFIX = "/spectrum-budgets"
ROWS_JS = """JSON.stringify([...document.querySelectorAll('tr[data-job]')].map(tr => ({
  key: tr.dataset.job, state: tr.dataset.state,
  cells: Object.fromEntries([...tr.querySelectorAll('[data-field]')].map(td => [td.dataset.field, td.innerText.trim()]))})))"""


@pytest.fixture(scope="module")
def browser(api_server: ApiServer, tmp_path_factory) -> Iterator[tuple[Browser, RefusingProxy]]:
    binary = chromium_binary()
    if binary is None:
        message = "Debian's chromium is not installed (apt-packages.txt lists it; run `make setup`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the browser tests must run)")
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium(binary, tmp_path_factory.mktemp("chromium-profile"), ARTIFACTS / "chromium.log") as pair:
        yield pair


def rows(b: Browser) -> dict[str, dict]:
    return {r["key"]: r for r in json.loads(b.evaluate(ROWS_JS))}


def shot(b: Browser, name: str) -> Path:
    return b.screenshot(ARTIFACTS / f"{name}.png")


def test_log_in_and_read_the_reports(api_server: ApiServer, browser):
    b, proxy = browser
    base = api_server.url

    # Not logged in: the Budgets page sends the browser to Airflow's login, which comes back after.
    b.navigate(f"{base}{PREFIX}/")
    b.wait_for("location.pathname === '/auth/login' && !!document.querySelector('input[name=password]')", what="Airflow's login page")
    assert "01/19.50" not in b.evaluate("document.body.innerText")
    shot(b, "0-login")
    b.type_into("input[name=username]", "admin")
    b.type_into("input[name=password]", api_server.password("admin"))
    b.evaluate("document.querySelector('button[type=submit]').click()")
    b.wait_for(f"location.pathname === '{PREFIX}/' && document.readyState === 'complete' && document.querySelectorAll('tr[data-job]').length > 0",
               what="the Budgets page after login")

    # The Budgets page: every job's state and figures, as in the status files.
    shown = rows(b)
    files = statuses(api_server)
    assert set(shown) == set(files)
    for key, status in files.items():
        cells = shown[key]["cells"]
        label = {"synced": "Synced", "ready": "Ready to Import", "blocked": "Blocked"}[status["status"]]
        if status["status"] == "synced" and (status.get("stages") or {}).get("reshape", {}).get("rejected"):
            label = "Synced with exceptions"  # Spectrum rows were quarantined: never plain Synced
        assert cells["status"] == label, key
        if status.get("stages"):
            assert cells["spectrum_total"] == dollars(status["totals"]["spectrum"]), key
            assert cells["difference"] == signed_dollars(status["totals"]["difference"]), key
            assert cells["rejected"] == str(status["stages"]["reshape"]["rejected"]), key
        else:
            assert status["message"] in cells["details"], key
    synced = files["01_19.50"]
    assert "Last import " in shown["01_19.50"]["cells"]["details"]
    assert shown["01_19.50"]["cells"]["procore_total"] == dollars(synced["totals"]["procore"])
    assert b.evaluate("getComputedStyle(document.querySelector('.badge.synced')).backgroundColor") == "rgb(220, 252, 231)", "our CSS applied"
    shot(b, "1-budgets")

    # The 'Ready to Import' tab, as Procore's Budgets tab.
    b.evaluate("document.querySelector('a[data-filter=ready]').click()")
    b.wait_for("location.search.includes('show=ready') && document.readyState === 'complete'", what="the Ready to Import filter")
    ready = rows(b)
    assert ready and set(ready) == {k for k, s in files.items() if s["status"] == "ready"}
    assert all(r["cells"]["status"] == "Ready to Import" for r in ready.values())
    shot(b, "2-budgets-ready-to-import")

    # The nightly run's report: one row per job of the run.
    run_id = nightly_run_id(api_server)
    b.navigate(f"{base}{PREFIX}/dag-run?dag_id=spectrum_budget_nightly&run_id={quote(run_id, safe='')}")
    b.wait_for("location.pathname.includes('/runs/') && document.readyState === 'complete'", what="the run page")
    run_rows = rows(b)
    summary = json.loads(next(p for p in api_server.reports.glob("runs/*/summary.json") if json.loads(p.read_text())["jobs"] > 1).read_text())
    assert len(run_rows) == summary["jobs"]
    for result in summary["results"]:
        row = run_rows[f"{result['company_code']}_{result['job_number']}"]
        if result.get("stages"):
            assert row["cells"]["extracted"] == str(result["stages"]["extract"]["extracted"])
            assert row["cells"]["spectrum_total"] == dollars(result["totals"]["spectrum"])
    shot(b, "3-run-nightly-dry-run")

    # A job's report: data quality with failing rows, the rejects, the plan.
    b.evaluate("[...document.querySelectorAll('tr[data-job=\"01_20.01\"] a')][0].click()")
    b.wait_for("location.pathname.endsWith('/jobs/01_20.01') && document.readyState === 'complete'", what="job 01/20.01")
    text = b.evaluate("document.body.innerText")
    assert "expectations failed" in text and "Duplicate phase / cost type" in text and "Skipped and rejected rows" in text
    assert b.evaluate("document.querySelectorAll('#rejects tbody tr').length") == files["01_20.01"]["stages"]["reshape"]["rejected"]
    shot(b, "4-job-data-quality-and-rejects")

    # The manual override's report: plan with amounts before/after, reconciliation, snapshot downloads.
    manual = next(p.parent.name for p in api_server.reports.glob("runs/*/summary.json") if json.loads(p.read_text())["jobs"] == 1)
    b.navigate(f"{base}{PREFIX}/runs/{manual}/jobs/01_19.50")
    plan = json.loads((api_server.reports / "runs" / manual / "01_19.50" / "plan.json").read_text())
    update = plan["update"][0]
    assert b.evaluate("document.querySelectorAll('details[data-action=update] tbody tr').length") == len(plan["update"])
    first_update = b.evaluate("document.querySelector('details[data-action=update] tbody tr').innerText")
    assert dollars(update["amount_before"]) in first_update and dollars(update["amount_after"]) in first_update
    change = Decimal(update["amount_after"]) - Decimal(update["amount_before"])
    assert ("+" if change > 0 else "") + dollars(str(change)) in first_update
    assert "Procore equals Spectrum" in b.evaluate("document.querySelector('#reconciliation h2').innerText")
    files_offered = b.evaluate("[...document.querySelectorAll('a[data-file]')].map(a => a.dataset.file)")
    assert {"rejects.csv", "snapshot.json", "snapshot.pdf"} <= set(files_offered)
    shot(b, "5-job-override-plan-and-snapshot")
    assert b.evaluate("document.querySelector('a[data-file=\"snapshot.pdf\"]').hasAttribute('download')")

    # Inside Airflow's UI: the navigation entry, and the tab on the DAG run.
    b.navigate(f"{base}/plugin/spectrum-budgets")
    b.wait_for("(() => { const f = document.querySelector('iframe'); "
               "return f && f.contentDocument && f.contentDocument.querySelectorAll('tr[data-job]').length > 0; })()",
               timeout=60, what="the Budgets page in Airflow's UI")
    assert "Spectrum Budgets" in b.evaluate("document.body.innerText")
    shot(b, "6-airflow-nav-spectrum-budgets")
    b.navigate(f"{base}/dags/spectrum_budget_nightly/runs/{quote(run_id, safe='')}/plugin/spectrum-budgets-run")
    b.wait_for("(() => { const f = document.querySelector('iframe'); "
               "return f && f.contentDocument && f.contentDocument.querySelectorAll('tr[data-job]').length > 0; })()",
               timeout=60, what="the run's reports in the DAG run view")
    shot(b, "7-airflow-dag-run-tab")

    # Every request, the pages' and the browser's own: none to another host.
    urls = b.requested_urls()
    assert len(urls) > 20, "the requests were seen"
    assert outside_requests(urls) == [], "a page asked another host"
    assert proxy.requests == [], "the browser sent a request to another host"
    assert not [(u, s) for u, s in b.responses() if u.startswith(f"{base}{PREFIX}") and s >= 400], "a report page or asset failed"
    (ARTIFACTS / "requests.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")


def _run(api_server: ApiServer, dag_id: str, conf: dict, succeed: bool = True) -> None:
    result = dags_test(api_server.env, dag_id, conf)
    assert (result.returncode == 0) == succeed, f"{dag_id} {conf}: exit {result.returncode}\n{(result.stdout + result.stderr)[-3000:]}"


def _budgets_row(b: Browser, base: str, key: str) -> dict:
    b.navigate(f"{base}{PREFIX}/")
    b.wait_for(f"document.readyState === 'complete' && !!document.querySelector('tr[data-job=\"{key}\"]')", what=f"the Budgets row of {key}")
    return rows(b)[key]


def test_statuses_stay_true_through_rejects_a_restore_an_additive_difference_and_a_blocked_manual_run(api_server: ApiServer, browser):
    """The accountant's walk (issue 15), each step a real DAG run, each page read in the browser: a synced
    job with rejected rows, a restore, an additive import that keeps differing lines, a blocked manual run."""
    b, _ = browser
    base = api_server.url
    b.navigate(f"{base}{PREFIX}/")
    if b.evaluate("location.pathname") == "/auth/login":  # (this test may run alone)
        b.type_into("input[name=username]", "admin")
        b.type_into("input[name=password]", api_server.password("admin"))
        b.evaluate("document.querySelector('button[type=submit]').click()")
        b.wait_for(f"location.pathname === '{PREFIX}/' && document.readyState === 'complete'", what="the Budgets page after login")

    # 1. Rejected rows: 02/4440 imports its good rows and is "Synced with exceptions", its totals to the cent.
    _run(api_server, "spectrum_budget_import", {"company_code": "02", "job_number": "4440", "merge_mode": "override", "dry_run": False, "review": "never"})
    status = statuses(api_server)["02_4440"]
    t = status["totals"]
    assert status["status"] == "synced" and status["stages"]["reshape"]["rejected"] > 0 and Decimal(t["rejected"]) > 0
    row = _budgets_row(b, base, "02_4440")["cells"]
    assert row["status"] == "Synced with exceptions"
    assert (row["spectrum_total"], row["rejected_total"], row["procore_total"], row["difference"]) == (
        dollars(t["spectrum"]), dollars(t["rejected"]), dollars(t["procore"]), signed_dollars(t["difference"]))
    assert Decimal(t["difference"]) == -Decimal(t["rejected"]) - Decimal(t["skipped"]) != 0
    shot(b, "8-budgets-synced-with-exceptions")

    # 2. A restore of 01/19.50 from the manual override's snapshot: the Budgets page shows it restored,
    #    with Procore's budget as restored (the snapshot's total), not the overridden one.
    manual = next(p.parent for p in api_server.reports.glob("runs/*/01_19.50/snapshot.json"))
    snapshot = json.loads((manual / "snapshot.json").read_text(encoding="utf-8"))
    snapshot_run = json.loads((manual / "result.json").read_text(encoding="utf-8"))["run_id"]
    _run(api_server, "spectrum_budget_restore", {"snapshot_run_id": snapshot_run, "company_code": "01", "job_number": "19.50"})
    row = _budgets_row(b, base, "01_19.50")
    assert row["state"] == "restored" and row["cells"]["status"] == "Restored"
    assert row["cells"]["procore_total"] == dollars(snapshot["total"]), "Procore's budget after the restore"
    assert row["cells"]["spectrum_total"] == "" and row["cells"]["difference"] == "", "a restore does not read Spectrum: no Spectrum figure is made up"
    shot(b, "9-budgets-restored")

    # 3. Additive on the restored budget: Procore's differing lines are kept by choice, shown with their amounts.
    _run(api_server, "spectrum_budget_import", {"company_code": "01", "job_number": "19.50", "merge_mode": "additive", "dry_run": False, "review": "never"})
    status = statuses(api_server)["01_19.50"]
    assert (status["status"], status["mode"]) == ("synced", "additive")
    row = _budgets_row(b, base, "01_19.50")["cells"]
    assert row["status"] == "Synced" and row["difference"] == signed_dollars(status["totals"]["difference"]) != "$0.00"
    assert "kept by choice" in row["details"]
    b.evaluate("document.querySelector('tr[data-job=\"01_19.50\"] a[data-field=job]').click()")
    b.wait_for("location.pathname.endsWith('/jobs/01_19.50') && document.readyState === 'complete'", what="job 01/19.50 (additive)")
    headline = b.evaluate("document.querySelector('#reconciliation [data-field=headline]').innerText")
    rc = json.loads((api_server.reports / "runs" / run_part(status["run_id"]) / "01_19.50" / "reconciliation.json").read_text(encoding="utf-8"))
    assert headline == rc["headline"] and "differ, kept by choice (-$" in headline and "Procore equals Spectrum" in headline
    assert b.evaluate("document.querySelectorAll('#reconciliation tr[data-outcome=kept_by_choice]').length") >= 2
    assert b.evaluate("document.querySelector('#totals [data-field=difference]').innerText") == signed_dollars(status["totals"]["difference"])
    shot(b, "10-job-additive-differences-kept-by-choice")

    # 4. A blocked job run by hand: the run fails, and the job is Blocked with its reason everywhere,
    #    never "Import failed" (the failure callback must not overwrite what the run wrote).
    _run(api_server, "spectrum_budget_import", {"company_code": "01", "job_number": "21.10", "merge_mode": "additive", "dry_run": False, "review": "never"},
         succeed=False)
    status = statuses(api_server)["01_21.10"]
    assert (status["status"], status["reason"], status["mode"], status["dry_run"]) == ("blocked", "estimates_not_posted", "additive", False)
    assert status["run_id"].startswith("manual__")
    row = _budgets_row(b, base, "01_21.10")
    assert row["state"] == "blocked" and row["cells"]["status"] == "Blocked" and row["cells"]["details"].startswith("Estimates not posted")
    b.evaluate("document.querySelector('tr[data-job=\"01_21.10\"] a[data-field=job]').click()")
    b.wait_for("location.pathname.endsWith('/jobs/01_21.10') && document.readyState === 'complete'", what="job 01/21.10 (blocked)")
    text = b.evaluate("document.body.innerText")
    assert "Blocked" in text and "Estimates not posted" in text and "Import failed" not in text
    shot(b, "11-job-blocked-manual-run")


# --- issue 18: Airflow's light and dark theme, no clipped tables at 1400 px, charts -----------------
THEMES = ARTIFACTS / "themes"
LUMINANCE_JS = """(el => { const c = (el.ownerDocument.defaultView.getComputedStyle(el).backgroundColor.match(/[\\d.]+/g) || []).map(Number);
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return c.length >= 3 ? 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]) : -1; })"""
# What is wrong with a document's layout at this width: the page scrolls sideways, or a table sticks out of
# it without a box of its own that scrolls. Also which tables do scroll in their box (for the record).
LAYOUT_JS = """(d => { const w = d.defaultView, se = d.scrollingElement, bad = [], scrolling = [];
  if (se.scrollWidth > se.clientWidth) bad.push(`page ${se.scrollWidth} > ${se.clientWidth}`);
  for (const t of d.querySelectorAll('table')) {
    if (t.parentElement.closest('table')) continue;  // a sample table inside a table: its outer table's box counts
    const box = t.closest('.scroll'), right = d.documentElement.clientWidth + 1, name = t.className || 'table';
    if (box) {
      const o = w.getComputedStyle(box).overflowX;
      if (o !== 'auto' && o !== 'scroll') bad.push(`${name}: its box does not scroll`);
      if (box.getBoundingClientRect().right > right) bad.push(`${name}: its box sticks out`);
      if (box.scrollWidth > box.clientWidth) scrolling.push({table: name, width: box.scrollWidth, box: box.clientWidth});
    } else if (t.getBoundingClientRect().right > right) bad.push(`${name}: clipped`);
  }
  return {bad, scrolling, width: se.clientWidth}; })"""


def _login(b: Browser, api_server: ApiServer) -> None:
    b.navigate(f"{api_server.url}{PREFIX}/")
    if b.evaluate("location.pathname") == "/auth/login":
        b.type_into("input[name=username]", "admin")
        b.type_into("input[name=password]", api_server.password("admin"))
        b.evaluate("document.querySelector('button[type=submit]').click()")
        b.wait_for(f"location.pathname === '{PREFIX}/' && document.readyState === 'complete'", what="the Budgets page after login")


def _look(b: Browser, doc: str = "document") -> dict:
    """The page's theme, background luminance and layout problems (doc: an expression for the document)."""
    return b.evaluate(f"""(() => {{ const d = {doc}; return {{theme: d.documentElement.getAttribute('data-theme'),
        luminance: {LUMINANCE_JS}(d.body), layout: {LAYOUT_JS}(d), charts: d.querySelectorAll('svg.chart').length}}; }})()""")


def _emulate(b: Browser, scheme: str) -> None:
    b.page("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})


def _assert_theme(look: dict, mode: str, where: str) -> None:
    if mode == "dark":
        assert 0 <= look["luminance"] < 0.05, f"{where}: a dark background in dark mode, got luminance {look['luminance']}"
    else:
        assert look["luminance"] > 0.9, f"{where}: a light background in light mode, got luminance {look['luminance']}"
    assert look["layout"]["bad"] == [], f"{where}: {look['layout']}"


FRAME = "document.querySelector('iframe').contentDocument"


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_pages_follow_airflows_theme_and_nothing_is_clipped_at_1400_px(api_server: ApiServer, browser, mode: str):
    """Airflow's choice (localStorage 'theme', as Airflow 3's UI stores it) wins over the system's (emulated as
    the opposite); the Budgets page, a job page and the DAG run tab are read at a 1400 px window: background
    luminance, no sideways page scroll, every table fits or scrolls in its own box; screenshots under themes/."""
    b, _ = browser
    base = api_server.url
    _login(b, api_server)
    _emulate(b, "light" if mode == "dark" else "dark")
    b.evaluate(f"localStorage.setItem('theme', '{mode}')")
    records = {}
    try:
        b.navigate(f"{base}{PREFIX}/")
        look = _look(b)
        assert look["theme"] == mode, "theme.js took Airflow's stored choice"
        assert look["charts"] == 1, "the jobs-per-status chart"
        _assert_theme(look, mode, "Budgets page")
        assert b.evaluate("document.querySelector('svg.chart').getBoundingClientRect().width") > 200
        records["budgets"] = look
        shot(b, f"themes/{mode}-budgets")

        b.navigate(f"{base}{PREFIX}/jobs/01_19.50")
        b.wait_for("location.pathname.endsWith('/jobs/01_19.50') && document.readyState === 'complete'", what="job 01/19.50")
        look = _look(b)
        assert look["theme"] == mode and look["charts"] >= 3, look
        _assert_theme(look, mode, "job page")
        titles = b.evaluate("[...document.querySelectorAll('svg.chart > title')].map(t => t.textContent)")
        assert any(t.startswith("Budget by cost type") for t in titles) and "Budget totals over the runs" in titles and "Rows rejected per run" in titles
        fill = [int(v) for v in b.evaluate("getComputedStyle(document.querySelector('svg.chart text.val')).fill").strip("rgb()").split(",")[:3]]
        assert (min(fill) > 180) if mode == "dark" else (max(fill) < 80), f"chart text readable on the {mode} background: {fill}"
        records["job"] = look
        shot(b, f"themes/{mode}-job")

        # Inside Airflow's UI: its own page is in this mode (class on <html>), and so is our frame.
        run_id = nightly_run_id(api_server)
        b.navigate(f"{base}/dags/spectrum_budget_nightly/runs/{quote(run_id, safe='')}/plugin/spectrum-budgets-run")
        b.wait_for("(() => { const f = document.querySelector('iframe'); return f && f.contentDocument && f.contentDocument.readyState === 'complete'"
                   " && f.contentDocument.querySelectorAll('tr[data-job]').length > 0; })()", timeout=60, what="the run's reports in the DAG run tab")
        assert b.evaluate(f"document.documentElement.classList.contains('{mode}')"), "Airflow's UI is in this mode"
        look = _look(b, FRAME)
        assert look["theme"] == mode, "the frame follows Airflow's page"
        _assert_theme(look, mode, "DAG run tab")
        assert look["layout"]["width"] < 1400, "the tab's frame is narrower than the window"
        assert not [t for t in look["layout"]["scrolling"] if t["table"] == "jobs"], f"the run's table fits the DAG run tab at 1400 px: {look['layout']}"
        assert b.evaluate(f"{FRAME}.querySelector('td[data-field=dag], code[data-field=dag]').textContent") == "spectrum_budget_nightly"
        records["dag_run_tab"] = look
        shot(b, f"themes/{mode}-airflow-dag-run-tab")
    finally:
        b.page("Emulation.setEmulatedMedia", {"features": []})
        THEMES.mkdir(parents=True, exist_ok=True)
        (THEMES / f"{mode}.json").write_text(json.dumps(records, indent=2), encoding="utf-8")


def test_without_a_stored_choice_or_without_scripts_the_system_theme_is_followed(api_server: ApiServer, browser):
    """Airflow's 'system' (or no choice at all) and a browser with scripts off: prefers-color-scheme decides."""
    b, _ = browser
    _login(b, api_server)
    b.evaluate("localStorage.setItem('theme', 'system')")
    try:
        for scheme in ("dark", "light"):
            _emulate(b, scheme)
            b.navigate(f"{api_server.url}{PREFIX}/runs")
            look = _look(b)
            assert look["theme"] is None, "no choice to follow: the CSS media query decides"
            _assert_theme(look, scheme, f"Runs page, system {scheme}")
        b.page("Emulation.setScriptExecutionDisabled", {"value": True})
        _emulate(b, "dark")
        b.evaluate("localStorage.setItem('theme', 'light')")  # a choice the page cannot read without scripts
        b.navigate(f"{api_server.url}{PREFIX}/")
        b.page("Emulation.setScriptExecutionDisabled", {"value": False})
        look = _look(b)
        assert look["theme"] is None, "theme.js did not run"
        _assert_theme(look, "dark", "Budgets page, scripts off, system dark")
        shot(b, "themes/scripts-off-system-dark-budgets")
    finally:
        b.page("Emulation.setScriptExecutionDisabled", {"value": False})
        b.page("Emulation.setEmulatedMedia", {"features": []})
        b.evaluate("localStorage.removeItem('theme')")
