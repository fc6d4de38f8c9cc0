"""Airflow started the way it runs in production, on this machine, for the executor tests.

- a fresh PostgreSQL metadata database (uniquely named, dropped afterwards), migrated with `airflow db migrate`;
- `airflow scheduler`, `airflow dag-processor`, `airflow api-server` and (CeleryExecutor) `airflow celery
  worker` processes, each in its own process group, every one bound to 127.0.0.1;
- Celery: Redis broker under a unique key prefix (deleted afterwards), PostgreSQL result backend;
- the REST API (`/auth/token` with the simple auth manager's generated password, then `/api/v2`) to
  unpause, trigger and watch a DAG run.

Everything started is stopped by PID (process group SIGTERM, then SIGKILL), and every process that still
carries this cluster's marker in its environment is killed too, even when the test fails.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from scripts.local_airflow import AIRFLOW, PROCORE_POOL_SLOTS, ROOT, migrate

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 0
MARKER = "AIRFLOW_EXECUTOR_TEST_CLUSTER"
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Timings:
    """Wall-clock seconds per phase, printed at the end of a test (run pytest with -s to see them)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._t0 = time.monotonic()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = round(time.monotonic() - start, 1)

    def total(self) -> float:
        return round(time.monotonic() - self._t0, 1)

    def line(self) -> str:
        return ", ".join(f"{k} {v:.1f}s" for k, v in self.phases.items()) + f"; total {self.total():.1f}s"


# --- services -----------------------------------------------------------------------------------
@contextmanager
def postgres_database(prefix: str = "airflow_exec_test") -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped (connections terminated) afterwards."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@contextmanager
def redis_key_prefix() -> Iterator[str]:
    """A key prefix of our own on the shared Redis (kombu's `global_keyprefix`); its keys are deleted after."""
    import redis

    prefix = f"airflow_exec_test_{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


# --- processes ----------------------------------------------------------------------------------
@dataclass
class Started:
    name: str
    popen: subprocess.Popen
    log_path: Path
    seen: dict[int, psutil.Process] = field(default_factory=dict)


class Processes:
    """Long-running processes, each in its own session/process group, output to one log file each."""

    def __init__(self, log_dir: Path, marker: str) -> None:
        self.log_dir = log_dir
        self.marker = marker
        self.started: list[Started] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Started:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                args, env={**env, MARKER: self.marker}, cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        started = Started(name, popen, log_path)
        self.started.append(started)
        return started

    def tail(self, name: str, lines: int = 40) -> str:
        started = next(s for s in self.started if s.name == name)
        text = started.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def check_alive(self) -> None:
        """Fail at once (with its log) when one of the services has died."""
        self.snapshot()
        for s in self.started:
            if s.popen.poll() is not None:
                raise RuntimeError(f"`{s.name}` exited with {s.popen.returncode}:\n{self.tail(s.name, 60)}")

    def snapshot(self) -> None:
        """Remember every descendant seen so far, so a child that outlives its parent is still found."""
        for s in self.started:
            try:
                root = psutil.Process(s.popen.pid)
                for proc in [root, *root.children(recursive=True)]:
                    s.seen.setdefault(proc.pid, proc)
            except psutil.Error:
                continue

    def stop(self, grace: float = 20.0) -> list[str]:
        """SIGTERM every process group, wait, SIGKILL what is left; returns what had to be killed."""
        self.snapshot()
        for s in self.started:
            _signal_group(s.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for s in self.started:
            try:
                s.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        tracked = [p for s in self.started for p in s.seen.values()]
        _, alive = psutil.wait_procs(tracked, timeout=max(0.1, deadline - time.monotonic()))
        killed = []
        for s in self.started:
            if s.popen.poll() is None:
                killed.append(f"{s.name} (pid {s.popen.pid})")
            _signal_group(s.popen.pid, signal.SIGKILL)
            try:
                s.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for proc in alive:
            try:
                if proc.is_running():
                    killed.append(f"straggler pid {proc.pid} {proc.name()}")
                    proc.kill()
            except psutil.Error:
                pass
        killed += kill_marked(self.marker)
        return killed


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the group was created by start_new_session: its id is the leader's pid
    except (ProcessLookupError, PermissionError):
        pass


def kill_marked(marker: str) -> list[str]:
    """Kill any process whose environment carries this cluster's marker (a child that left its group)."""
    killed = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(MARKER) == marker:
                killed.append(f"marked straggler pid {proc.pid} {proc.info['name']}")
                proc.kill()
        except psutil.Error:
            continue
    return killed


# --- REST API -----------------------------------------------------------------------------------
class AirflowApi:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def login(self, airflow_home: Path, username: str = "admin") -> None:
        """The simple auth manager writes a generated password per user to AIRFLOW_HOME on first start."""
        passwords = json.loads((airflow_home / "simple_auth_manager_passwords.json.generated").read_text(encoding="utf-8"))
        response = self.session.post(f"{self.base_url}/auth/token", json={"username": username, "password": passwords[username]}, timeout=30)
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} /api/v2{path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def paged(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, params={**params, "limit": 100, "offset": len(items)})
            items += page[key]
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def dag_or_none(self, dag_id: str) -> dict[str, Any] | None:
        response = self.session.get(f"{self.base_url}/api/v2/dags/{dag_id}", timeout=30)
        return response.json() if response.status_code == 200 else None

    def ensure_pools(self, dag_id: str, slots: int) -> list[str]:
        """Create any pool the DAG's tasks use that does not exist yet (a fresh metadata DB has only
        default_pool); tasks in a missing pool are never scheduled."""
        tasks = self.call("GET", f"/dags/{dag_id}/tasks")["tasks"]
        needed = {t["pool"] for t in tasks if t.get("pool")}
        existing = {p["name"] for p in self.paged("/pools", "pools")}
        created = sorted(needed - existing)
        for name in created:
            self.call("POST", "/pools", json={"name": name, "slots": slots, "description": "created by the executor test", "include_deferred": False})
        return created

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str) -> dict[str, Any]:
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": conf})

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.paged(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")


# --- the cluster --------------------------------------------------------------------------------
@dataclass
class Cluster:
    executor: str
    home: Path
    env: dict[str, str]
    api: AirflowApi
    processes: Processes
    timings: Timings
    worker_names: list[str]
    db_name: str
    homes: list[Path] = field(default_factory=list)  # every process's AIRFLOW_HOME (one, unless own_homes)

    def celery_results(self) -> dict[str, int]:
        """Task results Celery stored in its PostgreSQL result backend (table celery_taskmeta), by status."""
        import psycopg2

        with psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.db_name) as conn, conn.cursor() as cur:
            cur.execute("SELECT status, COUNT(*) FROM celery_taskmeta GROUP BY status")
            return {status: int(n) for status, n in cur.fetchall()}

    def wait(self, what: str, check: Any, timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.processes.check_alive()
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnostics()}")
            time.sleep(interval)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        def parsed() -> dict[str, Any] | None:
            return self.api.dag_or_none(dag_id)

        return self.wait(f"the dag-processor to parse {dag_id}", parsed, timeout)

    def run_dag(self, dag_id: str, conf: dict[str, Any], timeout: float, pool_slots: int = PROCORE_POOL_SLOTS) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Unpause, create missing pools, trigger through the REST API, wait for a terminal state."""
        return self.run_dags([(dag_id, conf)], timeout, pool_slots)[0]

    def run_dags(self, runs: list[tuple[str, dict[str, Any]]], timeout: float,
                 pool_slots: int = PROCORE_POOL_SLOTS) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Several DAG runs triggered together (one after the other through the REST API, no wait
        between), each watched to its terminal state."""
        with self.timings.phase("dag parsed"):
            for dag_id in dict.fromkeys(d for d, _ in runs):
                self.wait_for_dag(dag_id)
                self.api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
                self.api.ensure_pools(dag_id, pool_slots)
        run_ids = [f"executor_test__{self.executor}__{uuid.uuid4().hex[:8]}" for _ in runs]
        with self.timings.phase("dag run"):
            for (dag_id, conf), run_id in zip(runs, run_ids, strict=True):
                self.api.trigger(dag_id, conf, run_id)
            finished = [self.wait(f"{dag_id} run {run_id} to finish", lambda d=dag_id, r=run_id: _terminal(self.api.run(d, r)), timeout, interval=2.0)
                        for (dag_id, _), run_id in zip(runs, run_ids, strict=True)]
        return [(run, self.api.task_instances(dag_id, run_id)) for run, (dag_id, _), run_id in zip(finished, runs, run_ids, strict=True)]

    def task_logs(self, limit: int = 6000) -> str:
        logs = sorted((p for h in self.homes for p in (h / "logs").rglob("*.log")), key=lambda p: p.stat().st_mtime)[-4:]
        return "\n".join(f"--- {p}\n{p.read_text(encoding='utf-8', errors='replace')[-limit // 4:]}" for p in logs)

    def diagnostics(self) -> str:
        parts = [f"--- {s.name} (exit {s.popen.poll()})\n{self.processes.tail(s.name, 25)}" for s in self.processes.started]
        try:
            errors = self.api.call("GET", "/importErrors").get("import_errors", [])
            parts += [f"--- import error {e.get('filename')}\n{e.get('stack_trace', '')[-2000:]}" for e in errors]
        except Exception as exc:  # the API may be what is broken
            parts.append(f"--- import errors unavailable: {exc}")
        return "\n".join(parts) + "\n" + self.task_logs()


def _terminal(run: dict[str, Any]) -> dict[str, Any] | None:
    return run if run["state"] in TERMINAL_RUN_STATES else None


@contextmanager
def airflow_cluster(executor: str, base_env: dict[str, str], workdir: Path, *, workers: int = 2,
                    worker_concurrency: int = 2, parallelism: int = 4, own_homes: bool = False,
                    process_env: Callable[[str, dict[str, str]], dict[str, str]] | None = None) -> Iterator[Cluster]:
    """Migrate a fresh PostgreSQL metadata DB and start the production processes for `executor`
    ("CeleryExecutor" or "LocalExecutor"); stop them all (and drop the DB, delete the Redis keys) after.
    `own_homes`: every process gets its own AIRFLOW_HOME (workdir/homes/<name>), as on machines that
    share no disk; `process_env(name, env)` gives one process its own settings (e.g. its own paths)."""
    timings = Timings()
    celery = executor == "CeleryExecutor"
    homes = workdir / "homes"
    home = homes / "api-server" if own_homes else workdir / "airflow_home"
    home.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex
    with postgres_database() as db_name, redis_key_prefix() as key_prefix:
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        metadata = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db_name}"
        env = {
            **base_env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # as in production: the test unpauses via the API
            # The nightly cron (catchup off) would also start a scheduled run the moment the DAG is unpaused;
            # the test runs exactly the one it triggers through the REST API.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        if celery:
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db_name}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
            })
        processes = Processes(workdir / "process_logs", marker)
        worker_names = [f"worker{i + 1}" for i in range(workers)] if celery else []
        cluster = Cluster(executor, home, env, AirflowApi(api_url), processes, timings, worker_names, db_name,
                          homes=sorted({home, *(homes / n for n in ("scheduler", "dag-processor", *worker_names))}) if own_homes else [home])

        def env_for(name: str, more: dict[str, str] | None = None) -> dict[str, str]:
            own = {**env, **(more or {})}
            if own_homes:
                own["AIRFLOW_HOME"] = str(homes / name)
                (homes / name).mkdir(parents=True, exist_ok=True)
            return process_env(name, own) if process_env else own

        try:
            with timings.phase("db migrate"):
                migrate(env_for("api-server"))  # the project's own set-up: `airflow db migrate`, then the procore_api pool
            with timings.phase("services up"):
                processes.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"], env_for("api-server"))
                processes.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env_for("scheduler"))
                processes.start("dag-processor", [AIRFLOW, "dag-processor"], env_for("dag-processor"))
                for name in worker_names:
                    worker_env = env_for(name, {"AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.executors.worker_hostname.hostname",
                                                "AIRFLOW_TEST_WORKER_NAME": name})
                    processes.start(name, [AIRFLOW, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(worker_concurrency),
                                           "--skip-serve-logs"], worker_env)
                cluster.wait("the api-server to answer", cluster.api.healthy, timeout=90)
                cluster.wait("the simple auth manager's generated passwords", (home / "simple_auth_manager_passwords.json.generated").exists, timeout=30)
                cluster.api.login(home)
                if worker_names:
                    cluster.wait("both Celery workers to answer a ping", lambda: set(worker_names) <= _celery_ping(env, key_prefix), timeout=90, interval=2.0)
            yield cluster
        finally:
            with timings.phase("teardown"):
                killed = processes.stop()
            if killed:
                print(f"[{executor}] had to kill: {', '.join(killed)}")
            print(f"[{executor}] timings: {timings.line()}")


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _celery_ping(env: dict[str, str], key_prefix: str) -> set[str]:
    """Names of the Celery workers that answer a broadcast ping on this cluster's broker keys."""
    from celery import Celery

    app = Celery(broker=env["AIRFLOW__CELERY__BROKER_URL"])
    app.conf.broker_transport_options = {"global_keyprefix": key_prefix}
    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception:  # broker hiccup while workers start: just ask again
        return set()
    finally:
        app.close()
    return {name.split("@", 1)[0] for reply in replies for name in reply}
