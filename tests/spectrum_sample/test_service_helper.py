"""The one helper that decides skip versus fail for service-backed tests."""
from __future__ import annotations

import pytest

from .conftest import require_service


def _down():
    raise ConnectionRefusedError("127.0.0.1:1 refused")


def test_unreachable_service_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="demo service unavailable: ConnectionRefusedError"):
        require_service("demo service", _down)


def test_unreachable_service_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_service("demo service", _down)


def test_reachable_service_returns_the_connection(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require_service("demo service", lambda: "con") == "con"
