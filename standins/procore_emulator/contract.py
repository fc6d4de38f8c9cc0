"""The contract check of every /rest and /oauth call: requests and answers against Procore's spec as data.

The schemas and the wording of every problem come from `include/budget_import/procore/contract`
(`request_problems`, `response_problems`). Running jsonschema over a 1000-row page costs about a
quarter of a second, so each schema is also compiled here into a plain-Python predicate for the
keywords the contract uses. The predicate only says "valid" when jsonschema would (it is stricter
where in doubt, and any keyword it does not know makes it defer); when it says "invalid" the
contract module is asked for the problems, so the messages are always the contract's own.
"""
from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from include.budget_import.procore import contract as spec

Check = Callable[[Any], bool]
MAX_VIOLATIONS = 10_000
MODES = ("check", "off")
ANNOTATIONS = frozenset({"title", "description", "$schema", "$comment", "examples", "default"})


class _Deferred(Exception):
    """A schema uses a keyword the fast path does not know: always ask jsonschema."""


class _Missing:
    """Stands for an absent property, so one `dict.get` and one set lookup check a typed property."""


MISSING = _Missing()
# The Python types each JSON type allows, exactly as jsonschema's draft 2020-12 checker sees the values the
# emulator parses (json with parse_float=Decimal: never a float, and bool is not int here).
TYPES: dict[str, frozenset[type]] = {
    "null": frozenset({type(None)}), "boolean": frozenset({bool}), "string": frozenset({str}),
    "integer": frozenset({int}), "number": frozenset({int, Decimal, float}), "object": frozenset({dict}),
    "array": frozenset({list}),
}
Node = Check | frozenset  # a predicate, or just the set of allowed Python types (inlined by the caller)


def _types_of(value: Any) -> frozenset[type]:
    names = [value] if isinstance(value, str) else list(value)
    try:
        return frozenset().union(*(TYPES[n] for n in names))
    except KeyError as exc:
        raise _Deferred(str(exc)) from None


def _type_check(allowed: frozenset[type]) -> Check:
    return lambda v: type(v) in allowed


def _as_check(node: Node) -> Check:
    return _type_check(node) if isinstance(node, frozenset) else node


def _enum(options: tuple[Any, ...]) -> Check:
    try:
        pairs = frozenset((type(x), x) for x in options)
    except TypeError:
        raise _Deferred("enum of unhashable values") from None

    def check(v: Any) -> bool:
        try:
            return (type(v), v) in pairs
        except TypeError:  # a dict or list is never one of the (scalar) options
            return False
    return check


def _const(value: Any) -> Check:
    return _enum((value,))


def _pattern(pattern: str) -> Check:
    search = re.compile(pattern).search
    return lambda v: type(v) is not str or search(v) is not None


def _required(names: tuple[str, ...]) -> Check:
    def check(v: Any) -> bool:
        if type(v) is dict:
            for name in names:
                if name not in v:
                    return False
        return True
    return check


def _items(item: Node) -> Check:
    if isinstance(item, frozenset):
        return lambda v: type(v) is not list or all(type(x) in item for x in v)
    return lambda v: type(v) is not list or all(item(x) for x in v)


def _min_items(count: int) -> Check:
    return lambda v: type(v) is not list or len(v) >= count


def _one_of(subs: tuple[Check, ...]) -> Check:
    return lambda v: sum(1 for f in subs if f(v)) == 1


def _any_of(subs: tuple[Check, ...]) -> Check:
    return lambda v: any(f(v) for f in subs)


def _all_of(subs: tuple[Check, ...]) -> Check:
    def check(v: Any) -> bool:
        for f in subs:
            if not f(v):
                return False
        return True
    return check


def _open_object(typed: tuple[tuple[str, frozenset], ...], checked: tuple[tuple[str, Check], ...]) -> Check:
    typed = tuple((name, allowed | {_Missing}) for name, allowed in typed)

    def check(v: Any) -> bool:
        if type(v) is not dict:
            return True
        get = v.get
        for name, allowed in typed:
            if type(get(name, MISSING)) not in allowed:
                return False
        for name, f in checked:
            value = get(name, MISSING)
            if value is not MISSING and not f(value):
                return False
        return True
    return check


def _closed_object(props: dict[str, Check], extra: Check) -> Check:
    def check(v: Any) -> bool:
        if type(v) is not dict:
            return True
        for name, value in v.items():
            f = props.get(name)
            if not (f(value) if f is not None else extra(value)):
                return False
        return True
    return check


class Compiler:
    """Turns JSON Schemas (with `$ref`s into one `$defs`) into predicates, sharing compiled definitions."""

    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.compiled: dict[str, Node] = {}

    def ref(self, ref: str) -> Node:
        name = ref.removeprefix("#/$defs/")
        if name == ref or name not in self.defs:
            raise _Deferred(ref)
        if name not in self.compiled:
            slot: list[Node] = []
            self.compiled[name] = lambda v: _as_check(slot[0])(v)  # recursion-safe placeholder
            slot.append(self.node(self.defs[name]))
            self.compiled[name] = slot[0]
        return self.compiled[name]

    def compile(self, schema: Any) -> Check:
        return _as_check(self.node(schema))

    def node(self, schema: Any) -> Node:
        if schema is True or schema == {}:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise _Deferred(repr(schema))
        keys = [k for k in schema if k not in ANNOTATIONS and not k.startswith("x-") and k != "$defs"]
        if keys == ["type"]:
            return _types_of(schema["type"])
        if keys == ["$ref"]:
            return self.ref(schema["$ref"])
        checks: list[Check] = []
        for key in keys:
            value = schema[key]
            if key in ("properties", "additionalProperties"):
                continue
            if key == "type":
                checks.append(_type_check(_types_of(value)))
            elif key == "$ref":
                checks.append(_as_check(self.ref(value)))
            elif key == "enum":
                checks.append(_enum(tuple(value)))
            elif key == "const":
                checks.append(_const(value))
            elif key == "pattern":
                checks.append(_pattern(value))
            elif key == "required":
                checks.append(_required(tuple(value)))
            elif key == "items":
                checks.append(_items(self.node(value)))
            elif key == "minItems":
                checks.append(_min_items(int(value)))
            elif key == "oneOf":
                checks.append(_one_of(tuple(self.compile(s) for s in value)))
            elif key == "anyOf":
                checks.append(_any_of(tuple(self.compile(s) for s in value)))
            else:
                raise _Deferred(key)
        if "properties" in schema or "additionalProperties" in schema:
            checks.append(self._object(schema.get("properties", {}), schema.get("additionalProperties", True)))
        if not checks:
            return lambda v: True
        return checks[0] if len(checks) == 1 else _all_of(tuple(checks))

    def _object(self, properties: Mapping[str, Any], additional: Any) -> Check:
        nodes = {name: self.node(sub) for name, sub in properties.items()}
        if additional is True:
            typed = tuple((n, t) for n, t in nodes.items() if isinstance(t, frozenset))
            checked = tuple((n, c) for n, c in nodes.items() if not isinstance(c, frozenset))
            return _open_object(typed, checked)
        return _closed_object({n: _as_check(c) for n, c in nodes.items()}, self.compile(additional))


def _safe(compiler: Compiler, schema: Any) -> Check:
    try:
        return compiler.compile(schema)
    except _Deferred:
        return lambda v: False  # always ask jsonschema


class FastOperation:
    """One contract operation's predicates: query, body, answers per status, and the standard error body."""

    def __init__(self, raw: Mapping[str, Any], compiler: Compiler) -> None:
        self.query = _safe(compiler, raw["query"]) if "query" in raw else None
        self.request = _safe(compiler, raw["request"]) if "request" in raw else None
        self.responses = {status: _safe(compiler, schema) for status, schema in raw["responses"].items()}
        self.error_body = _safe(compiler, {"$ref": "#/$defs/ErrorBody"})


_fast: dict[str, FastOperation] = {}
_fast_lock = threading.Lock()


def fast_operations() -> dict[str, FastOperation]:
    with _fast_lock:
        if not _fast:
            doc = spec.document()
            compiler = Compiler(doc["$defs"])
            for raw in doc["operations"]:
                _fast[raw["operation"]] = FastOperation(raw, compiler)
    return _fast


def request_problems(method: str, path: str, query: Mapping[str, str], body: Any) -> list[str]:
    """The contract's `request_problems`, answered without jsonschema when the request is plainly valid."""
    op = spec.operation_for(method, path)
    if op is None:
        return spec.request_problems(method, path, query, body)
    fast = fast_operations()[op.name]
    ok = (fast.query is None or fast.query(dict(query))) and \
        (fast.request(body) if fast.request is not None else body in (None, b"", ""))
    return [] if ok else spec.request_problems(method, path, query, body)


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """The contract's `response_problems`, answered without jsonschema when the answer is plainly valid."""
    op = spec.operation_for(method, path)
    if op is None or status in spec.UNCHECKED_STATUSES:
        return []
    fast = fast_operations()[op.name]
    check = fast.responses.get(str(status))
    if check is None:
        check = fast.error_body if status >= 400 else (lambda v: False)
    return [] if check(body) else spec.response_problems(method, path, status, body)


def operation_name(method: str, path: str) -> str | None:
    op = spec.operation_for(method, path)
    return op.name if op is not None else None


class ContractLog:
    """The violations one server has seen, and how many requests and answers it checked."""

    def __init__(self, mode: str = "check", max_entries: int = MAX_VIOLATIONS) -> None:
        if mode not in MODES:
            raise ValueError(f"contract mode must be one of {MODES}")
        self.mode = mode
        self._lock = threading.Lock()
        self._violations: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._checked = 0
        self._seq = itertools.count(1)

    @property
    def enabled(self) -> bool:
        return self.mode == "check"

    def counted(self) -> None:
        with self._lock:
            self._checked += 1

    def record(self, kind: str, method: str, path: str, status: int | None, user_agent: str,
               problems: list[str]) -> dict[str, Any]:
        entry = {"seq": next(self._seq), "kind": kind, "operation": operation_name(method, path), "method": method,
                 "path": path, "status": status, "user_agent": user_agent, "problems": problems}
        with self._lock:
            self._violations.append(entry)
        return entry

    def report(self, since: int = 0) -> dict[str, Any]:
        with self._lock:
            violations = [dict(v) for v in self._violations if v["seq"] > since]
            checked = self._checked
        return {"mode": self.mode, "checked": checked, "violations": violations}

    def clear(self) -> int:
        with self._lock:
            count = len(self._violations)
            self._violations.clear()
            self._checked = 0
        return count
