"""API errors raised by handlers and rendered as Procore's documented error body, `{"errors": ...}`."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error answer; `body` is sent as JSON exactly as given."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(text: str) -> ApiError:
    """400 in the Grape style (`{"errors": "project_id is missing"}`) that Procore's v1 API uses."""
    return ApiError(400, {"errors": text})


def unauthorized(text: str) -> ApiError:
    return ApiError(401, {"errors": text}, {"WWW-Authenticate": 'Bearer realm="Procore API"'})


def forbidden(text: str) -> ApiError:
    return ApiError(403, {"errors": text})


def not_found(text: str = "Resource not found") -> ApiError:
    return ApiError(404, {"errors": text})


def unprocessable(text: str, **extra: Any) -> ApiError:
    """422 whose `errors` is the plain text clients match on (e.g. the locked-budget text)."""
    return ApiError(422, {"errors": text, **extra})
