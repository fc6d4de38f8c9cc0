"""Notifications through Airflow's SmtpNotifier to a local SMTP server (aiosmtpd) started here, and the
scheduled sync importing only the companies due, with real `airflow dags test` runs."""
from __future__ import annotations

import email
import json
import socket
import subprocess
import sys
import time
from email.policy import default as default_policy
from html import unescape
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from scripts.local_airflow import ROOT, airflow, migrate
from tests.e2e.conftest import read, run_dag

pytestmark = pytest.mark.e2e

SECRETS = ("demo-secret",)  # the Procore client secret of the sample (procore_fixture.json)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy))
        return "250 OK"

    def texts(self) -> list[tuple[str, str]]:
        out = []
        for msg in self.messages:
            part = msg.get_body(preferencelist=("html", "plain"))
            out.append((str(msg["Subject"]), unescape(part.get_content() if part else "")))
        return out

    def wait(self, count: int, seconds: float = 10) -> list[tuple[str, str]]:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.texts()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp_env(airflow_home):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **airflow_home,
        "AIRFLOW_CONN_SMTP_NOTIFY": json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                                                "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1}}),
        "BUDGET_IMPORT_NOTIFY": "smtp:smtp_notify:ops@example.com",
        "BUDGET_IMPORT_NOTIFY_FROM": "airflow@example.com",
        "BUDGET_IMPORT_UI_URL": "http://airflow.local:8080",
    }
    try:
        yield env, inbox
    finally:
        controller.stop()


def assert_no_secret(texts):
    for subject, body in texts:
        for secret in SECRETS:
            assert secret not in subject and secret not in body


def test_a_blocked_job_is_notified_with_its_reason_and_what_to_do(demo_sample, emulator, smtp_env):
    env, inbox = smtp_env
    emulator.reset()
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["blocked_reason"] == "estimates_not_posted")
    company, job = spec["company_code"], spec["job_number"]
    run = run_dag(env, "spectrum_budget_import", {"company_code": company, "job_number": job, "merge_mode": "override", "dry_run": False, "review": "never"})
    assert read(next(run.glob("*/result.json")))["reason"] == "estimates_not_posted"
    texts = inbox.wait(1)
    assert len(texts) == 1, texts
    subject, body = texts[0]
    assert subject == f"[Spectrum budget] Job {company}/{job} blocked: Estimates not posted"
    assert f"Spectrum company {company}, job {job}" in body
    assert "Reason: Estimates not posted. Estimate entries are not posted in Spectrum" in body
    assert "What to do: Post the job's estimate entries in Spectrum" in body
    assert f"Report: http://airflow.local:8080/spectrum-budgets/runs/{run.name}/jobs/" in body
    assert "Run: spectrum_budget_import " in body
    assert_no_secret(texts)
    assert inbox.messages[0]["To"] == "ops@example.com" and inbox.messages[0]["From"] == "airflow@example.com"


def test_a_failed_job_is_notified_with_the_error(demo_sample, emulator, smtp_env):
    """Procore refuses every write (503; one attempt per request): the load fails (retries off for the
    test: BUDGET_IMPORT_TASK_RETRIES=0; the loader reports that Procore's budget did not converge), and the notification names the
    job and the error."""
    env, inbox = smtp_env
    emulator.reset()
    spec = next(j for j in demo_sample.manifest()["jobs"] if j["expected_status"] == "ready" and j["expected_budget"]
                and not j["existing_procore_budget"])
    company, job = spec["company_code"], spec["job_number"]
    conn = json.loads(env["AIRFLOW_CONN_PROCORE_API"])
    conn["extra"]["max_attempts"] = 1
    env = {**env, "AIRFLOW_CONN_PROCORE_API": json.dumps(conn), "BUDGET_IMPORT_TASK_RETRIES": "0"}  # fail at once, not after backoff
    rule = {"kind": "error", "status": 503, "method": "POST", "path_contains": "/rest/", "times": 1000}
    requests.put(f"{emulator.url}/_emulator/faults", json={"rules": [rule]}, timeout=10).raise_for_status()
    try:
        run_dag(env, "spectrum_budget_import", {"company_code": company, "job_number": job, "merge_mode": "override", "dry_run": False, "review": "never"})
    finally:
        requests.put(f"{emulator.url}/_emulator/faults", json={}, timeout=10).raise_for_status()
    texts = inbox.wait(1)
    assert len(texts) == 1, texts
    subject, body = texts[0]
    assert subject == f"[Spectrum budget] Job {company}/{job} failed: Import failed"
    assert f"Spectrum company {company}, job {job}" in body
    assert f"Reason: Import failed. Spectrum budget import failed for job {company}/{job} in task load_job" in body, body
    assert "What to do: Read the error below and the task's log" in body
    assert_no_secret(texts)


SYNC = "01=daily@02:30 America/Chicago,02=never"
LOGICAL_DATE = "2026-03-08T08:30:00+00:00"  # 03:30 CDT: the day clocks go forward, 02:30 Chicago runs in this hour


def test_the_scheduled_sync_imports_only_the_companies_due_and_misses_its_deadline(demo_sample, emulator, smtp_env, tmp_path):
    """A run of the scheduled DAG at a logical date where only company 01 is due (daily at 02:30 in
    Chicago, on the day clocks go forward) and 02 syncs never: only 01's jobs are imported, 02 is listed
    as skipped by its schedule. Its logical date is long past, so its deadline was missed while it ran:
    the deadline alert's callback, run as the triggerer runs it, sends its message."""
    env, inbox = smtp_env
    # the deadline explicitly: under `dags test` it is off by default (settings.sync_deadline: Airflow 3.3.2's
    # dags test crashes at the end of a run with one, which check=False below tolerates)
    # and an Airflow home of its own: a home where a `dags test` already stored the DAG without its deadline
    # keeps that version's (absent) alert for this run
    env = {**env, "BUDGET_IMPORT_SYNC": SYNC, "BUDGET_IMPORT_DEADLINE_MINUTES": "180", "AIRFLOW_HOME": str(tmp_path / "airflow_home")}
    migrate(env)
    emulator.reset()
    manifest = demo_sample.manifest()
    runs = Path(env["BUDGET_IMPORT_REPORTS_DIR"]) / "runs"
    before = set(runs.glob("*"))
    result = airflow(env, "dags", "test", "spectrum_budget_nightly", LOGICAL_DATE, "-c",
                     json.dumps({"merge_mode": "override", "dry_run": False, "company_codes": [], "sync": "due"}), check=False)
    (run,) = sorted(set(runs.glob("*")) - before) or [None]
    assert run is not None, (result.stdout + result.stderr)[-3000:]
    summary = read(run / "summary.json")
    assert {r["company_code"] for r in summary["results"]} == {"01"}
    assert summary["companies"]["due"] == ["01"]
    assert summary["companies"]["skipped_by_schedule"] == [{"company_code": "02", "schedule": "never"}]
    assert summary["failed_jobs"] == []
    for spec in manifest["jobs"]:
        if not spec["procore_project_id"]:
            continue
        if spec["company_code"] == "01" and spec["expected_status"] == "ready":
            assert emulator.budget(spec["procore_project_id"]) == spec["expected_budget"], spec["job_number"]
        else:
            assert emulator.budget(spec["procore_project_id"]) == spec["existing_procore_budget"], spec["job_number"]
    assert "SKIPPED  by its schedule (never)" in result.stdout + result.stderr
    blocked = [s for s, _ in inbox.wait(1)]
    assert blocked and all(s.startswith("[Spectrum budget] Job 01/") for s in blocked), blocked

    # the deadline: the scheduler marks it missed and queues its callback, which the triggerer runs
    sent_before = len(inbox.messages)
    out = subprocess.run([sys.executable, "-c", DEADLINE_PROBE, LOGICAL_DATE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["path"] == "include.budget_import.notify.deadline_missed"
    assert probe["deadline_time"].startswith("2026-03-08T11:30")
    texts = inbox.wait(sent_before + 1)[sent_before:]
    assert [s for s, _ in texts] == ["[Spectrum budget] spectrum_budget_nightly not finished by its deadline"]
    assert "not finished by its deadline (2026-03-08" in texts[0][1]
    assert_no_secret(texts)


# Run in the test's Airflow home: what the scheduler does with an expired deadline (Deadline.handle_miss,
# which queues the callback with the run's context) and then what the triggerer does with it (CallbackTrigger).
DEADLINE_PROBE = r"""
import asyncio, json, sys
from datetime import datetime
from sqlalchemy import select
from airflow.models import DagRun, Deadline
from airflow.triggers.callback import CallbackTrigger
from airflow.utils.session import create_session

logical = datetime.fromisoformat(sys.argv[1])
with create_session() as session:
    run = session.scalars(select(DagRun).where(DagRun.dag_id == "spectrum_budget_nightly", DagRun.logical_date == logical)).one()
    (deadline,) = session.scalars(select(Deadline).where(Deadline.dagrun_id == run.id)).all()
    assert not deadline.missed, "a deadline is marked missed by the scheduler only"
    deadline.handle_miss(session)
    data = dict(deadline.callback.data)
    deadline_time = deadline.deadline_time.isoformat()

async def trigger():
    events = [e async for e in CallbackTrigger(callback_path=data["path"], callback_kwargs=dict(data["kwargs"])).run()]
    return [e.payload for e in events]

payloads = asyncio.run(trigger())
assert payloads[-1]["state"] == "success", payloads
print(json.dumps({"path": data["path"], "deadline_time": deadline_time, "sent": payloads[-1].get("body")}))
"""
