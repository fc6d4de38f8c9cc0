"""Notifications: the messages a run's outcome becomes, the notifier specs, and that a notification
never fails the import (include/budget_import/notify.py)."""
from __future__ import annotations

import asyncio
import logging

import pytest

from include.budget_import import notify
from include.budget_import.notify import Message, NotifierSpec, NotifySettingError

RUN = "scheduled__2026-03-08T08:30:00+00:00"
BLOCKED = {"company_code": "01", "job_number": "20.01", "status": "blocked", "reason": "estimates_not_posted",
           "message": "Estimate entries are not posted in Spectrum: post them, then import. (2 unposted estimate entries)"}
HELD = {"company_code": "02", "job_number": "4430", "status": "needs_review", "reason": "needs_review", "procore_project_id": 2104,
        "procore_project_name": "Willow Hall", "message": "held (the override would delete all 3 budget lines)"}
SYNCED = {"company_code": "01", "job_number": "19.50", "status": "synced", "reason": None}


def test_a_blocked_job_names_the_job_the_reason_what_to_do_and_its_report(monkeypatch):
    monkeypatch.setenv("BUDGET_IMPORT_UI_URL", "https://airflow.example.com/")
    message = notify.job_message(BLOCKED, run_id=RUN, dag_id="spectrum_budget_nightly")
    assert message is not None and message.kind == "blocked"
    assert message.subject == "[Spectrum budget] Job 01/20.01 blocked: Estimates not posted"
    assert "Spectrum company 01, job 20.01" in message.body
    assert "Reason: Estimates not posted. Estimate entries are not posted in Spectrum" in message.body
    assert "What to do: Post the job's estimate entries in Spectrum" in message.body
    assert "Report: https://airflow.example.com/spectrum-budgets/runs/scheduled__2026-03-08T08_30_00_00_00/jobs/01_20.01" in message.body


def test_not_linked_says_which_origin_id_links_it(monkeypatch):
    monkeypatch.delenv("BUDGET_IMPORT_UI_URL", raising=False)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    message = notify.job_message({**BLOCKED, "reason": "not_linked", "message": "not linked"}, run_id="r1", dag_id="d")
    assert message is not None
    assert "origin_id to '01|20.01'" in message.body
    assert "Procore project: none linked" in message.body
    assert "Report: /spectrum-budgets/runs/r1/jobs/01_20.01" in message.body


def test_held_and_failed_jobs_and_nothing_for_the_rest():
    held = notify.job_message(HELD, run_id=RUN, dag_id="d")
    assert held is not None and held.kind == "needs_review"
    assert "held for review" in held.subject and "Procore project: Willow Hall (id 2104)" in held.body
    assert notify.job_message(SYNCED, run_id=RUN, dag_id="d") is None
    assert notify.job_message({**BLOCKED, "reason": "superseded"}, run_id=RUN, dag_id="d") is None
    messages = notify.run_messages([BLOCKED, HELD, SYNCED], run_id=RUN, dag_id="d",
                                   failed=[{"company_code": "01", "job_number": "21.10", "message": "Procore answered 503"}])
    assert [m.kind for m in messages] == ["blocked", "needs_review", "failed"]
    assert messages[-1].subject == "[Spectrum budget] Job 01/21.10 failed: Import failed"
    assert "Procore answered 503" in messages[-1].body and "What to do: Read the error" in messages[-1].body


def test_review_waiting_and_deadline_messages():
    waiting = notify.review_waiting_message("01", "19.50", run_id=RUN, dag_id="spectrum_budget_import", project="Riverside Clinic",
                                            existing_lines=5, plans={"override": {"create": 1, "update": 2, "delete": 3}, "additive": {"create": 1}})
    assert waiting.subject == "[Spectrum budget] Job 01/19.50 waits for your review"
    assert "already has 5 budget lines" in waiting.body and "Required Actions" in waiting.body
    late = notify.deadline_message("spectrum_budget_nightly", RUN, "2026-03-08T11:30:00+00:00", state="running")
    assert late.kind == "deadline_missed" and "not finished by its deadline (2026-03-08T11:30:00+00:00)" in late.body


def test_notifier_specs():
    specs = notify.parse_notify_setting("smtp:smtp_ops:ops@example.com; pm@example.com, slack:slack_api:#budgets, slack_webhook:hook, smtp::a@b.c")
    assert specs == [NotifierSpec("smtp", "smtp_ops", "ops@example.com;pm@example.com"), NotifierSpec("slack", "slack_api", "#budgets"),
                     NotifierSpec("slack_webhook", "hook"), NotifierSpec("smtp", "smtp_default", "a@b.c")]
    assert notify.parse_notify_setting("") == []
    for bad in ("smtp:smtp_default", "pager:x"):
        with pytest.raises(NotifySettingError):
            notify.parse_notify_setting(bad)


def test_the_notifiers_are_airflows():
    from airflow.providers.slack.notifications.slack import SlackNotifier
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    message = Message("blocked", "subject <b>", "body {{ not a template }} & <tag>")
    smtp = notify.build_notifier(NotifierSpec("smtp", "smtp_x", "a@b.c;d@e.f"), message)
    assert isinstance(smtp, SmtpNotifier) and smtp.to == ["a@b.c", "d@e.f"] and smtp.smtp_conn_id == "smtp_x"
    assert "{{ not a template }} &amp; &lt;tag&gt;" in smtp.html_content
    slack = notify.build_notifier(NotifierSpec("slack", "s", "#c"), message)
    assert isinstance(slack, SlackNotifier) and slack.text.startswith("subject <b>\n\nbody")


def test_nothing_configured_sends_nothing(monkeypatch):
    monkeypatch.delenv("BUDGET_IMPORT_NOTIFY", raising=False)
    assert notify.notify_run([BLOCKED], [], run_id=RUN, dag_id="d") == 0
    assert asyncio.run(notify.deadline_missed(context={"dag_run": {"dag_id": "d", "dag_run_id": RUN}})) == 0


def test_a_bad_setting_or_a_failing_notifier_is_logged_and_never_raises(monkeypatch, caplog):
    caplog.set_level(logging.ERROR)
    monkeypatch.setenv("BUDGET_IMPORT_NOTIFY", "pager:x")
    assert notify.notify_run([BLOCKED], [], run_id=RUN, dag_id="d") == 0
    assert "Notifications are off" in caplog.text
    # an SMTP connection that does not exist: the send fails, is logged, and the run goes on
    monkeypatch.setenv("BUDGET_IMPORT_NOTIFY", "smtp:no_such_conn:ops@example.com")
    monkeypatch.setenv("AIRFLOW_CONN_NO_SUCH_CONN", '{"conn_type": "smtp", "host": "127.0.0.1", "port": 9, "extra": {"disable_tls": true, '
                       '"disable_ssl": true, "timeout": 2, "retry_limit": 1, "from_email": "a@b.c"}}')
    assert notify.notify_run([BLOCKED], [], run_id=RUN, dag_id="d") == 0
    assert "through smtp:no_such_conn failed (the import goes on)" in caplog.text


def test_the_review_task_tells_who_waits_for_which_job(monkeypatch):
    """ReviewWaitingNotifier is the HITL review's notifier: called (as HITLOperator calls its notifiers)
    with the task's context when the review starts waiting."""
    sent: list[Message] = []
    monkeypatch.setenv("BUDGET_IMPORT_NOTIFY", "smtp:smtp_default:ops@example.com")
    monkeypatch.setattr(notify, "send", lambda messages, specs=None, context=None: sent.extend(messages) or len(messages))

    class TI:
        run_id = "manual__1"

        def xcom_pull(self, task_ids):
            assert task_ids == "plan_review"
            return {"existing_lines": 5, "project": "Riverside Clinic", "plans": {"override": {"create": 0, "update": 2, "delete": 1},
                                                                                 "additive": {"create": 0}}}

    from airflow.sdk import DAG

    dag = DAG("spectrum_budget_import", schedule=None)
    notify.ReviewWaitingNotifier()({"params": {"company_code": "01", "job_number": "19.50"}, "ti": TI(), "run_id": "manual__1", "dag": dag})
    assert [m.subject for m in sent] == ["[Spectrum budget] Job 01/19.50 waits for your review"]
    assert "Procore project: Riverside Clinic" in sent[0].body and "update 2, delete 1" in sent[0].body
    assert "Run: spectrum_budget_import manual__1" in sent[0].body
