"""The reading module (plugins/spectrum_budget_reports/reports.py): plain files in, typed rows out."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spectrum_budget_reports import reports as rp
from tests.ui.conftest import PLUGINS, blocked, finished, write_json, write_status


def test_names_and_reports_root_follow_the_pipeline(monkeypatch, tmp_path):
    from include.budget_import import artifacts, job_keys

    assert rp.job_key is job_keys.job_key is artifacts.job_key and rp.run_part is job_keys.run_part  # one rule, not a copy
    for text in ["  19.50 ", "../../etc", "a/b\\c", ".hidden", "", "Clínica", "77 01", "77_01"]:
        assert rp.is_folder_name(rp.job_key("01", text)), text
    monkeypatch.setenv("BUDGET_IMPORT_REPORTS_DIR", str(tmp_path / "r"))
    assert rp.reports_root() == artifacts.reports_root() == tmp_path / "r"
    monkeypatch.delenv("BUDGET_IMPORT_REPORTS_DIR")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert rp.reports_root() == artifacts.reports_root() == tmp_path / "budget_reports"


@pytest.mark.parametrize(("value", "text"), [
    ("2630361.54", "$2,630,361.54"), ("0", "$0.00"), ("0.00", "$0.00"), ("-4200.0000", "-$4,200.00"),
    ("98766430612.56", "$98,766,430,612.56"), ("0.1", "$0.10"), (None, ""), ("", ""), ("abc", ""), ("NaN", ""),
])
def test_money_is_exact_text(value, text):
    assert rp.money(value) == text


def test_money_change_and_times():
    assert rp.money_change("1500.00", "1850.00") == "+$350.00"
    assert rp.money_change(None, "216860.00") == "+$216,860.00"
    assert rp.money_change("25000.00", None) == "-$25,000.00"
    assert rp.money_change("1.00", "1.00") == "$0.00"
    assert rp.when("2026-11-26T05:25:12+00:00") == "2026-11-26 05:25 UTC"
    assert rp.when("2026-11-26T07:25:12+02:00") == "2026-11-26 05:25 UTC"
    assert rp.when("not a time") == "not a time"


def test_budget_jobs_show_each_jobs_latest_state_and_figures(reports_root: Path):
    rows = {r.key: r for r in rp.ReportStore(reports_root).budget_jobs()}
    assert list(rows) == ["01_19.50", "01_20.01", "01_21.10", "02_4410"]  # company, then job number

    synced = rows["01_19.50"]
    assert (synced.state, synced.state_label, synced.run_folder) == ("synced", "Synced", "manual__2026-11-20T02_30_00_00_00")
    assert synced.finished_at == "2026-11-20T02:31:00+00:00"
    assert synced.figures is not None and synced.figures.spectrum_total == "2630361.54" and synced.figures.difference == "0.00"
    assert synced.figures.plan == {"create": 17, "update": 2, "delete": 2, "keep": 1}

    ready = rows["01_20.01"]
    assert (ready.state, ready.state_label, ready.run_folder) == ("ready", "Ready to Import", "scheduled__2026-11-21T02_30_00_00_00")
    assert ready.figures is not None and (ready.figures.rejected, ready.figures.changes) == (8, 10)

    stopped = rows["01_21.10"]
    assert (stopped.state, stopped.reason, stopped.reason_label) == ("blocked", "estimates_not_posted", "Estimates not posted")
    assert stopped.run_folder == "scheduled__2026-11-21T02_30_00_00_00", "a blocked status names no run: found by its result"
    assert stopped.figures is None

    assert rows["02_4410"].state == "failed_validation"


def test_filters_match_procores_budgets_tab(reports_root: Path):
    rows = rp.ReportStore(reports_root).budget_jobs()
    assert rp.filter_counts(rows) == {"all": 4, "ready": 1, "synced": 1, "blocked": 1, "review": 0, "failed": 1}
    assert [r.key for r in rp.filter_rows(rows, "ready")] == ["01_20.01"]
    assert [r.key for r in rp.filter_rows(rows, "all", "harbor")] == ["01_20.01"]
    assert [r.key for r in rp.filter_rows(rows, "nonsense")] == [r.key for r in rows]


def test_run_report_lists_every_job_including_one_without_result(reports_root: Path):
    store = rp.ReportStore(reports_root)
    (reports_root / "runs" / "scheduled__2026-11-21T02_30_00_00_00" / "02_4499").mkdir()
    run = store.run("scheduled__2026-11-21T02:30:00+00:00")  # the Airflow run id finds its folder
    assert run is not None and run.folder == "scheduled__2026-11-21T02_30_00_00_00"
    assert run.run_id == "scheduled__2026-11-21T02:30:00+00:00"
    assert {j.key: j.state for j in run.jobs} == {"01_20.01": "dry_run", "01_21.10": "blocked", "02_4410": "failed_validation", "02_4499": "incomplete"}
    assert [r.folder for r in store.runs()] == ["scheduled__2026-11-21T02_30_00_00_00", "manual__2026-11-20T02_30_00_00_00"]
    assert store.run("no_such_run") is None


def test_job_report_reads_every_file(reports_root: Path):
    job = rp.ReportStore(reports_root).job("manual__2026-11-20T02_30_00_00_00", "01_19.50")
    assert job is not None
    assert job.validation is not None and [e["success"] for e in job.validation["expectations"]] == [False, True]
    assert job.plan is not None and job.plan["update"][0]["amount_before"] == "1500.00"
    assert job.rejects_total == 1 and job.rejects[0]["reason"] == "missing_key"
    assert (job.reconciliation_checked_lines, job.reconciliation_mismatches) == (2, 0)
    assert job.snapshot_total == "26500.00"
    assert [d.name for d in job.downloads] == ["rejects.csv", "snapshot.pdf", "snapshot.json", "validation.json", "plan.json", "reconciliation.json",
                                               "result.json"]


def test_a_blocked_job_report_has_only_its_reason(reports_root: Path):
    job = rp.ReportStore(reports_root).job("scheduled__2026-11-21T02_30_00_00_00", "01_21.10")
    assert job is not None and job.row.state == "blocked" and "not posted" in job.row.message
    assert (job.validation, job.plan, job.snapshot, job.rejects) == (None, None, None, [])
    assert [d.name for d in job.downloads] == ["result.json"]


def test_reconciliation_counts_only_checked_lines(tmp_path: Path):
    """Additive: only the lines the run created are compared; a kept line's own amount is no mismatch."""
    folder = tmp_path / "runs" / "r1" / "01_1"
    write_json(folder / "result.json", finished("01", "1", "synced", "r1"))
    write_json(folder / "reconciliation.json", {"checked_lines": 1, "lines": [
        {"cost_code": "a", "cost_type": "L", "spectrum_amount": "5.00", "procore_amount": "5.00", "checked": True},
        {"cost_code": "b", "cost_type": "L", "spectrum_amount": "5.00", "procore_amount": "9.00", "checked": False},
    ]})
    job = rp.ReportStore(tmp_path).job("r1", "01_1")
    assert job is not None and (job.reconciliation_checked_lines, job.reconciliation_mismatches) == (1, 0)
    write_json(folder / "reconciliation.json", {"checked_lines": 1, "lines": [
        {"cost_code": "a", "cost_type": "L", "spectrum_amount": "5.00", "procore_amount": "5.01", "checked": True}]})
    assert rp.ReportStore(tmp_path).job("r1", "01_1").reconciliation_mismatches == 1


def test_downloads_never_leave_the_reports_root(reports_root: Path, tmp_path: Path):
    store = rp.ReportStore(reports_root)
    run, key = "manual__2026-11-20T02_30_00_00_00", "01_19.50"
    assert store.download_path(run, key, "rejects.csv") == (reports_root / "runs" / run / key / "rejects.csv").resolve()
    secret = tmp_path / "secret.json"
    secret.write_text("{}", encoding="utf-8")
    (reports_root / "runs" / run / "02_9999").mkdir()
    (reports_root / "runs" / run / "02_9999" / "plan.json").symlink_to(secret)
    for args in [(run, key, "extracted.pkl"), (run, key, "../../status/01_19.50.json"), ("..", key, "plan.json"),
                 (run, "..", "summary.json"), (run, ".", "plan.json"), (run, key, "missing.json"), (run, "02_9999", "plan.json"),
                 ("/etc", "passwd", "plan.json"), (run, key, "")]:
        assert store.download_path(*args) is None, args


def test_unreadable_files_are_skipped_not_fatal(reports_root: Path):
    from include.budget_import import job_status_store

    write_status(reports_root, blocked("03", "1", "budget_not_locked", "lock it"))
    with job_status_store.store_engine(reports_root).begin() as conn:  # a payload that is not (or no longer) JSON
        conn.execute(job_status_store.JOB_STATUS.update().where(job_status_store.JOB_STATUS.c.job_key == "03_1").values(payload="{half a json"))
    (reports_root / "runs" / "scheduled__2026-11-21T02_30_00_00_00" / "summary.json").write_text("[", encoding="utf-8")
    store = rp.ReportStore(reports_root)
    assert "03_1" not in {r.key for r in store.budget_jobs()}
    run = store.run("scheduled__2026-11-21T02_30_00_00_00")
    assert run is not None and not run.complete and len(run.jobs) == 3  # read from each job's result.json


def test_empty_or_missing_root(tmp_path: Path):
    store = rp.ReportStore(tmp_path / "nothing")
    assert (store.budget_jobs(), store.runs(), store.run("x"), store.job("x", "y")) == ([], [], None, None)


def test_a_thousand_jobs_read_quickly(tmp_path: Path):
    import time

    root = tmp_path / "big"
    run_id = "scheduled__2026-11-22T02:30:00+00:00"
    results = [finished("01", str(n), "synced", run_id) if n % 3 else blocked("01", str(n), "budget_not_locked", "lock it") for n in range(1000)]
    for result in results:
        key = rp.job_key(result["company_code"], result["job_number"])
        write_json(root / "runs" / rp.run_part(run_id) / key / "result.json", result)
        write_status(root, result, {**result, "run_id": run_id})
    started = time.perf_counter()
    rows = rp.ReportStore(root).budget_jobs()
    assert len(rows) == 1000 and all(r.run_folder for r in rows)
    assert time.perf_counter() - started < 5


def test_the_budgets_page_reads_every_status_in_one_query(reports_root: Path):
    """No status file per job any more, no result.json opened per job: one SELECT of the state database."""
    import sqlalchemy as sa

    from include.budget_import import job_status_store

    store = rp.ReportStore(reports_root)
    store.budget_jobs()  # the first use checks the tables
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    engine = job_status_store.store_engine(reports_root)
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        rows = store.budget_jobs()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(rows) == 4 and len(statements) == 1, statements


def test_a_jobs_history_is_newest_first_with_its_run_folders(reports_root: Path):
    from include.budget_import import job_status_store

    older = finished("01", "19.50", "synced", "manual__2026-11-01T00:00:00+00:00", at="2026-11-01T00:01:00+00:00", total="10.00")
    job_status_store.record_result(older, root=reports_root)  # its folder is gone (retention)
    history = rp.ReportStore(reports_root).job_history("01_19.50")
    assert [(h.record.run_id, h.run_folder) for h in history] == [
        ("manual__2026-11-20T02:30:00+00:00", "manual__2026-11-20T02_30_00_00_00"), ("manual__2026-11-01T00:00:00+00:00", None)]
    assert history[1].record.spectrum_total == "10.00" and rp.ReportStore(reports_root).job_history("../x") == []


def test_importing_the_plugin_is_light():
    """Airflow imports plugins in every process (each task): no FastAPI app, pandas or GE at import."""
    code = (
        "import sys, airflow.plugins_manager; before = set(sys.modules)\n"
        "import spectrum_budget_reports_plugin as p\n"
        "new = sorted(set(sys.modules) - before)\n"
        "assert new == ['spectrum_budget_reports', 'spectrum_budget_reports_plugin'], new\n"
        "assert 'pandas' not in sys.modules and 'great_expectations' not in sys.modules\n"
        "apps = p.SpectrumBudgetReportsPlugin.fastapi_apps\n"
        "assert apps[0]['url_prefix'] == '/spectrum-budgets' and 'spectrum_budget_reports.app' in sys.modules\n"
        "assert p.SpectrumBudgetReportsPlugin.fastapi_apps is apps  # built once\n"
        "assert 'pandas' not in sys.modules and 'great_expectations' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(PLUGINS.parent)])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_airflow_loads_only_the_plugin_file(tmp_path: Path):
    """plugins/.airflowignore keeps Airflow from importing the package's modules as top-level modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    code = (
        "import json; from airflow import plugins_manager as pm\n"
        "plugins, errors = pm._get_plugins()\n"
        "print(json.dumps({'names': [p.name for p in plugins], 'errors': errors, 'views': [v['url_route'] for p in plugins for v in p.external_views]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["names"] == ["spectrum_budget_reports"] and loaded["errors"] == {}
    assert loaded["views"] == ["spectrum-budgets", "spectrum-budgets-run", "spectrum-budgets-job"]


def test_a_synced_job_with_rejected_rows_is_synced_with_exceptions():
    from tests.ui.conftest import finished

    assert rp.state_of(finished("01", "19.50", "synced", "r", rejected=0)) == "synced"
    state = rp.state_of(finished("01", "19.50", "synced", "r", rejected=8))
    assert (state, rp.STATE_LABELS[state]) == ("synced_exceptions", "Synced with exceptions")
    assert state in rp.FILTERS["synced"][1]


def _pipeline_reports(folder: Path, *, reconciled: bool = True) -> None:
    """plan.json and reconciliation.json as the pipeline writes them now (changes and counts; totals by
    cost type), for an override of 6 lines over 3 cost types, one updated, one differing after the load."""
    from decimal import Decimal as D

    from include.budget_import.pipeline import reconcile
    from include.budget_import.plan import DesiredLine, ExistingLine, plan_merge

    desired = [DesiredLine(f"0{n}-100", ct, D(amount)) for n, (ct, amount) in enumerate(
        [("L", "100.00"), ("L", "0.10"), ("M", "250.10"), ("M", "1850.00"), ("S", "98766430612.56"), ("S", "0.01")])]
    existing = [ExistingLine(n, d.cost_code, d.cost_type, d.amount) for n, d in enumerate(desired)]
    existing[3] = existing[3]._replace(amount=D("1500.00"))
    plan = plan_merge(desired, existing, "override")
    write_json(folder / "plan.json", {**plan.as_dict(), "dry_run": False, "project_id": 2001})
    if reconciled:
        final = [line._replace(amount=D("1850.00")) if line.id == 3 else line for line in existing]
        final[4] = final[4]._replace(amount=D("98766430612.55"))  # Procore differs by a cent after the load
        write_json(folder / "reconciliation.json", reconcile(desired, final, plan, dry_run=False))


def test_reports_of_changes_and_counts_give_the_chart_and_the_counts(tmp_path: Path):
    folder = tmp_path / "runs" / "r1" / "01_1"
    write_json(folder / "result.json", finished("01", "1", "failed_reconciliation", "r1"))
    _pipeline_reports(folder)
    job = rp.ReportStore(tmp_path).job("r1", "01_1")
    assert job is not None and job.reconciliation is not None
    assert [line["cost_code"] for line in job.reconciliation["lines"]] == ["04-100"], "only the line that differs is listed"
    assert (job.reconciliation_line_count, job.reconciliation_equal_lines, job.reconciliation_checked_lines, job.reconciliation_mismatches) == (6, 5, 6, 1)
    totals, source = rp.cost_type_totals(job)
    assert source == "reconciliation"
    assert [(t.cost_type, str(t.spectrum), str(t.procore)) for t in totals] == [
        ("L", "100.10", "100.10"), ("M", "2100.10", "2100.10"), ("S", "98766430612.57", "98766430612.56")]
    assert all(isinstance(t.spectrum, rp.Decimal) for t in totals), "exact, never float"
    assert job.plan is not None and (job.plan["counts"]["keep"], job.plan["keep_equal"], job.plan["keep"]) == (5, 5, [])


def test_chart_from_a_held_jobs_plan_totals_and_older_reports_still_chart(tmp_path: Path):
    folder = tmp_path / "runs" / "r1" / "01_1"
    write_json(folder / "result.json", finished("01", "1", "needs_review", "r1"))
    _pipeline_reports(folder, reconciled=False)
    job = rp.ReportStore(tmp_path).job("r1", "01_1")
    assert job is not None
    totals, source = rp.cost_type_totals(job)
    assert source == "plan" and [(t.cost_type, str(t.spectrum), str(t.procore)) for t in totals] == [
        ("L", "100.10", "100.10"), ("M", "2100.10", "1750.10"), ("S", "98766430612.57", "98766430612.57")]
    plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    del plan["by_cost_type"]  # a plan that lists changes only, without its totals: no chart rather than a wrong one
    write_json(folder / "plan.json", plan)
    held = rp.ReportStore(tmp_path).job("r1", "01_1")
    assert held is not None and rp.cost_type_totals(held) == ([], "")
    # an older reconciliation, every line listed, no totals: its lines summed
    write_json(folder / "reconciliation.json", {"checked_lines": 2, "lines": [
        {"cost_code": "a", "cost_type": "L", "spectrum_amount": "5.00", "procore_amount": "5.00", "checked": True},
        {"cost_code": "b", "cost_type": "L", "spectrum_amount": "0.10", "procore_amount": "0.10", "checked": True}]})
    old = rp.ReportStore(tmp_path).job("r1", "01_1")
    assert old is not None and (old.reconciliation_line_count, old.reconciliation_equal_lines) == (2, 0)
    assert [(t.cost_type, str(t.spectrum), str(t.procore)) for t in rp.cost_type_totals(old)[0]] == [("L", "5.10", "5.10")]
