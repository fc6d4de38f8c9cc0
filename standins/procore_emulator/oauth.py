"""`POST /oauth/token` with the client-credentials grant (form fields, JSON, or HTTP Basic)."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from .errors import ApiError
from .jsonio import ExactJSONResponse

router = APIRouter()

INVALID_CLIENT = ("Client authentication failed due to unknown client, no client authentication included, "
                  "or unsupported authentication method.")


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) from an `Authorization: Basic` header, if there is one."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def form_fields(raw: bytes, content_type: str) -> dict[str, Any]:
    """Fields of a urlencoded or JSON token request body."""
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


@router.post("/oauth/token")
async def token(request: Request) -> ExactJSONResponse:
    emu = request.app.state.emu
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        fields: dict[str, Any] = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    else:
        fields = form_fields(await request.body(), content_type)
    for key, value in request.query_params.items():  # Procore's docs also show these as query parameters
        fields.setdefault(key, value)
    grant = fields.get("grant_type")
    if not grant:
        raise ApiError(400, {"error": "invalid_request", "error_description":
                             "The request is missing a required parameter: grant_type."})
    if grant != "client_credentials":
        raise ApiError(400, {"error": "unsupported_grant_type", "error_description":
                             "The authorization grant type is not supported by the authorization server."})
    basic = basic_credentials(request.headers.get("authorization"))
    client_id, secret = basic if basic else (fields.get("client_id"), fields.get("client_secret"))
    client = emu.tokens.authenticate(client_id, secret)
    if client is None:
        raise ApiError(401, {"error": "invalid_client", "error_description": INVALID_CLIENT})
    return ExactJSONResponse(await run_in_threadpool(emu.tokens.issue, client))  # keeps the event loop free
