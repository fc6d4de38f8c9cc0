"""`make ui` (scripts/ui.py) on a fresh folder: it runs the demo's set-up, starts the emulator and Airflow's
api-server, scheduler, dag-processor and triggerer on 127.0.0.1 only, prints a URL and a login that work,
and Ctrl-C stops every process it started."""
from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import psutil
import pytest
import requests

from scripts.local_airflow import ROOT
from scripts.ui import free_port

pytestmark = pytest.mark.e2e

STARTUP_S = 600  # an upper bound, not a race: a fresh folder runs the demo (about 30 s here), then Airflow's four processes
STOP_S = 120  # the script stops in two rounds, each with a 20 s grace before SIGKILL
DAGS = {"spectrum_budget_import", "spectrum_budget_nightly", "spectrum_budget_restore"}


class Output:
    """The script's stdout, read line by line on a thread (its output is line-buffered: flush=True)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.text()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the script ended before printing {pattern!r}:\n{self.text()}")
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match

    def text(self) -> str:
        return "".join(self.seen)[-6000:]


def listening(processes: list[psutil.Process]) -> list[tuple[str, int, str]]:
    found = []
    for proc in processes:
        try:
            connections = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        found += [(c.laddr.ip, c.laddr.port, proc.name()) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_make_ui_serves_the_demo_on_localhost_and_ctrl_c_stops_everything(tmp_path: Path):
    var = tmp_path / "var"
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "scripts.ui", "--var", str(var), "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    output = Output(process)
    children: list[psutil.Process] = []
    try:
        url = output.wait_for(r"^Airflow UI:\s+(http://\S+)/$", STARTUP_S).group(1)
        budgets = output.wait_for(r"^Spectrum Budgets:\s+(http://\S+)$", 5).group(1)
        user, password = output.wait_for(r"^Login:\s+user (\S+), password (\S+)", 5).groups()
        output.wait_for(r"^Stop:\s+Ctrl-C", 5)
        assert url == f"http://127.0.0.1:{port}" and budgets == f"{url}/spectrum-budgets/"
        assert (var / "airflow" / "airflow.db").exists() and list((var / "budget_reports" / "runs").iterdir()), "the demo's set-up ran in our folder"
        print(f"ready after {time.monotonic() - started:.0f} s")

        token = requests.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
        assert token.status_code == 201, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        dags = requests.get(f"{url}/api/v2/dags", headers=bearer, timeout=30)
        assert dags.status_code == 200, dags.text
        by_id = {d["dag_id"]: d for d in dags.json()["dags"]}
        assert set(by_id) >= DAGS
        assert by_id["spectrum_budget_nightly"]["is_paused"] and not by_id["spectrum_budget_import"]["is_paused"]
        page = requests.get(budgets, headers=bearer, timeout=30)
        assert page.status_code == 200, page.text[:500]
        assert "01/19.50" in page.text, "the demo's runs show in the pages"
        assert requests.get(budgets, timeout=30, allow_redirects=False).status_code in (401, 303), "not without the login"

        children = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for part in ("api[-_]server", "scheduler", "dag-processor", "triggerer", "standins.procore_emulator"):  # the api-server retitles itself
            assert re.search(part, names), f"{part} is not running: {names}"
        sockets = listening(children)
        assert (("127.0.0.1", port) in {(ip, p) for ip, p, _ in sockets}), sockets
        assert all(ip == "127.0.0.1" for ip, _, _ in sockets), f"listening beyond 127.0.0.1: {sockets}"
    except BaseException:
        if not children:
            children = psutil.Process(process.pid).children(recursive=True) if process.poll() is None else []
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            code = None
        left = [c for c in children if alive(c)]
        for proc in left:  # never leave them behind, whatever failed
            with suppress(psutil.NoSuchProcess):
                proc.kill()
        if code is None:
            process.kill()
    assert code == 0, f"exit {code}:\n{output.text()}"
    output.wait_for(r"^Stopped\.", 5)
    assert not left, f"left running: {[(p.pid, p.name()) for p in left]}"
