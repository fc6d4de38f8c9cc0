"""`make ui`: the demo's Airflow in a browser, with the plugin's Spectrum Budgets pages, on 127.0.0.1.

1. reuses what `make demo` set up under var/demo (the sample Spectrum database, the Procore emulator's
   fixture and state, AIRFLOW_HOME, the reports and state DB); runs `make demo`'s steps first when they
   have never run, so the pages have its runs to show;
2. starts the Procore emulator (its state as the demo left it), then `airflow api-server`, `scheduler`,
   `dag-processor` and `triggerer` (the manual DAG's review is a deferred task), every one on 127.0.0.1
   only, with the demo's environment and one JWT secret / API secret key kept in AIRFLOW_HOME;
3. waits until the api-server answers, prints the URL, the Spectrum Budgets page and the login;
4. on Ctrl-C (or SIGTERM) stops every process it started and exits 0; if one of them dies, prints its
   log's tail, stops the others and exits 1.
The nightly DAG is paused at each start (unpausing it would run the latest missed night at once).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from scripts import demo
from scripts.local_airflow import AIRFLOW, ROOT, airflow, airflow_env, procore_target_from_fixture

DEFAULT_PORT = 8080
GRACE_S = 20.0  # SIGTERM, then SIGKILL for a process group still there after this
STARTUP_TIMEOUT_S = 180.0
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"  # the simple auth manager's, in AIRFLOW_HOME
SECRETS_FILE = "ui_secrets.json"  # the JWT secret and API secret key every process shares, in AIRFLOW_HOME
NIGHTLY = "spectrum_budget_nightly"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_secrets(home: Path) -> dict[str, str]:
    """One JWT secret and API secret key per AIRFLOW_HOME, generated on first use and kept there (0600):
    the api-server signs the tokens the scheduler's task workers and the triggerer present to it."""
    path = home / SECRETS_FILE
    if path.exists():
        kept: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("jwt_secret") and kept.get("secret_key"):
            return kept
    made = {"jwt_secret": secrets.token_urlsafe(64), "secret_key": secrets.token_urlsafe(32)}  # 64 bytes: HS512's minimum
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(made, file)
    return made


@dataclass
class Child:
    """A process started in its own session (process group), so Ctrl-C reaches this script alone and it
    stops each group as a whole (the api-server's workers, the scheduler's task processes)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stops_first: bool = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def group_exists(self) -> bool:
        if self.alive():
            return True
        try:
            os.killpg(self.process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    logs: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], stops_first: bool = False) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        child = Child(name, process, log_path, stops_first)
        self.children.append(child)
        return child

    def dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def stop(self, grace: float = GRACE_S) -> None:
        """The task runners first (scheduler, triggerer: their tasks report their end to the api-server),
        then the rest; in each round SIGTERM to every group, SIGKILL to those still there after `grace` s."""
        first = [c for c in self.children if c.stops_first]
        for batch in (first, [c for c in self.children if not c.stops_first]):
            self._stop(batch, grace)

    @staticmethod
    def _stop(children: list[Child], grace: float) -> None:
        for child in children:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(c.group_exists() for c in children):
            time.sleep(0.1)
        for child in children:
            if child.group_exists():
                print(f"  {child.name} did not stop in {grace:g} s: killed", flush=True)
                child.signal_group(signal.SIGKILL)
        for child in children:
            with suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=10)


class Failed(Exception):
    def __init__(self, message: str, child: Child | None = None) -> None:
        super().__init__(message)
        self.child = child


def wait_until(ready: Callable[[], bool], supervisor: Supervisor, stopping: threading.Event, what: str, timeout: float) -> bool:
    """Poll `ready` until it holds (True), a stop is asked for (False), a child dies or time runs out (Failed)."""
    deadline = time.monotonic() + timeout
    while not stopping.is_set():
        if (dead := supervisor.dead()) is not None:
            raise Failed(f"{dead.name} exited with {dead.process.returncode} while waiting for {what}", dead)
        if ready():
            return True
        if time.monotonic() > deadline:
            raise Failed(f"{what}: not within {timeout:g} s")
        stopping.wait(0.25)
    return False


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def ensure_demo(var: Path) -> tuple[Path, Path]:
    """The demo's sample, fixture and AIRFLOW_HOME; `make demo`'s steps first if they never ran here."""
    spectrum_db, fixture, metadata = var / "spectrum.db", var / "procore_fixture.json", var / "airflow" / "airflow.db"
    if not (spectrum_db.exists() and fixture.exists() and metadata.exists()):
        print(f"{var} is not set up yet: running the demo first (`make demo`, about 40 s) ...", flush=True)
        if demo.main(["--var", str(var)]) != 0:
            raise SystemExit("the demo failed; see above")
        print(flush=True)
    return spectrum_db, fixture


def ui_env(var: Path, spectrum_db: Path, fixture: Path, emulator_url: str, port: int) -> dict[str, str]:
    home = var / "airflow"
    env = airflow_env(home, spectrum_db, procore_target_from_fixture(emulator_url, fixture), var / "budget_reports")
    keys = shared_secrets(home)
    base_url = f"http://127.0.0.1:{port}"
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",  # LocalExecutor worker processes (its default, 32, is a lot for a laptop)
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",  # no health server: nothing else listens
    })
    return env


def admin_password(home: Path) -> str | None:
    try:
        passwords: dict[str, Any] = json.loads((home / PASSWORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    password = passwords.get("admin")
    return str(password) if password else None


def run(args: argparse.Namespace, out: IO[str]) -> int:
    var: Path = args.var.resolve()
    spectrum_db, fixture = ensure_demo(var)
    home = var / "airflow"
    port = args.port
    if not port_is_free(port):
        fallback = free_port()
        print(f"Port {port} is busy: using {fallback}.", file=out, flush=True)
        port = fallback

    stopping = threading.Event()

    def ask_stop(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, ask_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    supervisor = Supervisor(var / "ui")
    try:
        emulator_port = free_port()
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        supervisor.start("procore-emulator", [sys.executable, "-m", "standins.procore_emulator", "--host", "127.0.0.1", "--port", str(emulator_port),
                                              "--db", str(var / "procore.db"), "--fixture", str(fixture)], {**os.environ, "PYTHONPATH": str(ROOT)})
        if not wait_until(lambda: answers(f"{emulator_url}/_emulator/health"), supervisor, stopping, "the Procore emulator", 30):
            return stopped(supervisor, out, args.grace)
        env = ui_env(var, spectrum_db, fixture, emulator_url, port)
        print(f"Starting Airflow (logs: {supervisor.logs}/) ...", file=out, flush=True)
        supervisor.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env)
        supervisor.start("dag-processor", [AIRFLOW, "dag-processor"], env)
        # the log servers of the scheduler and the triggerer would listen on every interface: not started
        # (the api-server reads finished tasks' logs from AIRFLOW_HOME/logs, which they share)
        supervisor.start("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"], env, stops_first=True)
        # before the scheduler runs: unpaused, the nightly would start the latest missed night at once
        airflow(env, "dags", "pause", NIGHTLY, check=False, timeout=120)
        supervisor.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env, stops_first=True)
        base_url = f"http://127.0.0.1:{port}"
        if not wait_until(lambda: answers(f"{base_url}/api/v2/monitor/health"), supervisor, stopping, "the api-server", args.startup_timeout):
            return stopped(supervisor, out, args.grace)
        if not wait_until(lambda: admin_password(home) is not None, supervisor, stopping, f"{home / PASSWORD_FILE}", 30):
            return stopped(supervisor, out, args.grace)
        print(f"""
Airflow UI:        {base_url}/
Spectrum Budgets:  {base_url}/spectrum-budgets/
Login:             user admin, password {admin_password(home)}  (from {home / PASSWORD_FILE})
The demo's runs are in the pages; trigger spectrum_budget_import from the UI for another (the nightly is paused).
Stop:              Ctrl-C (stops the api-server, scheduler, dag-processor, triggerer and the Procore emulator)
""", file=out, flush=True)
        while not stopping.wait(0.5):
            if (dead := supervisor.dead()) is not None:
                raise Failed(f"{dead.name} exited with {dead.process.returncode}", dead)
        return stopped(supervisor, out, args.grace)
    except Failed as failure:
        print(f"\nmake ui: {failure}", file=out, flush=True)
        if failure.child is not None:
            print(f"--- last lines of {failure.child.log_path} ---\n{failure.child.log_tail()}\n---", file=out, flush=True)
        print("Stopping the others ...", file=out, flush=True)
        supervisor.stop(args.grace)
        return 1
    except BaseException:
        supervisor.stop(args.grace)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stopped(supervisor: Supervisor, out: IO[str], grace: float) -> int:
    print("\nStopping ...", file=out, flush=True)
    supervisor.stop(grace)
    print("Stopped.", file=out, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the api-server's port on 127.0.0.1 (default {DEFAULT_PORT}; a free one when busy)")
    parser.add_argument("--var", type=Path, default=demo.VAR, help="the demo's folder (default var/demo); set up by the demo when new")
    parser.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_S, help="seconds to wait for the api-server")
    parser.add_argument("--grace", type=float, default=GRACE_S, help="seconds between SIGTERM and SIGKILL when stopping")
    args = parser.parse_args(argv)
    try:
        return run(args, sys.stdout)
    except KeyboardInterrupt:  # Ctrl-C during the demo's set-up, before anything of ours runs
        print("\nInterrupted.", flush=True)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
