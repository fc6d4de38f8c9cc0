"""Tell people what needs them, through Airflow's notifiers: a job that failed, a job blocked (its reason
and what to do), a job held for review, a review waiting for a person, the scheduled sync not finished by
its deadline.

A run's outcome (dag_tasks.summarise_run's results) becomes messages here (`Message`: a subject and a
plain-text body naming the Spectrum company and job, the Procore project, the reason, what to do and the
link to the job's report page `/spectrum-budgets/runs/<run>/jobs/<job>`), sent through the notifiers
BUDGET_IMPORT_NOTIFY names (settings.notify_setting), each an Airflow notifier on its Airflow connection:

  smtp:<conn id>:<to>[;<to>...]   SmtpNotifier (apache-airflow-providers-smtp); empty conn id: smtp_default
  slack:<conn id>:<channel>       SlackNotifier (apache-airflow-providers-slack, a Slack API token connection)
  slack_webhook:<conn id>         SlackWebhookNotifier (the same provider, an incoming-webhook connection)

Nothing configured: nothing is sent. A notification that fails is logged and never fails the import.
Our text is sent as it is: the notifiers' `notify` is called directly, so nothing in a message (a
Spectrum description, say) is ever rendered as a Jinja template.
"""
from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from include.budget_import.discovery import origin_id
from include.budget_import.job_keys import job_key, run_part
from include.budget_import.job_states import reason_label, state_label
from include.budget_import.settings import notify_from, notify_setting, ui_base_url

log = logging.getLogger(__name__)

UI_PREFIX = "/spectrum-budgets"  # the reports plugin (plugins/spectrum_budget_reports)
SUBJECT_PREFIX = "[Spectrum budget]"
KINDS = ("failed", "blocked", "needs_review", "review_waiting", "deadline_missed")

# What a person does about each reason (the rules' messages say what is wrong; this, what to do).
WHAT_TO_DO: dict[str, str] = {
    "job_not_found": "Check the company code and job number in Spectrum. If a Procore project names this job by mistake, "
                     "correct the project's origin_id.",
    "job_closed": "Nothing, if the job is finished. To sync it again, reopen the job in Spectrum.",
    "job_inactive": "Set the job active (Status_Code 'A') in Spectrum if its budget should sync.",
    "estimates_not_posted": "Post the job's estimate entries in Spectrum. The next sync imports it, or trigger "
                            "spectrum_budget_import for this job.",
    "budget_not_locked": "Finalize and lock the job's budget in Spectrum. The next sync imports it.",
    "not_linked": "Add and sync the job to its Procore project: set the project's origin_id to {origin} "
                  "(Procore project settings, or the preflight's link action).",
    "budget_tool_inactive": "Make the Budget tool an active tool on the Procore project (Project Admin > Tools).",
    "procore_budget_locked": "Unlock the project's budget in Procore (Budget tool > Unlock Budget), then re-import.",
    "no_permission": "Give the integration's Procore user 'Standard' or higher on the project's Budget tool.",
    "failed_validation": "Open the job's report (validation and rejected rows), correct the rows in Spectrum, then re-import.",
    "needs_review": "Read the plan on the job's report page. If it is right, trigger spectrum_budget_import for this job "
                    "and choose Override at the review; else correct Spectrum.",
    "failed_reconciliation": "Compare the job's Spectrum and Procore totals on its report page; re-import after correcting.",
    "import_failed": "Read the error below and the task's log. The next sync tries again, or trigger spectrum_budget_import "
                     "for this job once the cause is fixed.",
    "review_waiting": "Open Airflow's Required Actions (task review_import of this run) and choose Override, "
                      "Keep existing and add, or Cancel.",
    "deadline_missed": "Open the run in Airflow: a task may be waiting (the procore_api pool, a job's lock, Procore's "
                       "rate limit) or failing and retrying.",
}
NOT_NOTIFIED = frozenset({"superseded", "cancelled_at_review"})  # nothing for a person to do


@dataclass(frozen=True)
class Message:
    kind: str  # one of KINDS
    subject: str
    body: str  # plain text


# --- the messages -------------------------------------------------------------------------------
def report_link(run_id: str, company_code: str, job_number: str) -> str:
    """The job's report page of this run, in the reports plugin (absolute with BUDGET_IMPORT_UI_URL)."""
    return f"{ui_base_url()}{UI_PREFIX}/runs/{run_part(run_id)}/jobs/{job_key(company_code, job_number)}"


def _what_to_do(reason: str, company_code: str, job_number: str) -> str:
    text = WHAT_TO_DO.get(reason, WHAT_TO_DO["import_failed"])
    return text.replace("{origin}", repr(origin_id(company_code, job_number)))


def _project(result: Mapping[str, Any]) -> str:
    name, pid = result.get("procore_project_name"), result.get("procore_project_id")
    if name and pid:
        return f"{name} (id {pid})"
    if pid or name:
        return str(pid or name)
    if result.get("reason") == "not_linked":
        return "none linked"
    return "not known (see the reason)"


def _job_text(result: Mapping[str, Any]) -> str:
    text = f"Spectrum company {result['company_code']}, job {result['job_number']}"
    return text + (f" ({result['job_description']})" if result.get("job_description") else "")


def job_message(result: Mapping[str, Any], *, run_id: str, dag_id: str) -> Message | None:
    """The message about one job's result, or None when there is nothing for a person to do."""
    status, reason = str(result.get("status") or ""), str(result.get("reason") or "")
    if reason in NOT_NOTIFIED:
        return None
    if status == "failed" or status == "failed_reconciliation":
        kind, reason = "failed", reason or "import_failed"
    elif status == "blocked":
        kind = "blocked"
    elif status == "needs_review":
        kind, reason = "needs_review", "needs_review"
    else:
        return None
    company, job = str(result["company_code"]), str(result["job_number"])
    label = reason_label(reason) or state_label(dict(result))
    headline = {"failed": "failed", "blocked": "blocked", "needs_review": "held for review"}[kind]
    subject = f"{SUBJECT_PREFIX} Job {company}/{job} {headline}: {label}"
    body = "\n".join([
        f"{_job_text(result)}: {state_label(dict(result))}.",
        f"Procore project: {_project(result)}",
        f"Reason: {label}. {str(result.get('message') or '').strip()}".rstrip(),
        f"What to do: {_what_to_do(reason, company, job)}",
        f"Report: {report_link(run_id, company, job)}",
        f"Run: {dag_id} {run_id}",
    ])
    return Message(kind, subject, _safe(body))


def run_messages(results: Iterable[Mapping[str, Any]], *, run_id: str, dag_id: str,
                 failed: Iterable[Mapping[str, Any]] = ()) -> list[Message]:
    """Every message of a run: one per job result that needs a person, and one per job that has no result
    because its task failed (`failed`: {company_code, job_number, message}, from the job's status)."""
    messages = [m for r in results if (m := job_message(r, run_id=run_id, dag_id=dag_id))]
    seen = {(str(r["company_code"]), str(r["job_number"])) for r in results if r.get("status") == "failed"}
    for job in failed:
        if (str(job["company_code"]), str(job["job_number"])) in seen:
            continue
        message = job_message({"status": "failed", "reason": "import_failed", **job}, run_id=run_id, dag_id=dag_id)
        if message:
            messages.append(message)
    return messages


def review_waiting_message(company_code: str, job_number: str, *, run_id: str, dag_id: str, project: str = "",
                           existing_lines: int | None = None, plans: Mapping[str, Any] | None = None) -> Message:
    """A person is asked to choose before the import touches a project that already has budget lines."""
    plans = plans or {}
    o, a = plans.get("override") or {}, plans.get("additive") or {}
    lines = [
        f"Spectrum company {company_code}, job {job_number}: waiting for a person's choice before the import.",
        f"Procore project: {project or 'see the review'}",
        f"Reason: the project already has {existing_lines if existing_lines is not None else 'some'} budget lines in Procore.",
    ]
    if o or a:
        lines.append(f"Override would create {o.get('create', 0)}, update {o.get('update', 0)}, delete {o.get('delete', 0)}; "
                     f"Keep existing and add would create {a.get('create', 0)}.")
    lines += [
        f"What to do: {WHAT_TO_DO['review_waiting']}",
        f"Report: {report_link(run_id, company_code, job_number)}",
        f"Run: {dag_id} {run_id}",
    ]
    return Message("review_waiting", f"{SUBJECT_PREFIX} Job {company_code}/{job_number} waits for your review", _safe("\n".join(lines)))


def deadline_message(dag_id: str, run_id: str, deadline_time: Any, *, logical_date: Any = None, state: Any = None) -> Message:
    base = ui_base_url()
    lines = [
        f"The run {run_id} of {dag_id} was not finished by its deadline ({deadline_time}).",
        f"Logical date: {logical_date}" if logical_date else "",
        f"State when the deadline passed: {state}" if state else "",
        f"What to do: {WHAT_TO_DO['deadline_missed']}",
        f"Run: {base}/dags/{dag_id}/runs/{run_id}",
        f"Reports: {base}{UI_PREFIX}/runs/{run_part(run_id)}",
    ]
    return Message("deadline_missed", f"{SUBJECT_PREFIX} {dag_id} not finished by its deadline", _safe("\n".join(x for x in lines if x)))


def _safe(text: str) -> str:
    """Airflow's secrets masker over the text (a connection's password in an error message becomes ***)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact

        return str(redact(text))
    except Exception:  # the masker is a safety net, never a reason not to tell people
        return text


# --- where they go ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotifierSpec:
    kind: str  # smtp | slack | slack_webhook
    conn_id: str
    target: str = ""  # smtp: recipients (;-separated); slack: the channel

    def describe(self) -> str:
        return f"{self.kind}:{self.conn_id}"


class NotifySettingError(ValueError):
    pass


def parse_notify_setting(raw: str | None) -> list[NotifierSpec]:
    specs = []
    for part in (p.strip() for p in (raw or "").split(",")):
        if not part:
            continue
        kind, _, rest = part.partition(":")
        conn_id, _, target = rest.partition(":")
        kind = kind.strip().lower()
        if kind == "smtp":
            recipients = [r.strip() for r in target.split(";") if r.strip()]
            if not recipients:
                raise NotifySettingError(f"BUDGET_IMPORT_NOTIFY {part!r}: give recipients, smtp:<conn id>:<to>[;<to>...]")
            specs.append(NotifierSpec("smtp", conn_id.strip() or "smtp_default", ";".join(recipients)))
        elif kind == "slack":
            specs.append(NotifierSpec("slack", conn_id.strip() or "slack_api_default", target.strip() or "#general"))
        elif kind == "slack_webhook":
            specs.append(NotifierSpec("slack_webhook", conn_id.strip() or "slack_default"))
        else:
            raise NotifySettingError(f"BUDGET_IMPORT_NOTIFY {part!r}: the notifier is one of smtp, slack, slack_webhook")
    return specs


def configured() -> list[NotifierSpec]:
    """The notifiers BUDGET_IMPORT_NOTIFY names; a setting that cannot be read is logged, and sends nothing."""
    try:
        return parse_notify_setting(notify_setting())
    except NotifySettingError as exc:
        log.error("Notifications are off: %s", exc)
        return []


def html_body(text: str) -> str:
    """The plain text as an e-mail's HTML part (SmtpHook sends HTML): escaped, line breaks kept."""
    return f'<pre style="font-family: inherit; white-space: pre-wrap">{html.escape(text)}</pre>'


def build_notifier(spec: NotifierSpec, message: Message) -> BaseNotifier:
    """The Airflow notifier of one spec, carrying one message."""
    text = f"{message.subject}\n\n{message.body}"
    if spec.kind == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(to=spec.target.split(";"), from_email=notify_from(), subject=message.subject,
                            html_content=html_body(message.body), smtp_conn_id=spec.conn_id)
    if spec.kind == "slack":
        from airflow.providers.slack.notifications.slack import SlackNotifier

        return SlackNotifier(slack_conn_id=spec.conn_id, text=text, channel=spec.target)
    if spec.kind == "slack_webhook":
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        return SlackWebhookNotifier(slack_webhook_conn_id=spec.conn_id, text=text)
    raise NotifySettingError(f"unknown notifier {spec.kind!r}")


def send(messages: Sequence[Message], context: Mapping[str, Any] | None = None, specs: Sequence[NotifierSpec] | None = None) -> int:
    """Send each message through each configured notifier; returns how many were sent. Never raises: a
    notification that fails is logged (which notifier, which message) and the others go on."""
    specs = configured() if specs is None else specs
    if not specs or not messages:
        return 0
    sent = 0
    for message in messages:
        for spec in specs:
            try:
                build_notifier(spec, message).notify(dict(context or {}))  # type: ignore[arg-type]  # (notify: our text, never a template)
                sent += 1
            except Exception as exc:
                log.error("Notification %r through %s failed (the import goes on): %s", message.subject, spec.describe(), _safe(str(exc)))
    log.info("%d notification(s) sent through %s", sent, ", ".join(s.describe() for s in specs))
    return sent


async def asend(messages: Sequence[Message], context: Mapping[str, Any] | None = None, specs: Sequence[NotifierSpec] | None = None) -> int:
    """`send` for the triggerer (a deadline alert's callback): each notifier's async_notify."""
    specs = configured() if specs is None else specs
    sent = 0
    for message in messages:
        for spec in specs:
            try:
                await build_notifier(spec, message).async_notify(dict(context or {}))  # type: ignore[arg-type]
                sent += 1
            except Exception as exc:
                log.error("Notification %r through %s failed: %s", message.subject, spec.describe(), _safe(str(exc)))
    return sent


# --- wired into Airflow ---------------------------------------------------------------------------
def notify_run(results: Iterable[Mapping[str, Any]], failed: Iterable[Mapping[str, Any]], *, run_id: str, dag_id: str) -> int:
    """The end of a run (dag_tasks.summarise_run): its failed, blocked and held jobs. Never raises."""
    try:
        specs = configured()
        if not specs:
            return 0
        return send(run_messages(list(results), run_id=run_id, dag_id=dag_id, failed=list(failed)), specs=specs)
    except Exception as exc:  # a notification never fails the import
        log.error("Notifications of run %s failed (the import goes on): %s", run_id, _safe(str(exc)))
        return 0


class ReviewWaitingNotifier(BaseNotifier):
    """The review task's notifier (HITLOperator `notifiers`, called when it starts waiting for a person):
    tells the configured notifiers which job waits, on which project, and what each choice would do."""

    template_fields = ()  # nothing here is a template

    def notify(self, context: Any) -> None:
        try:
            specs = configured()
            if not specs:
                return
            params = context.get("params") or {}
            ti = context.get("ti") or context.get("task_instance")
            planned = (ti.xcom_pull(task_ids="plan_review") if ti is not None else None) or {}
            message = review_waiting_message(
                str(params.get("company_code", "?")).strip(), str(params.get("job_number", "?")).strip(),
                run_id=str(context.get("run_id") or getattr(ti, "run_id", "")), dag_id=str(getattr(context.get("dag"), "dag_id", "") or ""),
                project=str(planned.get("project") or ""), existing_lines=planned.get("existing_lines"), plans=planned.get("plans"),
            )
            send([message], specs=specs)
        except Exception as exc:  # the review waits whether or not anyone was told
            log.error("The review notification failed (the review still waits): %s", _safe(str(exc)))


async def deadline_missed(dag_id: str = "", deadline_minutes: int = 0, context: Mapping[str, Any] | None = None) -> int:
    """The scheduled sync's deadline alert callback (an AsyncCallback: run by the triggerer when a run is
    not finished by its deadline). `context` is what the scheduler passes: the run and the deadline."""
    try:
        run = dict((context or {}).get("dag_run") or {})
        deadline = dict((context or {}).get("deadline") or {})
        message = deadline_message(str(run.get("dag_id") or dag_id), str(run.get("dag_run_id") or run.get("run_id") or "?"),
                                   deadline.get("deadline_time"), logical_date=run.get("logical_date"), state=run.get("state"))
        specs = configured()
        if not specs:
            log.warning("%s (BUDGET_IMPORT_NOTIFY is unset: nobody was told)", message.subject)
            return 0
        return await asend([message], specs=specs)
    except Exception as exc:
        log.error("The deadline notification failed: %s", _safe(str(exc)))
        return 0
