"""Every setting a site can change, with its default, in one place: environment variables, connection
ids and the `procore_api` connection's extra keys. Read when asked (not at import), so a test or a
worker that sets one sees it. Stdlib only at import (reports_root imports Airflow when asked): the DAG files and the UI plugin read it too.

Guesses about Procore that no public source settles are settings here too (marked "guess").
"""
from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

# --- Airflow wiring (read by the DAG files at parse time) ------------------------------------------
SPECTRUM_CONN_ID = "spectrum_db"  # odbc connection to Spectrum's SQL Server (read only)
PROCORE_CONN_ID = "procore_api"  # http connection to Procore (client id / secret, extras below)


def procore_pool() -> str:
    """The Airflow pool every task that calls Procore runs in: bounds the calls at once."""
    return os.environ.get("SPECTRUM_BUDGET_PROCORE_POOL") or "procore_api"


def task_retries() -> int:
    """Retries of each task of the import DAGs (BUDGET_IMPORT_TASK_RETRIES, default 2, with exponential
    backoff): for errors that may pass (Procore 5xx, a dropped connection). Read when the DAG files are parsed."""
    return int(os.environ.get("BUDGET_IMPORT_TASK_RETRIES") or 2)


def nightly_schedule() -> str:
    """The scheduled sync's cron: SPECTRUM_BUDGET_NIGHTLY_SCHEDULE (a site's own cron, as before sync
    frequencies), else hourly at :30, each run importing the companies due that hour (sync_setting)."""
    return legacy_nightly_schedule() or SYNC_HOURLY_CRON


SYNC_HOURLY_CRON = "30 * * * *"  # the scheduled sync's runs (UTC): one an hour, at the nightly's old minute


def legacy_nightly_schedule() -> str | None:
    return os.environ.get("SPECTRUM_BUDGET_NIGHTLY_SCHEDULE", "").strip() or None


def sync_setting() -> str:
    """BUDGET_IMPORT_SYNC: how often each Spectrum company syncs (hourly, every_4_hours, daily, never) in its
    time zone, e.g. `01=daily@02:30 America/Chicago,02=every_4_hours America/Denver,03=never` or the same
    as JSON (include/budget_import/sync_schedule.py). Unset: every company daily at 02:30 UTC (the nightly
    as it was); with SPECTRUM_BUDGET_NIGHTLY_SCHEDULE set and this unset, every company on each of its runs."""
    return os.environ.get("BUDGET_IMPORT_SYNC", "").strip()


# --- notifications (include/budget_import/notify.py) -----------------------------------------------
def notify_setting() -> str:
    """BUDGET_IMPORT_NOTIFY: where people are told of failed, blocked and held jobs, a review waiting and a
    missed deadline: comma-separated notifier specs, each through an Airflow notifier and its connection:
    `smtp:<conn id>:<to>[;<to>...]` (SmtpNotifier), `slack:<conn id>:<channel>` (SlackNotifier),
    `slack_webhook:<conn id>` (SlackWebhookNotifier). Unset: nothing is sent."""
    return os.environ.get("BUDGET_IMPORT_NOTIFY", "").strip()


def notify_from() -> str | None:
    """BUDGET_IMPORT_NOTIFY_FROM: the sender of e-mails (else the SMTP connection's `from_email` extra)."""
    return os.environ.get("BUDGET_IMPORT_NOTIFY_FROM", "").strip() or None


def ui_base_url() -> str:
    """BUDGET_IMPORT_UI_URL (else Airflow's AIRFLOW__API__BASE_URL): the Airflow address links in messages
    start with; unset, links are paths (`/spectrum-budgets/...`) on the Airflow UI's host."""
    return (os.environ.get("BUDGET_IMPORT_UI_URL") or os.environ.get("AIRFLOW__API__BASE_URL") or "").strip().rstrip("/")


def _under_dags_test() -> bool:
    """This process is `airflow dags test` (which parses the DAG files itself)."""
    import sys

    return sys.argv[1:3] == ["dags", "test"]


def sync_deadline() -> int:
    """BUDGET_IMPORT_DEADLINE_MINUTES (default 180; 0: none): a run of the scheduled sync not finished this
    many minutes after its logical date is a missed deadline (Airflow's deadline alert), notified.

    Under `airflow dags test` the default is 0 (no deadline): Airflow 3.3.2's `dags test` of a DAG with a
    deadline alert crashes when the run succeeds (`DagRun.update_state` looks the alerts up by id but gets
    their serialised dicts: "'dict' object has no attribute 'hex'", exit 1), and no scheduler marks a
    deadline missed there anyway. Set the variable explicitly to keep the alert in a `dags test`."""
    raw = os.environ.get("BUDGET_IMPORT_DEADLINE_MINUTES", "").strip()
    value = int(raw) if raw else 0 if _under_dags_test() else 180
    if value < 0:
        raise ValueError(f"BUDGET_IMPORT_DEADLINE_MINUTES must be 0 or more, not {raw!r}")
    return value


# --- where reports go, how long a writer waits ---------------------------------------------------
def reports_root() -> Path | ObjectStoragePath:
    """BUDGET_IMPORT_REPORTS_DIR, else $AIRFLOW_HOME/budget_reports: a local folder (a Path), or a URL such
    as `s3://bucket/prefix` (an ObjectStoragePath read with the connection BUDGET_IMPORT_REPORTS_CONN_ID;
    include/budget_import/storage.py). str() of either is what the setting says."""
    from include.budget_import.storage import storage_path  # imports Airflow's ObjectStoragePath: only when asked

    configured = os.environ.get("BUDGET_IMPORT_REPORTS_DIR")
    if not configured:
        configured = str(Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "budget_reports")
    return storage_path(configured, conn_id=reports_conn_id())


def reports_conn_id() -> str | None:
    """The Airflow connection of an object store BUDGET_IMPORT_REPORTS_DIR names (e.g. an `aws` connection,
    `endpoint_url` in its extra for MinIO); unset: the filesystem's own credentials (instance role...)."""
    return os.environ.get("BUDGET_IMPORT_REPORTS_CONN_ID", "").strip() or None


def sql_dir() -> Path | None:
    """BUDGET_IMPORT_SQL_DIR: a folder holding the site's own copy of include/sql/ (every file, same names),
    read instead of the shipped one (sql_files.load_sql); unset: include/sql/."""
    configured = os.environ.get("BUDGET_IMPORT_SQL_DIR", "").strip()
    return Path(configured) if configured else None


def state_db_url() -> str:
    """BUDGET_IMPORT_STATE_DB (an SQLAlchemy URL; PostgreSQL in a deployment), else an SQLite file in the
    local reports folder (include/budget_import/state_db.py)."""
    configured = os.environ.get("BUDGET_IMPORT_STATE_DB", "").strip()
    if configured:
        return configured
    root = str(reports_root())
    if "://" in root and not root.startswith("file://"):
        raise ValueError(f"reports go to {root}: set BUDGET_IMPORT_STATE_DB to a database every worker reaches "
                         "(e.g. postgresql+psycopg2://user:password@host/db)")
    return f"sqlite:///{Path(root.removeprefix('file://')) / 'budget_state.db'}"


def lock_timeout_s() -> float:
    """How long a second writer of one job waits for the first (BUDGET_IMPORT_LOCK_TIMEOUT_S)."""
    return float(os.environ.get("BUDGET_IMPORT_LOCK_TIMEOUT_S") or 1800.0)


def keep_days() -> int:
    """Run folders older than this many days may be removed (BUDGET_IMPORT_KEEP_DAYS, 0: no age limit)."""
    return int(os.environ.get("BUDGET_IMPORT_KEEP_DAYS") or 90)


def keep_runs() -> int:
    """The newest this many run folders are always kept (BUDGET_IMPORT_KEEP_RUNS, 0: no count limit)."""
    return int(os.environ.get("BUDGET_IMPORT_KEEP_RUNS") or 30)


def report_time_zones() -> tuple[str | None, str | None]:
    """The zone reports show local times in: BUDGET_IMPORT_TIMEZONE, else Airflow's default time zone."""
    return os.environ.get("BUDGET_IMPORT_TIMEZONE"), os.environ.get("AIRFLOW__CORE__DEFAULT_TIMEZONE")


# --- what an unattended override may decide alone -------------------------------------------------
def max_delete_share(name: str) -> Decimal:
    """BUDGET_IMPORT_MAX_DELETE_SHARE / BUDGET_IMPORT_MAX_DELETE_VALUE_SHARE: the share of a budget's lines
    (or of its value) an unattended override may delete before the job is held for review (0 to 1)."""
    raw = os.environ.get(name, "").strip()
    value = Decimal(raw) if raw else Decimal("0.5")
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f"{name} must be between 0 and 1, not {raw!r}")
    return value


# --- Procore guesses (no public source says) -------------------------------------------------------
def _names(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(v.strip().lower() for v in os.environ.get(name, "").split(",") if v.strip())
    return values or default


def budget_tool_names() -> tuple[str, ...]:
    """guess: the Budget tool's `name` in Procore's permission manifest (PROCORE_BUDGET_TOOL_NAMES)."""
    return _names("PROCORE_BUDGET_TOOL_NAMES", ("budgeting", "budget"))


def budget_write_levels() -> tuple[str, ...]:
    """guess: the `user_access_level` names that may change a budget (PROCORE_BUDGET_WRITE_LEVELS)."""
    return _names("PROCORE_BUDGET_WRITE_LEVELS", ("standard", "admin"))


# --- Procore's request budget, shared by every worker (include/budget_import/procore/rate_budget.py) ---
PROCORE_RATE_LIMITS_DEFAULT = "3600/3600,25/10"


def procore_rate_limits() -> tuple[tuple[int, float], ...]:
    """PROCORE_RATE_LIMITS: `limit/window-seconds` pairs, comma-separated; no window of that many seconds
    holds more than `limit` calls of one client id across all workers. `off` (or `none`) disables the shared
    budget (each client still paces from Procore's headers).

    Default `3600/3600,25/10`: 3,600 calls an hour is Procore's documented limit (its docs' examples; the
    hourly window is documented); the 10-second spike window is documented, its limit of 25 is a guess
    (Procore's examples show "about 25", and the real figure is per app: read it from the
    X-Rate-Limit-Limit of a spike-window answer and set it here)."""
    raw = (os.environ.get("PROCORE_RATE_LIMITS") or PROCORE_RATE_LIMITS_DEFAULT).strip()
    if raw.lower() in ("off", "none", "0"):
        return ()
    pairs = []
    for part in raw.split(","):
        limit_text, slash, seconds_text = part.strip().partition("/")
        try:
            limit, seconds = int(limit_text), float(seconds_text)
        except ValueError:
            limit, seconds = 0, 0.0
        if not slash or limit < 1 or seconds <= 0:
            raise ValueError(f"PROCORE_RATE_LIMITS: {part.strip()!r} is not limit/window-seconds (e.g. 3600/3600,25/10)")
        pairs.append((limit, seconds))
    return tuple(pairs)


def procore_rate_margin_s() -> float:
    """guess: PROCORE_RATE_MARGIN_S (default 0.5): seconds added to every shared-budget window for the time
    between reserving a call and its arrival at Procore (sleep overshoot, connection, latency)."""
    return float(os.environ.get("PROCORE_RATE_MARGIN_S") or 0.5)


def shared_token_enabled() -> bool:
    """BUDGET_IMPORT_SHARED_TOKEN (default on; `0` off): tasks reuse one Procore token, stored encrypted with
    Airflow's Fernet key in the state DB, while it lives (include/budget_import/procore/shared_token.py)."""
    return os.environ.get("BUDGET_IMPORT_SHARED_TOKEN", "1").strip().lower() not in ("0", "off", "false", "no")


# --- the procore_api connection's extra --------------------------------------------------------------
PROCORE_EXTRA_DEFAULTS: dict[str, Any] = {
    "companies": {},  # Spectrum company code -> Procore company id (the whole map when given)
    "company_id": None,  # the Procore company when there is one Spectrum company and no map
    "login_url": None,  # OAuth host (default: the connection's host)
    "connect_timeout": 5.0,  # seconds
    "timeout": 60.0,  # seconds per answer
    "max_attempts": 8,  # tries of one request (429 / 5xx / connection errors)
    "max_wait_s": 120.0,  # longest Retry-After the client honours before giving up
}
PROCORE_EXTRA_KEYS = tuple(PROCORE_EXTRA_DEFAULTS)


def procore_extra(extra: dict[str, Any], key: str) -> Any:
    """A key of the procore_api connection's extra, or its default."""
    value = extra.get(key)
    return PROCORE_EXTRA_DEFAULTS[key] if value is None else value
