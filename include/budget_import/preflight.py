"""Preflight for a real site: does this Spectrum and this Procore app work with the pipeline, before any run?

Checks, writing nothing anywhere (read-only SQL, Procore GETs only):
  1. the Spectrum connection (`spectrum_db`, through connections.spectrum_connection) opens;
  2. every SQL file the pipeline reads (sql_files.sql_dir: include/sql/ or BUDGET_IMPORT_SQL_DIR) runs against
     the site's schema, bound to values that match nothing: a failure names the file, the rule it implements
     (its `-- rule:` header), the database's error (a missing column, say) and what to edit;
  3. the Procore credentials get a token, the company map (`procore_api` extra companies / company_id) names
     companies the app can see, and the app's access to the Budget tool (procore/permissions.py) of a project;
  4. which active Spectrum jobs no Procore project is linked to (discovery.py: the project's origin_id), each
     with the origin_id to set and the projects whose number or name is close.
The one write is separate and explicit: `link_project` sets one project's origin_id (Update project,
PATCH /rest/v1.0/projects/{id}), refusing a project already linked to another job.

Plain functions and dataclasses; the DAG (dags/spectrum_budget_preflight.py) and the CLI (scripts/preflight.py)
are thin wrappers. The report is JSON under the reports root (`preflight/latest.json`, local or object store),
shown by the UI plugin at /spectrum-budgets/preflight.
"""
from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.budget_import import sql_files
from include.budget_import.discovery import discover, origin_id, parse_origin_id
from include.budget_import.storage import Location, StoragePath, storage_path, write_json

log = logging.getLogger(__name__)

OK, WARNING, FAILED = "ok", "warning", "failed"
SEVERITY = {OK: 0, WARNING: 1, FAILED: 2}
REPORT_FOLDER = "preflight"
REPORT_FILE = "latest.json"
PROBE_VALUE = "~preflight~no-such-key~"  # bound to every `?`: no company code, job number or LIKE pattern is this
SUGGESTIONS = 3  # at most this many projects suggested for one unlinked job
CLOSE_NAME = 0.75  # difflib ratio from which a project name counts as close to a job's description
SPECTRUM_DOC = "docs/spectrum.md (The assumed rules, and where a site adapts them)"


@dataclass
class Check:
    """One thing the preflight looked at: ok, warning (the pipeline runs, something needs attention) or failed."""

    name: str  # stable key: spectrum_connection, sql:<file>, procore_token, company_map, budget_access:<code>, links:<code>
    title: str
    status: str
    message: str
    todo: str = ""  # what to do about it (empty when ok)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreflightReport:
    started_at: str
    finished_at: str = ""
    sql_dir: str = ""
    company_codes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    unlinked: list[dict[str, Any]] = field(default_factory=list)  # one entry per active job no project names
    link: dict[str, Any] | None = None  # the link this run made first, when it was asked for one

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=SEVERITY.__getitem__, default=OK)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAILED]

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["status"] = self.status
        body["counts"] = {s: sum(1 for c in self.checks if c.status == s) for s in (OK, WARNING, FAILED)}
        return body


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _error_text(exc: BaseException) -> str:
    """A driver's or Procore's error on one line: pyodbc errors are (SQLSTATE, message)."""
    args: tuple[object, ...] = getattr(exc, "args", ())
    text = args[-1] if len(args) >= 2 and isinstance(args[-1], str) else str(exc)
    return " ".join(f"{type(exc).__name__}: {text}".split())[:800]


# --- 1. Spectrum ------------------------------------------------------------------------------------
def check_spectrum_connection(open_connection: Callable[[], Any]) -> tuple[Check, Any | None]:
    try:
        conn = open_connection()
    except Exception as exc:  # any driver, hook or connection error: the report says what it was
        return Check("spectrum_connection", "Spectrum connection opens", FAILED, f"the connection spectrum_db did not open: {_error_text(exc)}",
                     "Check the Airflow connection spectrum_db (host, port, database in schema, login, password, extra.driver), "
                     "that the ODBC driver is installed on the workers, that [providers.odbc] allow_driver_in_extra is set, "
                     "and (hosted Spectrum) that the workers' IP is allow-listed. README: Pointing at a real Spectrum."), None
    return Check("spectrum_connection", "Spectrum connection opens", OK, "the connection spectrum_db opened"), conn


# --- 2. the SQL files -------------------------------------------------------------------------------
def probe_parameters(statement: str) -> list[str]:
    """Values for a statement's `?` markers that match no row: the pipeline binds the same way (qmark)."""
    return [PROBE_VALUE] * statement.count("?")


def check_sql_file(conn: Any, path: Path) -> Check:
    """Run one SQL file against the site's schema with values that match nothing; read-only (each is a SELECT)."""
    from include.budget_import.spectrum_source import database_errors

    rule = sql_files.rule_of(path)
    name = f"sql:{path.name}"
    title = f"{path.name} runs against this Spectrum"
    details: dict[str, Any] = {"file": str(path), "rule": rule}
    try:
        statement = sql_files.load_sql(path.stem)
    except (OSError, ValueError) as exc:
        return Check(name, title, FAILED, f"{path.name} could not be read: {_error_text(exc)}", f"Restore {path}.", details)
    if not statement.lstrip().upper().startswith("SELECT"):
        return Check(name, title, FAILED, f"{path.name} is not a SELECT: the preflight runs only read-only statements",
                     f"Keep {path} one SELECT statement (include/sql/ holds reads only).", details)
    cursor = conn.cursor()
    try:
        cursor.execute(statement, probe_parameters(statement))
        cursor.fetchall()
    except database_errors() as exc:
        error = _error_text(exc)
        details["error"] = error
        what = f"rule \u201c{rule}\u201d" if rule else "its rule (the file has no `-- rule:` header)"
        return Check(name, title, FAILED, f"{path.name} ({what}) fails on this Spectrum: {error}",
                     f"Edit {path} so it reads the columns your Spectrum has for this rule (the database names what is missing above), "
                     f"keeping what it returns and its parameters as its header says; see {SPECTRUM_DOC}. Point BUDGET_IMPORT_SQL_DIR "
                     "at your own copy of the folder to keep the shipped files untouched. Then run the preflight again.", details)
    finally:
        try:
            cursor.close()
        except database_errors():
            pass
    if rule is None:
        return Check(name, title, WARNING, f"{path.name} runs, but has no `-- rule:` header naming the rule it implements",
                     f"Add a first line `-- rule: <what this file decides>` to {path}.", details)
    return Check(name, title, OK, f"{path.name} runs ({rule})", "", details)


def check_sql_files(conn: Any, folder: Path | None = None) -> list[Check]:
    folder = folder or sql_files.sql_dir()
    paths = sorted(folder.glob("*.sql"))
    if not paths:
        return [Check("sql_files", "SQL files", FAILED, f"no .sql file in {folder}",
                      "Point BUDGET_IMPORT_SQL_DIR at a copy of include/sql/ (every file), or unset it.")]
    checks = [check_sql_file(conn, path) for path in paths]
    for name in sql_files.missing_from(folder):  # a site's copy from before a file was added: the shipped one runs
        check = check_sql_file(conn, sql_files.SQL_DIR / f"{name}.sql")
        if check.status == OK:
            check.status = WARNING
            check.message = f"{name}.sql is not in {folder}: the shipped include/sql/{name}.sql is used, and runs ({check.details.get('rule')})"
            check.todo = f"Copy include/sql/{name}.sql into {folder} (your copy of the folder predates it) and adapt it if your Spectrum needs."
        checks.append(check)
    return checks


# --- 3. Procore -------------------------------------------------------------------------------------
@dataclass
class ProcoreView:
    """What the Procore checks found, for the link check: each company code's Procore company and its projects."""

    api: Any = None
    companies: dict[str, int] = field(default_factory=dict)
    projects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _procore_todo(exc: BaseException) -> str:
    from include.budget_import.procore.errors import ProcoreAuthError, ProcorePermissionError

    if isinstance(exc, ProcoreAuthError):
        return ("Check the procore_api connection's login (OAuth client id) and password (client secret), and extra.login_url "
                "(https://login.procore.com for production, the sandbox's login host for a sandbox).")
    if isinstance(exc, ProcorePermissionError):
        return "Install the app in that Procore company (Company Admin > App Management) with access to the projects' Budget tool."
    return "Check the procore_api connection's host (https://api.procore.com or your sandbox) and that the workers reach it."


def check_procore(hook: Any, company_codes: Sequence[str]) -> tuple[list[Check], ProcoreView]:
    """Token, company map, projects visible, Budget tool access: Procore GETs only."""
    from include.budget_import.procore.errors import ProcoreError
    from include.budget_import.procore.permissions import budget_access

    checks: list[Check] = []
    view = ProcoreView()
    try:
        client = hook.get_client()
        client._bearer()  # the token call alone, so a bad secret is told apart from a bad company
    except Exception as exc:  # a missing connection, no client id, a refused secret, Procore unreachable: all reported
        checks.append(Check("procore_token", "Procore credentials get a token", FAILED, f"no access token: {_error_text(exc)}", _procore_todo(exc)))
        return checks, view
    checks.append(Check("procore_token", "Procore credentials get a token", OK, "the OAuth client credentials got an access token"))
    from include.budget_import.procore.api import ProcoreBudgetApi

    view.api = api = ProcoreBudgetApi(client)
    mapped: dict[str, int] = {}
    problems: list[str] = []
    for code in company_codes:
        try:
            mapped[code] = hook.company_id_for(code)
        except ValueError as exc:
            problems.append(str(exc))
    if not company_codes:
        problems.append("no Spectrum company to check: extra.companies on procore_api is empty (or pass company_codes)")
    visible: dict[int, str] = {}
    for company_id in sorted(set(mapped.values())):
        try:
            visible.update({int(c["id"]): str(c.get("name") or "") for c in api.companies(company_id) if "id" in c})
        except ProcoreError as exc:
            problems.append(f"Procore company {company_id}: {_error_text(exc)}")
    for code, company_id in sorted(mapped.items()):
        if company_id not in visible:
            problems.append(f"Spectrum company {code} maps to Procore company {company_id}, which this app cannot see "
                            f"(it sees {', '.join(str(i) for i in sorted(visible)) or 'none'})")
            continue
        try:
            view.projects[code] = api.projects(company_id)
            view.companies[code] = company_id
        except ProcoreError as exc:
            problems.append(f"projects of Procore company {company_id} (Spectrum {code}): {_error_text(exc)}")
    company_details = {"mapped": mapped, "visible": {str(k): v for k, v in sorted(visible.items())}}
    if problems:
        checks.append(Check("company_map", "Company map names companies the app can see", FAILED, "; ".join(problems),
                            "Set extra.companies on the procore_api connection to {\"<Spectrum company code>\": <Procore company id>} "
                            "for every Spectrum company, with ids from the list the app sees, and install the app in each company.",
                            company_details))
    else:
        names = ", ".join(f"{code} \u2192 {cid} ({visible.get(cid, '')})" for code, cid in sorted(mapped.items()))
        checks.append(Check("company_map", "Company map names companies the app can see", OK, f"mapped and visible: {names}", "", company_details))
    for code, company_id in sorted(view.companies.items()):
        checks.append(_budget_access_check(api, code, company_id, view.projects[code], budget_access))
    return checks, view


def _budget_access_check(api: Any, code: str, company_id: int, projects: list[dict[str, Any]], budget_access: Callable[..., Any]) -> Check:
    from include.budget_import.procore.errors import ProcoreError
    from include.budget_import.settings import budget_tool_names, budget_write_levels

    name, title = f"budget_access:{code}", f"Budget tool access in Procore company {company_id} (Spectrum {code})"
    linked = [p for p in projects if (parsed := parse_origin_id(p.get("origin_id"))) and parsed[0] == code]
    candidates = linked or projects
    if not candidates:
        return Check(name, title, WARNING, f"Procore company {company_id} has no project the app can see: the Budget tool access cannot be checked",
                     "Add the app (its service account) to the company's projects, or create the projects, then run the preflight again.")
    sample = candidates[0]
    project_id = int(sample["id"])
    try:
        access = budget_access(api.project_permissions(company_id, project_id))
    except ProcoreError as exc:
        return Check(name, title, FAILED, f"the permission manifest of project {project_id} could not be read: {_error_text(exc)}", _procore_todo(exc))
    details = {"project_id": project_id, "project_name": sample.get("name"), "level": access.level,
               "tool_names": list(budget_tool_names()), "write_levels": list(budget_write_levels())}
    if access.may_write:
        return Check(name, title, OK, f"{access.level} on the Budget tool of project {project_id} ({sample.get('name')})", "", details)
    if access.level is None:
        return Check(name, title, WARNING, access.why_not(project_id),
                     "Find the Budget tool's name in GET /rest/v1.0/settings/permissions?project_id=... and set PROCORE_BUDGET_TOOL_NAMES "
                     "(a guess in settings.py); the import checks the same manifest before it writes.", details)
    return Check(name, title, FAILED, access.why_not(project_id),
                 "Give the app Standard or Admin on the Budget tool (project Directory > the app's user, or the company's permission "
                 "template); if your manifest names levels otherwise, set PROCORE_BUDGET_WRITE_LEVELS.", details)


# --- 4. links ---------------------------------------------------------------------------------------
def _fold(text: Any) -> str:
    return " ".join(str(text or "").split()).upper()


def suggest_projects(job_number: str, description: str | None, projects: Iterable[Mapping[str, Any]], limit: int = SUGGESTIONS) -> list[dict[str, Any]]:
    """Projects a person may mean for an unlinked job, nearest first: same project number, the number spelt
    otherwise (19.5 / 19.50), the same name, a close name. Projects already linked to a job are left out."""
    from include.budget_import.spectrum_source import job_number_core

    ranked: list[tuple[int, float, int, dict[str, Any]]] = []
    core, number, name = job_number_core(job_number), _fold(job_number), _fold(description)
    for project in projects:
        if project.get("origin_id"):
            continue  # linked already (to this tool's job or another system's id): not offered
        p_number, p_name = _fold(project.get("project_number")), _fold(project.get("name"))
        ratio = difflib.SequenceMatcher(None, name, p_name).ratio() if name and p_name else 0.0
        if p_number and p_number == number:
            rank, why = 0, "project number matches the job number"
        elif p_number and core and job_number_core(p_number) == core:
            rank, why = 1, "project number is the job number spelt otherwise"
        elif name and p_name == name:
            rank, why = 2, "project name matches the job's description"
        elif ratio >= CLOSE_NAME:
            rank, why = 3, f"project name is close to the job's description ({ratio:.0%})"
        else:
            continue
        ranked.append((rank, -ratio, int(project.get("id") or 0), {
            "procore_project_id": project.get("id"), "name": project.get("name"), "project_number": project.get("project_number"), "why": why}))
    ranked.sort(key=lambda r: (r[0], r[1], r[2]))
    return [entry for *_, entry in ranked[:limit]]


def link_instructions(company_code: str, job_number: str, project_id: Any = "<procore project id>") -> dict[str, str]:
    link = {"company_code": company_code, "job_number": job_number, "procore_project_id": project_id}
    return {
        "dag_conf": json.dumps({"link": link}),
        "cli": f"python -m scripts.preflight link --company {company_code} --job {job_number} --project {project_id}",
    }


def check_links(conn: Any, view: ProcoreView) -> tuple[list[Check], list[dict[str, Any]]]:
    """Per company: the active jobs no Procore project names (origin_id), with suggestions; orphan links too."""
    from include.budget_import.spectrum_source import database_errors, list_jobs

    checks: list[Check] = []
    unlinked: list[dict[str, Any]] = []
    for code, company_id in sorted(view.companies.items()):
        name, title = f"links:{code}", f"Spectrum company {code}'s active jobs are linked to Procore projects"
        projects = view.projects.get(code, [])
        try:
            jobs = list_jobs(conn, code)
        except database_errors() as exc:
            checks.append(Check(name, title, FAILED, f"Spectrum's jobs of company {code} could not be read: {_error_text(exc)}",
                                "Fix spectrum_jobs.sql first (its own check above)."))
            continue
        found = discover(code, company_id, jobs, projects)
        by_number = {job.job_number: job for job in jobs}
        entries: list[dict[str, Any]] = []
        for number in found.not_linked:
            job = by_number[number]
            suggestions = suggest_projects(number, job.description, projects)
            entries.append({
                "company_code": code, "job_number": number, "description": job.description, "procore_company_id": company_id,
                "origin_id": origin_id(code, number), "suggestions": suggestions,
                "how": link_instructions(code, number, suggestions[0]["procore_project_id"] if suggestions else "<procore project id>"),
            })
        unlinked += entries
        details = {"active_jobs": sum(1 for j in jobs if j.status_code == "A"), "linked": [r.job_number for r in found.linked],
                   "not_linked": found.not_linked, "orphans": found.orphans}
        problems = []
        if entries:
            problems.append(f"{len(entries)} active job(s) have no linked Procore project and will not import: "
                            + ", ".join(found.not_linked))
        if found.orphans:
            problems.append(f"Procore projects name job(s) Spectrum company {code} lacks: {', '.join(found.orphans)}")
        if problems:
            checks.append(Check(name, title, WARNING, "; ".join(problems),
                                "Link each job to its Procore project: set the project's origin_id to '<company>|<job>' "
                                "(the link action below, or Procore's project settings). A project naming a job Spectrum lacks: "
                                "fix its origin_id or the job number.", details))
        else:
            checks.append(Check(name, title, OK, f"{len(found.linked)} active job(s), every one linked", "", details))
    return checks, unlinked


# --- the whole preflight ----------------------------------------------------------------------------
def _default_spectrum() -> Any:
    from include.budget_import.connections import spectrum_connection

    return spectrum_connection()


def _default_procore() -> Any:
    from include.budget_import.connections import procore_hook

    return procore_hook()


def run_preflight(*, spectrum: Callable[[], Any] = _default_spectrum, procore: Callable[[], Any] = _default_procore,
                  company_codes: Sequence[str] | None = None, sql_folder: Path | None = None) -> PreflightReport:
    """Every check, in order; nothing is written (to Spectrum, to Procore, or here: see write_report)."""
    folder = sql_folder or sql_files.sql_dir()
    report = PreflightReport(started_at=_now(), sql_dir=str(folder))
    connection_check, conn = check_spectrum_connection(spectrum)
    report.checks.append(connection_check)
    try:
        if conn is not None:
            report.checks += check_sql_files(conn, folder)
        hook = procore()
        codes = [str(c) for c in (company_codes or hook.spectrum_company_codes())]
        report.company_codes = codes
        procore_checks, view = check_procore(hook, codes)
        report.checks += procore_checks
        if conn is not None and view.companies:
            link_checks, report.unlinked = check_links(conn, view)
            report.checks += link_checks
    finally:
        if conn is not None:
            conn.close()
    report.finished_at = _now()
    log.info("preflight: %s (%s)", report.status, ", ".join(f"{c.name}={c.status}" for c in report.checks))
    return report


def report_folder(root: Location | None = None) -> StoragePath:
    from include.budget_import.settings import reports_root

    return (storage_path(root) if root is not None else reports_root()) / REPORT_FOLDER


def write_report(report: PreflightReport, run_id: str | None = None, root: Location | None = None) -> StoragePath:
    """The report as `preflight/latest.json` under the reports root (local or object store), plus a copy per
    run, kept as run folders are (retention: BUDGET_IMPORT_KEEP_DAYS and _KEEP_RUNS)."""
    from include.budget_import.job_keys import run_part
    from include.budget_import.retention import prune_preflight_copies

    folder = report_folder(root)
    body = report.as_dict()
    if run_id:
        body["run_id"] = run_id
        write_json(folder / "runs" / f"{run_part(run_id)}.json", body)
        prune_preflight_copies(folder / "runs")
    return write_json(folder / REPORT_FILE, body)


# --- the one write: link a project to its job -------------------------------------------------------
class LinkRefused(ValueError):
    """The link would be wrong (another job's project, a job Spectrum lacks...): nothing was written."""

    retry_helps = False


def link_project(company_code: str, job_number: str, procore_project_id: int, *, procore: Callable[[], Any] = _default_procore,
                 spectrum: Callable[[], Any] | None = _default_spectrum) -> dict[str, Any]:
    """Set a Procore project's origin_id to `<company>|<job>` so the import finds it (PATCH, Update project).
    Refused, writing nothing, when the project is linked to another job (or carries another system's id),
    when another project already names the job, or when Spectrum has no such job (checked when `spectrum`)."""
    company_code, number = str(company_code).strip(), str(job_number).strip()
    if not company_code or not number:
        raise LinkRefused("link needs company_code, job_number and procore_project_id")
    project_id = int(procore_project_id)
    if spectrum is not None:
        from include.budget_import.spectrum_source import find_job

        with closing(spectrum()) as conn:
            job = find_job(conn, company_code, number)
        if job is None:
            raise LinkRefused(f"Spectrum company {company_code} has no job {number}: nothing was linked")
        number = job.job_number  # the job's own spelling (origin_ids carry it as stored, trimmed)
    wanted = origin_id(company_code, number)
    hook = procore()
    company_id = hook.company_id_for(company_code)
    api = hook.get_api()
    project = api.project(company_id, project_id)
    if project is None:
        raise LinkRefused(f"Procore company {company_id} has no project {project_id} the app can see: nothing was linked")
    current = project.get("origin_id") or None
    result = {"company_code": company_code, "job_number": number, "procore_company_id": company_id, "procore_project_id": project_id,
              "project_name": project.get("name"), "origin_id": wanted, "before": current}
    if current == wanted:
        return {**result, "changed": False, "message": f"project {project_id} ({project.get('name')}) is already linked to {company_code}/{number}"}
    if current is not None:
        parsed = parse_origin_id(current)
        whose = f"job {parsed[0]}/{parsed[1]}" if parsed else f"another system's id {current!r}"
        raise LinkRefused(f"project {project_id} ({project.get('name')}) is already linked to {whose} (origin_id {current!r}): "
                          "nothing was changed. Unlink it in Procore first if that link is wrong.")
    others = [p for p in api.projects(company_id, origin_id=wanted) if p.get("id") != project_id and p.get("origin_id") == wanted]
    if others:
        raise LinkRefused(f"project {others[0].get('id')} ({others[0].get('name')}) is already linked to {company_code}/{number}: "
                          "one job has one project; nothing was changed")
    answer = api.set_project_origin_id(company_id, project_id, wanted)
    if answer.get("origin_id") != wanted:
        raise RuntimeError(f"Procore answered the update of project {project_id} with origin_id {answer.get('origin_id')!r}, not {wanted!r}")
    log.info("linked Procore project %s (%s) to Spectrum job %s/%s", project_id, project.get("name"), company_code, number)
    return {**result, "changed": True, "message": f"project {project_id} ({project.get('name')}) is now linked to {company_code}/{number}"}
