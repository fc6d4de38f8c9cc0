"""Procore's REST contract as data: the request and answer shapes of every call a budget import makes.

`procore_api.json` holds one JSON Schema per operation, each naming the object of Procore's published
OpenAPI spec it comes from (and marking what the spec does not say as a guess). This module finds the
operation of a request and lists what in a request or an answer breaks its schema. The emulator checks
its own traffic with it, and the client's tests fail on any mismatch, so no test passes on an invented
shape.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

CONTRACT_FILE = Path(__file__).with_name("procore_api.json")
UNCHECKED_STATUSES = frozenset({429, 500, 502, 503, 504})  # transport matters: retried, never parsed as data


@dataclass(frozen=True)
class Operation:
    """One documented method + path, with validators for its query, body and answers."""

    method: str
    template: str
    pattern: re.Pattern[str]
    spec_operation: str
    query: Draft202012Validator | None
    request: Draft202012Validator | None
    responses: Mapping[str, Draft202012Validator]
    error_body: Draft202012Validator
    guesses: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("^" + "[0-9]+".join(re.escape(part) for part in parts) + "$")


@cache
def document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))
    return doc


@cache
def operations() -> tuple[Operation, ...]:
    doc = document()
    defs = doc["$defs"]

    def validator(schema: Any) -> Draft202012Validator:
        return Draft202012Validator({"$defs": defs, **schema})

    out = []
    for op in doc["operations"]:
        method, template = op["operation"].split(" ", 1)
        out.append(Operation(
            method=method, template=template, pattern=_template_pattern(template),
            spec_operation=op["spec_operation"],
            query=validator(op["query"]) if "query" in op else None,
            request=validator(op["request"]) if "request" in op else None,
            responses={status: validator(schema) for status, schema in op["responses"].items()},
            error_body=validator({"$ref": "#/$defs/ErrorBody"}),
            guesses=tuple(op.get("guesses", ())),
        ))
    return tuple(out)


def operation_for(method: str, path: str) -> Operation | None:
    """The documented operation a request is for (path without its query string), or None."""
    for op in operations():
        if op.method == method.upper() and op.pattern.match(path):
            return op
    return None


def _problems(validator: Draft202012Validator, instance: Any, what: str) -> list[str]:
    found = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        found.append(f"{what}{where}: {error.message[:300]}")
    return found


def request_problems(method: str, path: str, query: Mapping[str, str], body: Any) -> list[str]:
    """What in a request breaks the contract: an undocumented operation, a missing or mistyped
    parameter, or a body that is not the documented shape. Empty when the request is as documented."""
    op = operation_for(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in Procore's spec (contract)"]
    found = []
    if op.query is not None:
        found += _problems(op.query, dict(query), f"{op.name} query")
    if op.request is not None:
        found += _problems(op.request, body, f"{op.name} body")
    elif body not in (None, b"", ""):
        found.append(f"{op.name}: the spec documents no request body")
    return found


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """What in an answer breaks the contract: a success status the spec does not give, a body that is
    not the documented shape, an error body outside Procore's standard forms."""
    op = operation_for(method, path)
    if op is None or status in UNCHECKED_STATUSES:
        return []
    validator = op.responses.get(str(status))
    if validator is None:
        if status < 400:
            return [f"{op.name}: status {status} is not documented (documented: {sorted(op.responses)})"]
        validator = op.error_body
    return _problems(validator, body, f"{op.name} answer {status}")
