"""Request bodies as exact JSON: a Decimal becomes the JSON number it holds (1234.56), never a float.

Procore's spec types amounts as numbers; writing them from the Decimal's own digits keeps every cent
exact on the wire (json.dumps would need a float, or would send the amount as a string).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _encode(value: Any, out: Callable[[str], Any]) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        out(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        out(format(value, "f"))
    elif isinstance(value, dict):
        out("{")
        for index, (key, item) in enumerate(value.items()):
            out(("," if index else "") + json.dumps(str(key)) + ":")
            _encode(item, out)
        out("}")
    elif isinstance(value, (list, tuple)):
        out("[")
        for index, item in enumerate(value):
            if index:
                out(",")
            _encode(item, out)
        out("]")
    else:  # a float here would already have lost the cent it was meant to hold
        raise TypeError(f"not JSON serialisable in a Procore body: {type(value).__name__}")


def encode_json(body: Any) -> str:
    parts: list[str] = []
    _encode(body, parts.append)
    return "".join(parts)


def decode_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal) if text else None
