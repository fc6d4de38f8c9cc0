"""Errors of the Procore client: specific, readable, and never carrying a secret or a token."""
from __future__ import annotations


class ProcoreError(RuntimeError):
    """Procore answered with an error that retrying will not fix."""

    def __init__(self, status: int | None, message: str, *, method: str = "", path: str = "", project_id: int | None = None):
        self.status = status
        self.method = method
        self.path = path
        self.project_id = project_id
        where = f" (project {project_id})" if project_id is not None else ""
        super().__init__(f"Procore {method} {path} -> {status}{where}: {message}")
        self.detail = message


class ProcoreAuthError(ProcoreError):
    """401 after a fresh token: the client id/secret are wrong or revoked."""


class ProcorePermissionError(ProcoreError):
    """403: missing permission, app not connected to the company, or a disabled tool."""


class ProcoreNotFoundError(ProcoreError):
    """404: the project or line does not exist (or is invisible to these credentials)."""


class ProcoreValidationError(ProcoreError):
    """422: Procore refused the content (duplicate budget code, locked budget, bad amount...)."""


class RetryableError(RuntimeError):
    """A transient failure (429, 5xx, connection, timeout); carries how long Procore asked us to wait."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class AmbiguousWriteError(RuntimeError):
    """A write whose outcome is unknown (timeout, dropped connection, 5xx): re-read before retrying."""
