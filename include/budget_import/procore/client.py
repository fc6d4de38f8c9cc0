"""A Procore REST client that behaves well against the real API's limits.

- OAuth client-credentials token: fetched once, cached, renewed shortly before it expires and once
  on a 401 (then a clear ProcoreAuthError); with a `shared_token` (shared_token.py), taken from and
  given to the other tasks of the deployment while it lives.
- `Procore-Company-Id` on every call; bounded (connect, read) timeouts on every call.
- 429 / 5xx / connection errors / timeouts retried a bounded number of times with exponential
  backoff and jitter (tenacity), honouring Retry-After (and, on a 429, X-Rate-Limit-Reset); a wait
  longer than `max_wait_s` fails at once rather than retrying early.
- Pacing: every answer's X-Rate-Limit-Limit/Remaining/Reset is remembered per window (Procore has an
  hourly and a 10-second spike window); when a window runs low the client spreads its remaining calls
  over the time left, and when one is spent it waits for the reset instead of collecting 429s
  (failed requests count against Procore's limit too).
- A non-idempotent write (a create) whose outcome is unknown raises AmbiguousWriteError instead of
  being retried: the loader re-reads Procore and re-plans, so a retry can never duplicate a line.
  A 429 (never processed) or a connection that was never made is retried as usual.
- Amounts are parsed as Decimal and sent as exact JSON numbers (jsonbody), as the spec types them; no float anywhere.
- Logs name method, path, status and timings only: never a secret, a token or a header.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import requests
import tenacity
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from include.budget_import.procore.errors import (
    AmbiguousWriteError,
    ProcoreAuthError,
    ProcoreError,
    ProcoreNotFoundError,
    ProcorePermissionError,
    ProcoreRateLimitError,
    ProcoreUnavailableError,
    ProcoreValidationError,
    RetryableError,
)
from include.budget_import.procore.jsonbody import decode_json, encode_json

log = logging.getLogger(__name__)
_T = TypeVar("_T")

RETRYABLE_STATUSES = {500, 502, 503, 504}
TOKEN_RENEW_MARGIN_S = 60.0  # renew this long before expiry (at most a tenth of the token's lifetime)
PACE_MARGIN_S = 0.05  # after a spent window's reset time, so the next call lands in the new window
USER_AGENT = "spectrum-procore-budget/1"  # names our calls in Procore's logs (and in the emulator's contract check)
TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError)
STATUS_ERRORS: dict[int, type[ProcoreError]] = {
    401: ProcoreAuthError, 403: ProcorePermissionError, 404: ProcoreNotFoundError, 422: ProcoreValidationError,
}


@dataclass
class CallStats:
    """What the client did, for the run report and the benchmark."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_fetches: int = 0
    tokens_shared: int = 0  # tokens another task fetched, taken from the shared store instead of asking Procore
    paced: int = 0
    waited_for_limits_s: float = 0.0
    backoff_s: float = 0.0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "writes": self.writes,
            "calls": self.reads + self.writes,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "token_fetches": self.token_fetches,
            "tokens_shared": self.tokens_shared,
            "paced": self.paced,
            "waited_for_limits_s": round(self.waited_for_limits_s, 3),
            "backoff_s": round(self.backoff_s, 3),
        }


class Reservation(Protocol):
    @property
    def wait_s(self) -> float: ...
    @property
    def granted(self) -> bool: ...


class RateBudget(Protocol):
    """A request budget shared with other processes (rate_budget.SharedRateBudget): `reserve` takes the next
    slot and says how long to wait for it, or refuses a slot further than `max_wait_s` away."""

    def reserve(self, max_wait_s: float) -> Reservation: ...


class TokenStore(Protocol):
    """A token shared with other processes (shared_token.SharedToken): `get` the stored one while it is good,
    `put` a freshly fetched one, `discard` one Procore refused."""

    def get(self) -> tuple[str, float] | None: ...
    def put(self, token: str, expires_at: float) -> None: ...
    def discard(self, token: str) -> None: ...


@dataclass
class RateWindow:
    """One of Procore's rate-limit windows as last seen (or, between sightings, counted down locally)."""

    limit: int
    remaining: int
    reset_at: float  # unix seconds


def _body(response: requests.Response) -> Any:
    try:
        return decode_json(response.text)
    except ValueError:
        return None


def _error_message(response: requests.Response) -> str:
    body = _body(response)
    if body is None:
        return response.text[:300] or response.reason or ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):  # {"error": {code, message, details}}
            return str(error["message"])[:500]
        for key in ("errors", "message", "error_description", "error"):
            if body.get(key):
                return str(body[key])[:500]
    return str(body)[:500]


def _endpoint(path: str) -> str:
    """A path with its ids as {id}, so stats count endpoints, not lines."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("?")[0].split("/"))


def _never_sent(exc: BaseException) -> bool:
    """True when the request certainly never reached Procore (no connection was made), so even a
    non-idempotent write may be retried."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


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
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rate_budget: RateBudget | None = None,
        shared_token: TokenStore | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("Procore connection needs a client id (login) and client secret (password)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._session = session
        self._api_base = api_base.rstrip("/")
        self._login_url = login_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._low_remaining_fraction = low_remaining_fraction
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rate_budget = rate_budget  # the budget every worker shares (None: pace from the headers only)
        self._shared_token = shared_token  # the token every task shares (None: this client's own only)
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._must_fetch = False  # after a 401: the next token comes from Procore, not from the shared store
        self._windows: dict[int, RateWindow] = {}
        self.stats = CallStats()

    def __repr__(self) -> str:  # never show the secret, even in a traceback's locals
        return f"ProcoreClient(api_base={self._api_base!r}, client_id={self._client_id!r})"

    # --- auth -------------------------------------------------------------------------------
    def _fetch_token(self) -> None:
        self._pace("POST", "/oauth/token", None)
        self.stats.token_fetches += 1
        asked_at = time.time()
        try:
            response = self._session.post(
                f"{self._login_url}/oauth/token",
                data={"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret},
                headers={"User-Agent": USER_AGENT}, timeout=self._timeout, stream=False,
            )
        except TRANSPORT_ERRORS as exc:
            self._count_unseen()
            raise RetryableError(f"POST /oauth/token: {type(exc).__name__}") from None
        self._note_limits(response)
        status = response.status_code
        log.debug("Procore POST /oauth/token -> %s", status)
        if status == 429 or status in RETRYABLE_STATUSES:
            if status == 429:
                self.stats.rate_limited += 1
            raise self._transient(response, status, "POST", "/oauth/token", None)
        body = _body(response) if status == 200 else None
        if not isinstance(body, dict) or not body.get("access_token"):
            detail = _error_message(response) if status != 200 else "the answer carried no access token"
            raise ProcoreAuthError(status, f"could not get an access token for client id {self._client_id!r}: {detail}",
                                   method="POST", path="/oauth/token")
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 0)
        # Our own clock from when we asked (the server's created_at may be rounded or skewed), renewed
        # a minute early, or a tenth of the lifetime early for short-lived tokens.
        self._token_expires_at = asked_at + lifetime - min(TOKEN_RENEW_MARGIN_S, lifetime / 10)

    def _bearer(self) -> str:
        if self._token is None or time.time() >= self._token_expires_at:
            stored = self._shared_token.get() if self._shared_token is not None and not self._must_fetch else None
            if stored is not None:
                self._token, self._token_expires_at = stored
                self.stats.tokens_shared += 1
            else:
                self._retrying(self._fetch_token, "POST", "/oauth/token", None)
                self._must_fetch = False
                if self._shared_token is not None and self._token is not None:
                    self._shared_token.put(self._token, self._token_expires_at)
        assert self._token is not None
        return self._token

    def _refused(self, token: str) -> None:
        """Procore answered 401 to `token`: forget it here and in the shared store, and fetch the next one."""
        self._token = None
        self._must_fetch = True
        if self._shared_token is not None:
            self._shared_token.discard(token)

    # --- rate limits ------------------------------------------------------------------------
    def _retry_after(self, response: requests.Response, status: int) -> float | None:
        """How long Procore asked us to wait: Retry-After, or on a 429 the limit window's reset time.
        (X-Rate-Limit-Reset is on every answer, but it says nothing about when a 5xx will heal.)"""
        header = response.headers.get("Retry-After")
        if header:
            try:
                return max(0.0, float(header))
            except ValueError:
                try:  # the other form RFC 9110 allows: an HTTP date
                    return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
                except (TypeError, ValueError):
                    pass
        reset = response.headers.get("X-Rate-Limit-Reset")
        if status == 429 and reset:
            try:
                return max(0.0, float(reset) - time.time())
            except ValueError:
                pass
        return None

    def _transient(self, response: requests.Response, status: int, method: str, path: str, project_id: int | None) -> Exception:
        """The error for a 429/5xx worth retrying, or a clear failure when Procore asks for a wait longer
        than `max_wait_s` (retrying sooner would only collect more 429s, which count against the limit)."""
        asked = self._retry_after(response, status)
        if asked is not None and asked > self._max_wait_s:
            kind = ProcoreRateLimitError if status == 429 else ProcoreUnavailableError
            return kind(status, f"{status}: Procore asks to wait {asked:.0f} s, longer than this client waits "
                                f"(max_wait_s={self._max_wait_s:g}); try again later",
                        method=method, path=path, project_id=project_id)
        return RetryableError(f"{method} {path}: {status} {_error_message(response)}", asked, status=status)

    def _note_limits(self, response: requests.Response) -> None:
        """Remember the window this answer describes; every other known window lost one call too."""
        now = time.time()
        try:
            seen = RateWindow(int(response.headers["X-Rate-Limit-Limit"]), int(response.headers["X-Rate-Limit-Remaining"]),
                              float(response.headers["X-Rate-Limit-Reset"]))
        except (KeyError, ValueError):
            self._count_unseen()
            return
        self._count_unseen(skip=seen.limit)
        self._windows[seen.limit] = seen
        self._windows = {k: w for k, w in self._windows.items() if w.reset_at > now}

    def _count_unseen(self, skip: int | None = None) -> None:
        """A call Procore counted but whose answer did not describe the window (or no answer came)."""
        for limit, window in self._windows.items():
            if limit != skip:
                window.remaining = max(0, window.remaining - 1)

    def _pace(self, method: str, path: str, project_id: int | None) -> None:
        """Before a call: when a window is spent, wait for its reset; when it runs low (at most
        `low_remaining_fraction` of its limit left), spread the calls left over the time left. A spent
        window that resets later than `max_wait_s` fails the call without sending it."""
        now = time.time()
        wait = 0.0
        for window in list(self._windows.values()):
            left = window.reset_at - now
            if left <= 0:
                continue
            low = max(1, math.ceil(window.limit * self._low_remaining_fraction))
            if window.remaining <= 0:
                if left > self._max_wait_s:
                    raise ProcoreRateLimitError(
                        None, f"Procore's rate limit ({window.limit} calls) is spent until it resets in {left:.0f} s, "
                              f"longer than this client waits (max_wait_s={self._max_wait_s:g}); try again later",
                        method=method, path=path, project_id=project_id)
                wait = max(wait, left + PACE_MARGIN_S)
            elif window.remaining <= low:
                wait = max(wait, left / (window.remaining + 1))
        wait = min(wait, self._max_wait_s)
        if wait > 0:
            log.debug("Procore rate limit running low: pausing %.2f s", wait)
            self.stats.paced += 1
            self.stats.waited_for_limits_s += wait
            self._sleep(wait)
        if self._rate_budget is not None:  # then the slot every worker's calls share, right before sending
            slot = self._rate_budget.reserve(self._max_wait_s)
            if not slot.granted:
                raise ProcoreRateLimitError(
                    None, f"the shared Procore request budget (PROCORE_RATE_LIMITS) has no slot for {slot.wait_s:.0f} s, "
                          f"longer than this client waits (max_wait_s={self._max_wait_s:g}); try again later",
                    method=method, path=path, project_id=project_id)
            if slot.wait_s > 0:
                log.debug("shared Procore request budget: waiting %.2f s for a slot", slot.wait_s)
                self.stats.paced += 1
                self.stats.waited_for_limits_s += slot.wait_s
                self._sleep(slot.wait_s)

    # --- retries ----------------------------------------------------------------------------
    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(multiplier=self._backoff_initial_s, max=self._backoff_max_s,
                                                   jitter=self._backoff_initial_s)(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        if asked is None:
            wait = min(self._max_wait_s, backoff)
            self.stats.backoff_s += wait
        else:
            wait = max(backoff, asked)  # request() refuses to retry when asked > max_wait_s
            self.stats.waited_for_limits_s += wait
        return wait

    def _retrying(self, fn: Callable[[], _T], method: str, path: str, project_id: int | None) -> _T:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("Procore call failed (%s); retry %d of %d in %.2f s", exc, state.attempt_number,
                        self._max_attempts - 1, state.next_action.sleep if state.next_action else 0.0)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(RetryableError),
            reraise=True,
            sleep=self._sleep,
            before_sleep=before_sleep,
        )
        try:
            return retrying(fn)
        except RetryableError as exc:
            raise ProcoreUnavailableError(
                exc.status, f"no usable answer after {self._max_attempts} attempts; last: {exc}",
                method=method, path=path, project_id=project_id,
            ) from None

    # --- requests ---------------------------------------------------------------------------
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
        """One API call with bounded retries; a non-idempotent write raises AmbiguousWriteError when
        its outcome is unknown, and every other failure a ProcoreError naming the project."""
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE")
        renewed = False
        key = f"{method} {_endpoint(path)}"
        data = encode_json(body) if body is not None else None

        def once() -> requests.Response:
            nonlocal renewed
            try:
                token = self._bearer()
            except ProcoreError as exc:  # name the project the call was for
                raise type(exc)(exc.status if not isinstance(exc, ProcoreUnavailableError) else exc.last_status, exc.detail,
                                method=exc.method, path=exc.path, project_id=project_id) from None
            self._pace(method, path, project_id)
            headers = {"Authorization": f"Bearer {token}", "Procore-Company-Id": str(company_id), "Accept": "application/json",
                       "User-Agent": USER_AGENT}
            if data is not None:
                headers["Content-Type"] = "application/json"
            if method == "GET":
                self.stats.reads += 1
            else:
                self.stats.writes += 1
            self.stats.by_endpoint[key] = self.stats.by_endpoint.get(key, 0) + 1
            started = time.monotonic()
            try:
                response = self._session.request(method, f"{self._api_base}{path}", params=params, data=data, headers=headers,
                                                 timeout=self._timeout, stream=False)
            except TRANSPORT_ERRORS as exc:
                self._count_unseen()
                what = type(exc).__name__
                log.debug("Procore %s %s -> %s after %.3f s", method, path, what, time.monotonic() - started)
                if idempotent or _never_sent(exc):
                    raise RetryableError(f"{method} {path}: {what}") from None
                raise AmbiguousWriteError(None, f"{what}; the write may or may not have been applied",
                                          method=method, path=path, project_id=project_id) from None
            self._note_limits(response)
            status = response.status_code
            log.debug("Procore %s %s -> %s in %.3f s", method, path, status, time.monotonic() - started)
            if status == 401 and not renewed:
                renewed = True
                self._refused(token)
                return once()
            if status == 429 or status in RETRYABLE_STATUSES:
                if status == 429:  # refused before processing: safe to repeat, even a create
                    self.stats.rate_limited += 1
                elif not idempotent:
                    raise AmbiguousWriteError(status, f"{_error_message(response)}; the write may or may not have been applied",
                                              method=method, path=path, project_id=project_id)
                raise self._transient(response, status, method, path, project_id)
            if status >= 400:
                message = _error_message(response)
                if status == 401:
                    message += "; a freshly renewed token was refused too: check the app's credentials and its installation in the company"
                raise STATUS_ERRORS.get(status, ProcoreError)(status, message, method=method, path=path,
                                                             project_id=project_id, body=_body(response))
            return response

        return self._retrying(once, method, path, project_id)

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
            if not items:  # an empty page ends the list, whatever its links say
                return
            if "next" in response.links:
                page += 1
                continue
            total = response.headers.get("Total")
            if total is None and items and len(items) == per_page:
                page += 1
                continue
            return

    def send_json(
        self, method: str, path: str, *, company_id: int, body: Any, params: dict[str, Any] | None = None,
        idempotent: bool | None = None, project_id: int | None = None,
    ) -> Any:
        response = self.request(method, path, company_id=company_id, params=params, body=body, idempotent=idempotent, project_id=project_id)
        return decode_json(response.text)
