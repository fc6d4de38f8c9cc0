"""Keep secrets out of every log line, at every level.

Airflow 3.3.2's in-process supervisor (`airflow dags test`) logs each request a task sends it at DEBUG,
MaskSecret included, with the very value it asks to mask: the Procore client secret and the Spectrum
password in clear. (The real supervisor of a worker omits that body.) A structlog processor placed first
in Airflow's chain replaces the value before any renderer sees it. Installed when the DAG files load the
shared tasks (`import_tasks`: before the first task runs, whose logger structlog caches on first use) and
again by `connections` before a connection is read (idempotent).
"""
from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

OMITTED = "MaskSecret(<value omitted>)"


def omit_masked_values(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: a MaskSecret message is logged without its value."""
    for key, value in list(event.items()):
        if type(value).__name__ == "MaskSecret":
            event[key] = OMITTED
    return event


def install() -> None:
    """Put `omit_masked_values` first in structlog's processors (once); a no-op without structlog."""
    try:
        import structlog
    except ImportError:  # pragma: no cover - Airflow depends on structlog
        return
    processors = list(structlog.get_config().get("processors") or [])
    if omit_masked_values not in processors:
        structlog.configure(processors=[omit_masked_values, *processors])
