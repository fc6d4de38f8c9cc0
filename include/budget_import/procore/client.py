"""A Procore REST client that behaves well against the real API's limits.

- OAuth client-credentials token: fetched, cached, renewed before expiry and once on a 401.
- `Procore-Company-Id` on every call; bounded (connect, read) timeouts on every call.
- 429 / 5xx / connection errors retried with exponential backoff (tenacity), honouring Retry-After
  and X-Rate-Limit-Reset, and slowing down before the limit when X-Rate-Limit-Remaining runs low.
- A write whose outcome is unknown raises AmbiguousWriteError instead of being blindly retried: the
  loader re-reads Procore and re-plans, so a retry can never duplicate a budget line.
- Amounts are parsed as Decimal and sent as exact decimal strings; no float anywhere.
- Logs name method, path and status only: never a secret or a token.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
import tenacity

from include.budget_import.procore.errors import (
    AmbiguousWriteError,
    ProcoreAuthError,
    ProcoreError,
    ProcoreNotFoundError,
    ProcorePermissionError,
    ProcoreValidationError,
    RetryableError,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = {500, 502, 503, 504}
TOKEN_RENEW_MARGIN_S = 60.0


@dataclass
class CallStats:
    """What the client did, for the run report and the benchmark."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_fetches: int = 0
    waited_for_limits_s: float = 0.0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "writes": self.writes,
            "calls": self.reads + self.writes,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "token_fetches": self.token_fetches,
            "waited_for_limits_s": round(self.waited_for_limits_s, 3),
        }


def _decimal_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode_json(body: Any) -> str:
    return json.dumps(body, default=_decimal_default, separators=(",", ":"))


def decode_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal) if text else None


def _error_message(response: requests.Response) -> str:
    try:
        body = decode_json(response.text)
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "errors", "error_description", "error"):
            if body.get(key):
                return str(body[key])[:500]
    return str(body)[:500]


class ProcoreClient:
    def __init__(
        self,
        *,
        session: requests.Session,
        api_base: str,
        login_url: str,
        client_id: str,
        client_secret: str,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_attempts: int = 8,
        max_wait_s: float = 120.0,
        low_remaining_fraction: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("Procore connection needs a client id (login) and client secret (password)")
        self._session = session
        self._api_base = api_base.rstrip("/")
        self._login_url = login_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._low_remaining_fraction = low_remaining_fraction
        self._sleep = sleep
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self.stats = CallStats()

    def __repr__(self) -> str:  # never show the secret, even in a traceback's locals
        return f"ProcoreClient(api_base={self._api_base!r}, client_id={self._client_id!r})"

    # --- auth -------------------------------------------------------------------------------
    def _fetch_token(self) -> None:
        self.stats.token_fetches += 1
        try:
            response = self._session.post(
                f"{self._login_url}/oauth/token",
                data={"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret},
                timeout=self._timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(f"token request failed: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code in RETRYABLE_STATUSES:
            raise RetryableError(f"token request answered {response.status_code}", self._retry_after(response))
        if response.status_code != 200:
            raise ProcoreAuthError(response.status_code, f"could not get an access token: {_error_message(response)}", method="POST", path="/oauth/token")
        body = decode_json(response.text)
        self._token = str(body["access_token"])
        created = float(body.get("created_at") or time.time())
        lifetime = float(body.get("expires_in") or 0)
        # Renew a minute early; use our clock if the server's creation time is in our future.
        self._token_expires_at = min(created, time.time()) + lifetime - TOKEN_RENEW_MARGIN_S

    def _bearer(self) -> str:
        if self._token is None or time.time() >= self._token_expires_at:
            self._retrying(self._fetch_token)
        assert self._token is not None
        return self._token

    # --- rate limits ------------------------------------------------------------------------
    def _retry_after(self, response: requests.Response) -> float | None:
        header = response.headers.get("Retry-After")
        if header:
            try:
                return max(0.0, float(header))
            except ValueError:
                pass
        reset = response.headers.get("X-Rate-Limit-Reset")
        if reset:
            try:
                return max(0.0, float(reset) - time.time())
            except ValueError:
                pass
        return None

    def _note_limits(self, response: requests.Response) -> None:
        try:
            self._limit = int(response.headers["X-Rate-Limit-Limit"])
            self._remaining = int(response.headers["X-Rate-Limit-Remaining"])
            self._reset_at = float(response.headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError):
            pass

    def _pace(self) -> None:
        """Spread the last requests of a window over the time left, instead of running into a 429."""
        if self._limit is None or self._remaining is None or self._reset_at is None:
            return
        floor = max(1, int(self._limit * self._low_remaining_fraction))
        if self._remaining > floor:
            return
        left = self._reset_at - time.time()
        if left <= 0:
            return
        wait = min(self._max_wait_s, left if self._remaining <= 0 else left / (self._remaining + 1))
        if wait > 0:
            self.stats.waited_for_limits_s += wait
            self._sleep(wait)

    # --- requests ---------------------------------------------------------------------------
    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(initial=0.5, max=30.0, jitter=0.5)(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        wait = min(self._max_wait_s, max(backoff, asked) if asked is not None else backoff)
        if asked is not None:
            self.stats.waited_for_limits_s += wait
        return wait

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("Procore call failed (%s); retry %d of %d", exc, state.attempt_number, self._max_attempts - 1)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(RetryableError),
            reraise=True,
            sleep=self._sleep,
            before_sleep=before_sleep,
        )
        return retrying(fn)

    def request(
        self,
        method: str,
        path: str,
        *,
        company_id: int,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
        project_id: int | None = None,
    ) -> requests.Response:
        """One API call with retries; non-idempotent writes raise AmbiguousWriteError when unsure."""
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE")
        renewed = False

        def once() -> requests.Response:
            nonlocal renewed
            self._pace()
            headers = {"Authorization": f"Bearer {self._bearer()}", "Procore-Company-Id": str(company_id), "Accept": "application/json"}
            data = None
            if body is not None:
                headers["Content-Type"] = "application/json"
                data = encode_json(body)
            if method == "GET":
                self.stats.reads += 1
            else:
                self.stats.writes += 1
            key = f"{method} {path.split('?')[0]}"
            self.stats.by_endpoint[key] = self.stats.by_endpoint.get(key, 0) + 1
            try:
                response = self._session.request(method, f"{self._api_base}{path}", params=params, data=data, headers=headers, timeout=self._timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if idempotent:
                    raise RetryableError(f"{method} {path}: {type(exc).__name__}") from None
                raise AmbiguousWriteError(f"{method} {path}: {type(exc).__name__}; outcome unknown") from None
            self._note_limits(response)
            status = response.status_code
            log.debug("Procore %s %s -> %s", method, path, status)
            if status == 401 and not renewed:
                renewed = True
                self._token = None
                return once()
            if status == 429:
                self.stats.rate_limited += 1
                raise RetryableError(f"{method} {path}: 429 rate limited", self._retry_after(response))
            if status in RETRYABLE_STATUSES:
                if idempotent:
                    raise RetryableError(f"{method} {path}: {status}", self._retry_after(response))
                raise AmbiguousWriteError(f"{method} {path}: {status}; outcome unknown")
            if status >= 400:
                message = _error_message(response)
                kind = {401: ProcoreAuthError, 403: ProcorePermissionError, 404: ProcoreNotFoundError, 422: ProcoreValidationError}.get(status, ProcoreError)
                raise kind(status, message, method=method, path=path, project_id=project_id)
            return response

        return self._retrying(once)

    def get_json(self, path: str, *, company_id: int, params: dict[str, Any] | None = None, project_id: int | None = None) -> Any:
        return decode_json(self.request("GET", path, company_id=company_id, params=params, project_id=project_id).text)

    def paged(
        self, path: str, *, company_id: int, params: dict[str, Any] | None = None, per_page: int = 1000, project_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (v1 arrays and v2 {"data": [...]}), following Link rel=next."""
        page = 1
        while True:
            query = {**(params or {}), "page": page, "per_page": per_page}
            response = self.request("GET", path, company_id=company_id, params=query, project_id=project_id)
            body = decode_json(response.text)
            items = body.get("data", []) if isinstance(body, dict) else (body or [])
            yield from items
            if "next" in response.links:
                page += 1
                continue
            total = response.headers.get("Total")
            if total is None and len(items) == per_page:
                page += 1
                continue
            return

    def send_json(
        self, method: str, path: str, *, company_id: int, body: Any, params: dict[str, Any] | None = None,
        idempotent: bool | None = None, project_id: int | None = None,
    ) -> Any:
        response = self.request(method, path, company_id=company_id, params=params, body=body, idempotent=idempotent, project_id=project_id)
        return decode_json(response.text)
