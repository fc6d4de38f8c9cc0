"""Tests that need a local service skip with a clear reason on a laptop without it, and fail under CI=true."""
from __future__ import annotations

import os
import socket

import pytest


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str = "127.0.0.1", port: int = 0) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: service-backed tests must run)")
    pytest.skip(f"{message}; start it to run this test")
