"""Great Expectations runs without rebuilding each expectation's configuration a hundred times (issue 19).

GX 1.x derives `Expectation.configuration` afresh on every read (a pydantic `.dict()`, a class-name
conversion, a new `ExpectationConfiguration`), and one validation reads it about 135 times per
expectation while it builds the metric graph (`_get_domain_kwargs` and `_get_success_kwargs` read it
once per key; `get_metric_kwargs` builds a new expectation per metric and reads its configuration again).
That is half of a 1,000-row run of the row suite (0.30 s -> 0.14 s measured, docs/performance.md) and
most of what a small job's four GX runs cost a task.

`built_once()` makes the property return, for the same expectation object, the configuration it built
the first time, while the block runs, and nothing else: GX's results are the same
(tests/unit/test_gx_configurations.py compares them whole, suite by suite, with and without). It holds
the objects it has seen until the block ends, so an object's id is never reused within it. The pipeline
uses it around `ValidationDefinition.run` only, where GX builds expectations from saved configurations
and never changes one afterwards; GX's interactive `validator.expect_*` path, which does edit a
configuration in place, is never run inside it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()  # one block at a time per process: the property is the class's, not a thread's


@contextmanager
def built_once() -> Iterator[None]:
    """While inside, `Expectation.configuration` is computed once per expectation object."""
    from great_expectations.expectations.expectation import Expectation

    with _LOCK:
        original = Expectation.__dict__["configuration"]
        if getattr(original, "fget", None) is not None and getattr(original.fget, "_built_once", False):
            yield  # nested: the outer block's memo is in place
            return
        seen: dict[int, tuple[Any, Any]] = {}

        def configuration(self: Any) -> Any:
            hit = seen.get(id(self))
            if hit is None or hit[0] is not self:
                hit = (self, original.fget(self))
                seen[id(self)] = hit
            return hit[1]

        configuration._built_once = True  # type: ignore[attr-defined]
        Expectation.configuration = property(configuration, doc=original.__doc__)  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            Expectation.configuration = original  # type: ignore[method-assign]
            seen.clear()
