"""Errors of the Procore client: specific, readable, and never carrying a secret or a token.

Every error the client raises is a ProcoreError. `status` is Procore's HTTP status when one answer
settles it (a 4xx: retrying will not help, the DAG fails the task at once), or None when the cause
may pass (Procore unavailable, rate limited for longer than the client will wait): the task's own
retries may then try again later.
"""
from __future__ import annotations

from typing import Any


class ProcoreError(RuntimeError):
    """Procore answered with an error the client could not get past."""

    def __init__(
        self, status: int | None, message: str, *, method: str = "", path: str = "", project_id: int | None = None,
        body: Any = None,
    ):
        self.status = status
        self.method = method
        self.path = path
        self.project_id = project_id
        self.detail = message
        self.body = body  # Procore's parsed error body (e.g. a sync's per-item `details`), when there is one
        where = f" (project {project_id})" if project_id is not None else ""
        arrow = f" -> {status}" if status is not None else ""
        super().__init__(f"Procore {method} {path}{arrow}{where}: {message}")

    @property
    def retry_helps(self) -> bool:
        """Whether trying again may succeed: a 4xx is Procore's answer to this very request (bad
        credentials, no access, refused content) and comes back the same; anything else may pass."""
        return not (self.status is not None and 400 <= self.status < 500)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (Airflow may ship exceptions between processes)
        return (_rebuild, (type(self), self.status, self.detail, self.method, self.path, self.project_id))


def _rebuild(cls: type[ProcoreError], status: int | None, detail: str, method: str, path: str, project_id: int | None) -> ProcoreError:
    return cls(status, detail, method=method, path=path, project_id=project_id)


class ProcoreAuthError(ProcoreError):
    """401: the token endpoint refused the client id/secret, or a fresh token was refused too
    (wrong or revoked credentials, app uninstalled)."""


class ProcorePermissionError(ProcoreError):
    """403: missing permission, app not connected to the company, or a disabled tool."""


class ProcoreNotFoundError(ProcoreError):
    """404: the project or line does not exist (or is invisible to these credentials)."""


class ProcoreValidationError(ProcoreError):
    """422: Procore refused the content (duplicate budget code, locked budget, bad amount...)."""


class ProcoreUnavailableError(ProcoreError):
    """Transient failures (429, 5xx, dropped connections, timeouts) outlasted the client's bounded
    attempts, or Procore asked it to wait longer than it may (`max_wait_s`). status is None;
    `last_status` is the last answer's status (None for a connection error or timeout)."""

    def __init__(self, last_status: int | None, message: str, **kwargs: Any):
        super().__init__(None, message, **kwargs)
        self.last_status = last_status

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_unavailable, (type(self), self.last_status, self.detail, self.method, self.path, self.project_id))


def _rebuild_unavailable(cls: type[ProcoreUnavailableError], last_status: int | None, detail: str, method: str, path: str,
                         project_id: int | None) -> ProcoreUnavailableError:
    return cls(last_status, detail, method=method, path=path, project_id=project_id)


class ProcoreRateLimitError(ProcoreUnavailableError):
    """Procore's rate limit asked for a wait longer than `max_wait_s` (e.g. the hourly window is spent)."""


class AmbiguousWriteError(ProcoreError):
    """A non-idempotent write (a create) whose outcome is unknown: a 5xx, a dropped connection, a
    timeout or a lost response. It may or may not have been applied, so it is never repeated blindly:
    re-read Procore, then decide. status is the 5xx, or None when no answer came."""


class RetryableError(RuntimeError):
    """Internal: a transient failure (429, 5xx, connection, timeout), with how long Procore asked us to
    wait. The client retries it and, when attempts run out, raises ProcoreUnavailableError instead."""

    def __init__(self, message: str, retry_after: float | None = None, *, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
