"""The Spectrum Budgets web app: a FastAPI app the plugin mounts on Airflow's api-server.

- Every route needs an Airflow login: an app-wide dependency from Airflow's own security module
  (`requires_access_dag(method="GET")`: the Bearer header, else the UI's `_token` cookie). A browser
  without a valid login is redirected to Airflow's login page, anything else gets 401.
- Pages are Jinja2 templates with autoescape on; the CSS is ours, served by a route that only knows
  its own file names; reports' files are sent only through `ReportStore.download_path` (a whitelist
  of names, and the real path must stay inside the reports root). No StaticFiles mount: Starlette's
  static files skip app dependencies, i.e. they would be served without a login.
- A Content-Security-Policy without any outside host: the pages cannot load anything from elsewhere.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from include.budget_import.storage import Location

from . import APP_NAME, page_charts
from . import reports as rp

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ASSETS: dict[str, tuple[str, str]] = {
    "style.css": ("static/style.css", "text/css; charset=utf-8"),
    "theme.js": ("static/theme.js", "text/javascript; charset=utf-8"),  # follows Airflow's light / dark choice (docs/ui.md)
}
CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
HISTORY_ROWS = 20  # runs a job page lists (newest first)

# (dag_id, run_id, task_id, map_index) -> the mapped task instance's label ("company/job") or None.
TaskLabelResolver = Callable[[str, str, str, int], "str | None"]


def airflow_task_label(dag_id: str, run_id: str, task_id: str, map_index: int) -> str | None:
    """The nightly DAG names each mapped task instance after its job (rendered_map_index = company/job)."""
    if map_index < 0:
        return None
    try:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            label = session.scalar(
                # a hybrid_property whose .expression redefines the name: mypy sees an overloaded function
                select(TaskInstance.rendered_map_index).where(  # type: ignore[call-overload]
                    TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id,
                    TaskInstance.task_id == task_id, TaskInstance.map_index == map_index,
                )
            )
    except Exception:  # the link still works: it falls back to the run's page
        log.warning("Could not look up task instance %s/%s/%s[%s]", dag_id, run_id, task_id, map_index, exc_info=True)
        return None
    return str(label) if label else None


# () -> {run folder: Airflow's DAG run}: which DAG each run folder belongs to and whether it is still running.
RunLookup = Callable[[], "dict[str, rp.AirflowRun]"]
RECENT_DAG_RUNS = 1000  # the import DAGs' latest runs looked up (a run folder older than that shows no DAG)


def airflow_runs() -> dict[str, rp.AirflowRun]:
    """The import DAGs' recent runs from Airflow's metadata database, by run folder name (run_part of the
    run id): one query of three columns. {} when Airflow cannot answer (the pages still work, without DAG
    names, and a job without a result is 'no result' rather than 'running')."""
    try:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            found = session.execute(
                select(DagRun.dag_id, DagRun.run_id, DagRun.state).where(DagRun.dag_id.in_(rp.IMPORT_DAGS))
                .order_by(DagRun.id.desc()).limit(RECENT_DAG_RUNS)
            ).all()
    except Exception:
        log.warning("Could not look up the import DAGs' runs", exc_info=True)
        return {}
    runs: dict[str, rp.AirflowRun] = {}
    for dag_id, run_id, state in found:
        runs.setdefault(rp.run_part(str(run_id)), rp.AirflowRun(str(dag_id), str(run_id), str(getattr(state, "value", state) or "")))
    return runs


def airflow_auth_dependency() -> Callable[..., Any]:
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag(method="GET")


def login_url(request: Request) -> str:
    """Airflow's login page, coming back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=here)
    except Exception:
        return "/auth/login?" + urlencode({"next": here})


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every template, whatever its name: data is always escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=rp.money, signed=rp.signed_money, clip=rp.clip, when=rp.when, reason=rp.reason_label, change=rp.money_change, q=lambda s: quote(str(s), safe=""),
    )
    env.globals.update(
        outcome_words=rp.outcome_words, STATE_LABELS=rp.STATE_LABELS, FILTERS=rp.FILTERS, PLAN_WORDS=rp.PLAN_WORDS, plan_parts=rp.plan_parts,
        APP_NAME=APP_NAME, table_columns=rp.table_columns,
    )
    return env


def create_app(root: Location | None = None, *, task_label: TaskLabelResolver = airflow_task_label, run_lookup: RunLookup = airflow_runs) -> FastAPI:
    """The app. `root` fixes the reports root (default: the pipeline's rule, read per request); `run_lookup`
    gives Airflow's DAG runs by run folder (tests pass their own)."""
    auth = airflow_auth_dependency()
    app = FastAPI(title=APP_NAME, dependencies=[Depends(auth)], docs_url=None, redoc_url=None, openapi_url=None)
    app.state.auth_dependency = auth  # tests may override it: app.dependency_overrides[app.state.auth_dependency]
    app.state.task_label = task_label
    app.state.run_lookup = run_lookup
    env = _environment()
    assets = {name: ((HERE / rel).read_bytes(), media) for name, (rel, media) in ASSETS.items()}

    def store() -> rp.ReportStore:
        return rp.ReportStore(root if root is not None else rp.reports_root())

    def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        html = env.get_template(template).render(base=base, **{"active": "", **context})
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        not_logged_in = exc.status_code == 401 or (exc.status_code == 403 and exc.detail == "Invalid JWT token")
        if not_logged_in and wants_html(request):
            return RedirectResponse(login_url(request), status_code=303)
        if wants_html(request) and exc.status_code in (403, 404):
            return page(request, "error.html", exc.status_code, title="Not allowed" if exc.status_code == 403 else "Not found", detail=str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    def not_found(request: Request, what: str) -> HTMLResponse:
        return page(request, "error.html", 404, title="Not found", detail=what)

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            raise StarletteHTTPException(404, "No such asset")
        body, media = assets[name]
        return Response(body, media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/", response_class=HTMLResponse)
    def budgets(request: Request, show: str = "all", q: str = "", reports: rp.ReportStore = Depends(store)) -> HTMLResponse:
        show = show if show in rp.FILTERS else "all"
        rows = reports.budget_jobs()
        return page(
            request, "budgets.html", title="Budgets", active="budgets", rows=rp.filter_rows(rows, show, q), counts=rp.filter_counts(rows),
            show=show, q=q, total=len(rows), status_chart=Markup(page_charts.statuses(rows)),
        )

    @app.get("/preflight", response_class=HTMLResponse)
    def preflight(request: Request, reports: rp.ReportStore = Depends(store)) -> HTMLResponse:
        return page(request, "preflight.html", title="Preflight", active="preflight", report=rp.preflight_report(reports))

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, reports: rp.ReportStore = Depends(store)) -> HTMLResponse:
        return page(request, "runs.html", title="Runs", active="runs", runs=reports.runs(airflow=app.state.run_lookup()))

    @app.get("/runs/{run}", response_class=HTMLResponse)
    def run(request: Request, run: str, reports: rp.ReportStore = Depends(store)) -> HTMLResponse:
        path = reports.run_path(run)
        report = reports.run(run, app.state.run_lookup().get(path.name)) if path is not None else None
        if report is None:
            return not_found(request, "There are no budget reports for this run.")
        return page(request, "run.html", title=f"Run {report.run_id}", active="runs", run=report)

    @app.get("/runs/{run}/jobs/{key}", response_class=HTMLResponse)
    def job(request: Request, run: str, key: str, reports: rp.ReportStore = Depends(store)) -> HTMLResponse:
        path = reports.run_path(run)
        report = reports.job(run, key, app.state.run_lookup().get(path.name)) if path is not None else None
        if report is None:
            return not_found(request, "This run has no report for this job.")
        history = reports.job_history(key, HISTORY_ROWS)
        charts = {"cost_types": Markup(page_charts.cost_types(report)), **{k: Markup(v) for k, v in page_charts.history(history, key).items()}}
        return page(request, "job.html", title=f"Job {report.row.label}", active="budgets", job=report, row=report.row,
                    history=history, history_limit=HISTORY_ROWS, charts=charts)

    @app.get("/runs/{run}/jobs/{key}/files/{name}")
    def download(run: str, key: str, name: str, reports: rp.ReportStore = Depends(store)) -> Response:
        path = reports.download_path(run, key, name)
        if path is None:
            raise StarletteHTTPException(404, "No such file")
        media_type = rp.MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        filename = f"{run}_{key}_{name}"
        if isinstance(path, Path):
            return FileResponse(path, media_type=media_type, filename=filename, headers={"Cache-Control": "no-store"})
        # on an object store: streamed in chunks (a rejects.csv may be large), named as a local download is
        return StreamingResponse(rp.read_chunks(path), media_type=media_type, headers={
            "Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{quote(filename)}"'})

    @app.get("/jobs/{key}")
    def latest_job(request: Request, key: str, reports: rp.ReportStore = Depends(store)) -> Response:
        """The newest report of a job, whatever the run."""
        found = reports.find_job_run(key)
        if found is None:
            return not_found(request, "No run has a report for this job.")
        return RedirectResponse(f"{request.scope.get('root_path', '').rstrip('/')}/runs/{found}/jobs/{key}", status_code=303)

    # Links from Airflow's DAG run and task instance views (external views with {DAG_ID}, {RUN_ID}, ...)
    @app.get("/dag-run")
    def dag_run(request: Request, dag_id: str, run_id: str, reports: rp.ReportStore = Depends(store)) -> Response:
        path = reports.run_path(run_id)
        if path is None:
            return not_found(request, f"There are no budget reports for this run of {dag_id}.")
        return RedirectResponse(f"{request.scope.get('root_path', '').rstrip('/')}/runs/{path.name}", status_code=303)

    @app.get("/task-instance")
    def task_instance(
        request: Request, dag_id: str, run_id: str, task_id: str = "", map_index: str = "-1", reports: rp.ReportStore = Depends(store)
    ) -> Response:
        base = request.scope.get("root_path", "").rstrip("/")
        path = reports.run_path(run_id)
        if path is None:
            return not_found(request, f"There are no budget reports for this run of {dag_id}.")
        index = int(map_index) if map_index.lstrip("-").isdigit() else -1
        label = app.state.task_label(dag_id, run_id, task_id, index) if index >= 0 else None
        jobs = reports.job_keys(path.name)
        key = None
        if label and "/" in label:
            company, _, job_number = label.partition("/")
            key = rp.job_key(company, job_number)
        elif len(jobs) == 1:  # the manual DAG: one job per run
            key = jobs[0]
        if key and key in jobs:
            return RedirectResponse(f"{base}/runs/{path.name}/jobs/{key}", status_code=303)
        return RedirectResponse(f"{base}/runs/{path.name}", status_code=303)

    return app
