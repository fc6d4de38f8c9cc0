"""Run the emulator in a subprocess for tests and the demo: `with EmulatorServer(db, fixture) as emu: emu.base_url`.

A subprocess (not a thread) so the client under test talks to it over real HTTP and a dropped
connection or a restart behaves as it would against a remote server.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorServer:
    """Start/stop `python -m standins.procore_emulator` on 127.0.0.1.

    `reset=True` re-seeds the db from the fixture at the first start; `restart()` never re-seeds,
    so state on disk carries over. `extra_args` are passed to the CLI (e.g. ["--token-ttl", "1"]).
    `contract` is the contract check's mode ("check" or "off").

    Every started server is in a registry (`EmulatorServer.running()`), so a test harness can ask each
    one for contract violations (`new_violations()`); a server that stops keeps the violations it had
    not reported yet, and `EmulatorServer.unreported()` lists those too.
    """

    _registry: ClassVar[list[EmulatorServer]] = []
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, db_path: str | Path, fixture_path: str | Path | None, port: int = 0, *,
                 reset: bool = True, extra_args: Sequence[str] = (), log_path: str | Path | None = None,
                 startup_timeout: float = 30.0, contract: str = "check") -> None:
        self.db_path = Path(db_path)
        self.fixture_path = Path(fixture_path) if fixture_path is not None else None
        self.requested_port = port
        self.port = port
        self.reset = reset
        self.extra_args = list(extra_args)
        self.log_path = Path(log_path) if log_path else self.db_path.with_name(self.db_path.name + ".log")
        self.startup_timeout = startup_timeout
        self.contract = contract
        self.process: subprocess.Popen[bytes] | None = None
        self._seen_seq = 0  # violations up to this seq have been handed out by new_violations()
        self._stashed: list[dict[str, Any]] = []  # violations fetched at stop, not handed out yet

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self, reset: bool) -> list[str]:
        cmd = [sys.executable, "-m", "standins.procore_emulator", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", str(self.db_path)]
        if self.fixture_path is not None:
            cmd += ["--fixture", str(self.fixture_path)]
        if reset:
            cmd.append("--reset")
        return cmd + ["--contract", self.contract] + self.extra_args

    def start(self, reset: bool | None = None) -> EmulatorServer:
        if self.process is not None:
            raise RuntimeError("emulator already running")
        reset = self.reset if reset is None else reset
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            if self.requested_port == 0:
                self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(self._command(reset), cwd=REPO_ROOT, env=env, stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_ready():
                self._seen_seq = 0  # a new process numbers its violations from 1
                with self._registry_lock:
                    if self not in self._registry:
                        self._registry.append(self)
                return self
            code = self.process.wait()
            self.process = None
            if self.requested_port != 0 or "address already in use" not in self.log_tail().lower() or attempt == 4:
                raise RuntimeError(f"emulator exited with {code} while starting:\n{self.log_tail()}")
        raise AssertionError("unreachable")

    def _wait_ready(self) -> bool:
        """True once /_emulator/health answers; False if the process died first."""
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.base_url}/_emulator/health", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"emulator did not answer within {self.startup_timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ---- contract violations -----------------------------------------------------------------------

    @classmethod
    def running(cls) -> list[EmulatorServer]:
        """The servers this process started that are running now."""
        with cls._registry_lock:
            return [s for s in cls._registry if s.process is not None and s.process.poll() is None]

    @classmethod
    def unreported(cls) -> list[EmulatorServer]:
        """Running servers plus stopped ones that still hold violations nobody asked for."""
        with cls._registry_lock:
            cls._registry[:] = [s for s in cls._registry
                                if s._stashed or (s.process is not None and s.process.poll() is None)]
            return list(cls._registry)

    def contract_report(self, since: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        """`GET /_emulator/contract?since=`: mode, calls checked, violations after `since`."""
        url = f"{self.base_url}/_emulator/contract?since={since}"
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return json.loads(answer.read())

    def new_violations(self) -> list[dict[str, Any]]:
        """The violations recorded since the last call (including those kept when the server stopped)."""
        found, self._stashed = self._stashed, []
        if self.process is not None and self.process.poll() is None:
            found += self._fetch_new()
        return found

    def _fetch_new(self) -> list[dict[str, Any]]:
        violations = self.contract_report(self._seen_seq)["violations"]
        if violations:
            self._seen_seq = max(v["seq"] for v in violations)
        return violations

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate, then kill if it has not exited within `timeout` seconds.

        Violations not reported yet are fetched first and kept for `new_violations()`."""
        if self.process is not None and self.process.poll() is None:
            try:
                self._stashed += self._fetch_new()
            except (urllib.error.URLError, OSError, ValueError):
                pass
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def restart(self) -> EmulatorServer:
        """Stop and start again on the same port without re-seeding (state must come back from disk)."""
        self.stop()
        self.requested_port = self.port
        return self.start(reset=False)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
