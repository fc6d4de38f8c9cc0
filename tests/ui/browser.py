"""Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol, stdlib only.

The browser talks CDP over a pipe (--remote-debugging-pipe: it reads commands on fd 3 and writes
replies and events on fd 4, NUL-separated JSON), so no port is opened and no extra package is needed.

Two ways to see every request it makes:
- the page's own requests: CDP Network.requestWillBeSent events (every URL the pages ask for);
- anything else the browser process might send: it runs with --proxy-server pointing at a local
  `RefusingProxy`, which records and refuses every request. Chromium never proxies loopback, so
  requests to 127.0.0.1 go straight to the api-server and every request to another host lands in the
  proxy's list.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, Queue
from typing import Any
from urllib.parse import urlparse

CLOSED_LOCAL_PORT = "http://127.0.0.1:9/"  # the discard port: nothing listens, the connection is refused
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-default-apps", "--hide-scrollbars",
    "--mute-audio", "--window-size=1400,1000",
    # Chromium 156 still calls Google with the flags above (measured with RefusingProxy): the component
    # updater fetches the on-device model manifest, the sign-in service asks accounts.google.com, network
    # time asks clients2.google.com, autofill sends form signatures. Point the first two at a closed local
    # port and turn the others off, so the browser itself stays on this machine too.
    f"--component-updater=url-source={CLOSED_LOCAL_PORT}", f"--gaia-url={CLOSED_LOCAL_PORT}",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,NetworkTimeServiceQuerying",
]


# Typing a password into a login form makes Chromium's password manager ask Google whether it leaked
# (passwordsleakcheck-pa.googleapis.com): a test profile has no password manager.
PROFILE_PREFERENCES = {
    "credentials_enable_service": False,
    "profile": {"password_manager_enabled": False, "password_manager_leak_detection": False},
    "signin": {"allowed": False},
}


def seed_profile(user_data_dir: Path) -> None:
    default = Path(user_data_dir) / "Default"
    default.mkdir(parents=True, exist_ok=True)
    preferences = default / "Preferences"
    if not preferences.exists():
        preferences.write_text(json.dumps(PROFILE_PREFERENCES), encoding="utf-8")


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that records the target of every request and answers 403."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        lock = threading.Lock()
        seen = self.requests

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(5)
                try:
                    head = self.request.recv(8192).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    head = "(unreadable request)"
                with lock:
                    seen.append(head)
                try:
                    self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="refusing-proxy", daemon=True)

    def __enter__(self) -> RefusingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class CdpError(RuntimeError):
    pass


class Browser:
    """One Chromium process and one page (tab) in it."""

    def __init__(self, binary: str, user_data_dir: Path, proxy_port: int | None = None, log_path: Path | None = None) -> None:
        self.events: list[dict[str, Any]] = []  # every CDP event of the page's session
        self._replies: dict[int, Queue[dict[str, Any]]] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        seed_profile(user_data_dir)
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Chromium wants its command pipe on fd 3 and its reply pipe on fd 4. Move our ends to fds >= 10
        # first, then let bash (dash cannot name fds above 9) do the redirection as it execs Chromium (no fd number clash).
        child_in, child_out = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)
        args = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe"]
        if proxy_port:
            args.append(f"--proxy-server=http://127.0.0.1:{proxy_port}")
        args.append("about:blank")
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-', "bash", *args],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, pass_fds=(child_in, child_out), start_new_session=True,
        )
        to_chrome_r, from_chrome_w = child_in, child_out
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._out = os.fdopen(to_chrome_w, "wb", buffering=0)
        self._in = os.fdopen(from_chrome_r, "rb", buffering=0)
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.page(f"{domain}.enable")

    # protocol ----------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    queue = self._replies.get(message["id"])
                    if queue is not None:
                        queue.put(message)
                else:
                    with self._lock:
                        self.events.append(message)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        queue: Queue[dict[str, Any]] = Queue()
        self._replies[ident] = queue
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        try:
            reply = queue.get(timeout=timeout)
        except Empty:
            raise CdpError(f"{method}: no reply in {timeout} s") from None
        finally:
            self._replies.pop(ident, None)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def page(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        return self.send(method, params, session=self.session, timeout=timeout)

    # what a test does ---------------------------------------------------------------------------
    def evaluate(self, expression: str) -> Any:
        result = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CdpError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        """Poll a JS expression until it is truthy (after a navigation, the page may not be ready yet)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except CdpError:
                last = None
            if last:
                return last
            time.sleep(0.1)
        raise TimeoutError(f"waited {timeout} s for {what or expression}: last value {last!r}, at {self.url()}")

    def url(self) -> str:
        try:
            return str(self.evaluate("location.href"))
        except CdpError:
            return "?"

    def navigate(self, url: str, timeout: float = 30) -> None:
        self.page("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", timeout, f"load of {url}")

    def type_into(self, selector: str, text: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.page("Input.insertText", {"text": text})

    def screenshot(self, path: Path, width: int = 1400) -> Path:
        """The whole page (not just the window) as a PNG."""
        height = int(self.evaluate("Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0, 600)"))
        self.page("Emulation.setDeviceMetricsOverride", {"width": width, "height": min(height, 12000), "deviceScaleFactor": 1, "mobile": False})
        try:
            data = self.page("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        finally:
            self.page("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def requested_urls(self) -> list[str]:
        with self._lock:
            return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def responses(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(e["params"]["response"]["url"], e["params"]["response"]["status"]) for e in self.events if e.get("method") == "Network.responseReceived"]

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (CdpError, OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()  # the process this object started, by its handle
            self.process.wait(timeout=10)
        for stream in (self._out, self._in):
            try:
                stream.close()
            except OSError:
                pass
        if self._log is not subprocess.DEVNULL:
            self._log.close()


def outside_requests(urls: list[str], allowed_host: str = "127.0.0.1") -> list[str]:
    """URLs that would reach a host other than `allowed_host` (data:, blob:, about: never leave)."""
    outside = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about", "chrome", "devtools"):
            continue
        if parsed.hostname != allowed_host:
            outside.append(url)
    return outside


@contextmanager
def chromium(binary: str, user_data_dir: Path, log_path: Path | None = None) -> Iterator[tuple[Browser, RefusingProxy]]:
    with RefusingProxy() as proxy:
        browser = Browser(binary, user_data_dir, proxy.port, log_path)
        try:
            yield browser, proxy
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
