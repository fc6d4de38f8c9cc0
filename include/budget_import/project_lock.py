"""One writer per Procore project: the nightly and the manual DAG never write the same budget at once.

An exclusive `flock` on a file per job under the reports root (the folder every worker already shares
for the run files). A second writer waits for the first, up to `timeout_s`, then fails clearly.
Runs for different projects never wait on each other.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.budget_import.artifacts import job_key, reports_root
from include.budget_import.settings import lock_timeout_s

log = logging.getLogger(__name__)


class ProjectBusyError(RuntimeError):
    """Another run held the job's lock for longer than the timeout."""


@dataclass
class LockHold:
    path: Path
    waited_s: float = 0.0
    acquired_at: float = 0.0
    released_at: float = 0.0


@contextmanager
def project_lock(company_code: str, job_number: str, owner: str, timeout_s: float | None = None, root: Path | None = None,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[LockHold]:
    """Hold the job's lock. `on_wait(holder)` is called once, when the lock is found held by another run
    (the log says whom this run waits for; tests use it to order events without timing)."""
    timeout_s = lock_timeout_s() if timeout_s is None else timeout_s
    path = (root or reports_root()) / "locks" / f"{job_key(company_code, job_number)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    waited = False
    with open(path, "a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    waited = True
                    handle.seek(0)
                    holder = handle.read().strip() or "another run"
                    log.info("job %s/%s is being written by %s: waiting (up to %.0f s)", company_code, job_number, holder, timeout_s)
                    if on_wait is not None:
                        on_wait(holder)
                if time.monotonic() - started > timeout_s:
                    handle.seek(0)
                    holder = handle.read().strip() or "another run"
                    raise ProjectBusyError(f"job {company_code}/{job_number} is being written by {holder}; waited {timeout_s:.0f} s") from None
                time.sleep(0.5)
        hold = LockHold(path=path, waited_s=time.monotonic() - started, acquired_at=time.time())
        handle.seek(0)
        handle.truncate()
        handle.write(f"{owner} (pid {os.getpid()})\n")
        handle.flush()
        try:
            yield hold
        finally:
            hold.released_at = time.time()
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
