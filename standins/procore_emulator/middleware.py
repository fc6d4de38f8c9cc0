"""The outermost ASGI layer for /rest and /oauth: request log, rate limits, fault injection, contract check.

It sits outside FastAPI so that it sees every request first (401s and 404s count against the
limit too) and can drop a connection: uvicorn's `send` is a bound method of its per-request cycle,
whose `transport` we abort so the client sees a connection error rather than any HTTP status.

The contract check (`contract.py`) runs here too: a request that breaks Procore's spec is refused
with 400 before the app sees it, and every answer the app gives is checked against the spec
(the answer is sent all the same); both kinds of mismatch are recorded as violations.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import http
import json
import time
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import contract
from .emulator import Emulator
from .jsonio import dumps, loads
from .ratelimit import LIMIT_MESSAGE

NOT_JSON = object()

class ConnectionDropped(Exception):
    """Raised when no transport can be found to abort (not under uvicorn): the server answers nothing."""


class ClientGone(Exception):
    """The client disconnected before its request's body had arrived (a killed task mid-upload): there is
    no request to check or act on, as a real server gets no complete request either."""


def is_api_path(path: str) -> bool:
    return path.startswith(("/rest/", "/oauth/"))


async def read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the already-read body to the app, then defers to the real one."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


def oauth_client_id(headers: Headers, body: bytes) -> str | None:
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(encoded.strip()).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
    if "json" in headers.get("content-type", ""):
        try:
            data = json.loads(body or b"{}")
            return data.get("client_id") if isinstance(data, dict) else None
        except ValueError:
            return None
    values = parse_qs(body.decode("utf-8", "replace")).get("client_id")
    return values[0] if values else None


async def drop_connection(send: Send) -> None:
    """Abort the TCP connection without writing a byte (uvicorn's h11 and httptools cycles both work)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise ConnectionDropped("no transport to abort")
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True  # stop uvicorn from writing its own 500 afterwards
    transport.abort()
    await asyncio.sleep(0)


def first_values(query_string: bytes) -> dict[str, str]:
    """The query as the contract sees it: the first value of every key."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        out.setdefault(key, value)
    return out


def json_of(raw: bytes) -> Any:
    """A JSON body as the app reads it (Decimals, no floats); None when empty, NOT_JSON when unreadable."""
    if not raw.strip():
        return None
    try:
        return loads(raw)
    except ValueError:
        return NOT_JSON


def oauth_fields(headers: Headers, raw: bytes, query: dict[str, str]) -> dict[str, Any]:
    """The token request's fields as the token endpoint reads them: the form (or JSON) plus the query."""
    if "json" in headers.get("content-type", ""):
        data = json_of(raw)
        fields: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    else:
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    for key, value in query.items():
        fields.setdefault(key, value)
    return fields


def refusal(path: str, body: Any, problems: list[str]) -> dict[str, Any]:
    """The 400 body for a request that breaks the contract: Doorkeeper's form on /oauth, Procore's elsewhere."""
    text = "; ".join(problems)
    if path.startswith("/oauth/"):
        grant = body.get("grant_type") if isinstance(body, dict) else None
        error = "unsupported_grant_type" if grant not in (None, "", "client_credentials") else "invalid_request"
        return {"error": error, "error_description": text}
    return {"errors": text}


async def respond(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    payload = dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class EmulatorMiddleware:
    """Wraps the FastAPI app; /_emulator and other paths pass straight through."""

    def __init__(self, app: ASGIApp, emu: Emulator) -> None:
        self.app = app
        self.emu = emu

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        emu = self.emu
        started = time.time()
        method, path = scope["method"], scope["path"]
        entry = emu.log.start(method, path, scope.get("query_string", b"").decode("latin-1"), started)
        headers = Headers(scope=scope)
        try:
            await self._handle(scope, receive, send, entry, headers)
        except ClientGone:
            entry["status"] = None
            entry["fault"] = "client_gone"
        finally:
            entry["duration_ms"] = round((time.time() - started) * 1000, 3)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, entry: dict[str, Any], headers: Headers) -> None:
        emu = self.emu
        method, path = scope["method"], scope["path"]
        if path == "/oauth/token":
            body = await read_body(receive)
            receive = replay(body, receive)
            client_id = oauth_client_id(headers, body)
        else:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            client = emu.tokens.client_for(token.strip()) if scheme.lower() == "bearer" else None
            client_id = client.client_id if client else None
        entry["client_id"] = client_id
        decision = emu.limiter.hit(client_id or "anonymous")
        extra = dict(decision.headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                message = {**message, "headers": list(message.get("headers", [])) +
                           [(k.lower().encode(), v.encode()) for k, v in extra.items()]}
            await send(message)

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]

        checker = emu.contract
        user_agent = headers.get("user-agent", "")

        async def serve(out: Send, check_answer: bool) -> None:
            """Check the request against the contract, then let the app answer it (and check the answer)."""
            nonlocal receive
            if not checker.enabled:
                await self.app(scope, receive, out)
                return
            raw = await read_body(receive)
            receive = replay(raw, receive)
            query = first_values(scope.get("query_string", b""))
            body = oauth_fields(headers, raw, query) if path == "/oauth/token" else json_of(raw)
            documented = contract.operation_name(method, path) is not None
            if body is NOT_JSON:
                problems = [f"{method} {path}: the body is not valid JSON"]
            else:
                problems = contract.request_problems(method, path, query, body)
            checker.counted()
            if problems and documented:
                checker.record("request", method, path, 400, user_agent, problems)
                await respond(out, 400, refusal(path, body, problems), {})
                return
            violation = checker.record("request", method, path, None, user_agent, problems) if problems else None
            await self.app(scope, receive, checked_sender(out, violation, check_answer and documented))

        def checked_sender(out: Send, violation: dict[str, Any] | None, check_answer: bool) -> Send:
            start: Message | None = None
            chunks: list[bytes] = []

            async def _send(message: Message) -> None:
                nonlocal start
                if message["type"] == "http.response.start":
                    if violation is not None:
                        violation["status"] = message["status"]
                    status = message["status"]
                    if not check_answer or status in contract.spec.UNCHECKED_STATUSES or status >= 500:
                        await out(message)
                        return
                    start = message
                    return
                if start is None or message["type"] != "http.response.body":
                    await out(message)
                    return
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                payload = b"".join(chunks)
                status = start["status"]
                answer = json_of(payload)
                if answer is NOT_JSON:
                    problems = [f"{method} {path} answer {status}: the body is not JSON"]
                else:
                    problems = contract.response_problems(method, path, status, answer)
                if problems:
                    checker.record("response", method, path, status, user_agent, problems)
                await out(start)
                await out({"type": "http.response.body", "body": payload, "more_body": False})

            return _send

        if not decision.allowed:
            await respond(send_with_headers, 429, {"message": LIMIT_MESSAGE}, {})
            return
        fault = emu.faults.decide(method, path)
        entry["fault"] = fault.kind or ("slow" if fault.delay else None)
        if fault.delay:
            # The request has arrived; the server is slow to answer it. Read the body first so a
            # client that gives up meanwhile does not cancel the work: like a real server, the
            # write is still applied (a timed-out create is ambiguous, not harmless).
            if path != "/oauth/token":
                body = await read_body(receive)
                receive = replay(body, receive)
            await asyncio.sleep(fault.delay)
        retry_after = str(emu.faults.config.retry_after)
        if fault.kind == "error":
            if fault.status == 503:
                extra["Retry-After"] = retry_after
            await respond(send_with_headers, fault.status, {"errors": http.HTTPStatus(fault.status).phrase}, {})
        elif fault.kind == "rate_limit":
            extra["Retry-After"] = retry_after
            await respond(send_with_headers, 429, {"message": LIMIT_MESSAGE}, {})
        elif fault.kind == "drop":
            await drop_connection(send)
        elif fault.kind == "lost_response":
            await serve(swallow, check_answer=False)  # the write is applied and committed...
            await drop_connection(send)  # ...but the client never hears about it
        else:
            await serve(send_with_headers, check_answer=True)
