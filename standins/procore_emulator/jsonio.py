"""JSON in and out without floats: Decimals are written as exact JSON numbers and read back as Decimals."""
from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from .errors import bad_request


def _encode(obj: Any, out: Callable[[str], Any]) -> None:
    if isinstance(obj, str):
        out(encode_basestring_ascii(obj))
    elif obj is None:
        out("null")
    elif obj is True:
        out("true")
    elif obj is False:
        out("false")
    elif isinstance(obj, int):
        out(int.__repr__(obj))
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError("non-finite Decimal cannot be written as JSON")
        out(format(obj, "f"))
    elif isinstance(obj, dict):
        out("{")
        first = True
        for key, value in obj.items():
            if not first:
                out(",")
            first = False
            out(encode_basestring_ascii(str(key)))
            out(":")
            _encode(value, out)
        out("}")
    elif isinstance(obj, (list, tuple)):
        out("[")
        for index, value in enumerate(obj):
            if index:
                out(",")
            _encode(value, out)
        out("]")
    elif isinstance(obj, float):
        out(json.dumps(obj, allow_nan=False))
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps(obj: Any) -> bytes:
    """Serialize like json.dumps, but a Decimal becomes the exact number it holds (1234.56, not 1234.5600001)."""
    parts: list[str] = []
    _encode(obj, parts.append)
    return "".join(parts).encode("ascii")


class ExactJSONResponse(JSONResponse):
    """The app's default response class, so every money field is rendered from its Decimal."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def loads(raw: bytes) -> Any:
    """Parse a request body with every JSON number with a fraction as Decimal; NaN/Infinity are refused."""
    return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)


async def json_body(request: Request) -> Any:
    """FastAPI dependency: the request's JSON body (None when empty), parsed without floats."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return loads(raw)
    except ValueError as exc:
        raise bad_request(f"Request body is not valid JSON: {exc}") from None
