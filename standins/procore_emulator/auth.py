"""OAuth client-credentials tokens and the per-request caller (client, company, permission).

Tokens live in SQLite (so they survive a restart, like Procore's) and in a dict the rate limiter
can read without touching the database lock.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from .errors import ApiError, bad_request, forbidden, unauthorized
from .store import Database

NOT_CONNECTED = "App is not connected to this company"
WRITERS = ("admin", "standard")


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    company_id: int
    permission: str  # "admin" | "standard" | "read_only" | "none"


@dataclass(frozen=True)
class Caller:
    """Who is calling a /rest route, once the token and the Procore-Company-Id header are checked."""

    client: Client
    company_id: int

    def require_budget_read(self) -> None:
        if self.client.permission == "none":
            raise forbidden("You do not have permission to view the Budget tool of this project")

    def require_write(self) -> None:
        if self.client.permission not in WRITERS:
            raise forbidden("You do not have permission to perform this action")


class TokenStore:
    """Issues and checks bearer tokens; `ttl` is the lifetime of newly issued tokens in seconds."""

    def __init__(self, db: Database, ttl: int = 5400) -> None:
        self.db = db
        self.ttl = ttl
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self._clients: dict[str, dict[int, Client]] = {}  # client id -> company id -> installation
        with db.read() as conn:
            for row in conn.execute("SELECT token, client_id, expires_at FROM tokens WHERE expires_at > ?", (time.time(),)):
                self._tokens[row["token"]] = (row["client_id"], row["expires_at"])
        self.reload_clients()

    def reload_clients(self) -> None:
        """Re-read the clients after a reset; tokens of clients that no longer exist stop working."""
        with self.db.read() as conn:
            clients: dict[str, dict[int, Client]] = {}
            for r in conn.execute("SELECT * FROM clients ORDER BY company_id"):
                clients.setdefault(r["client_id"], {})[r["company_id"]] = Client(r["client_id"], r["client_secret"], r["company_id"], r["permission"])
        with self._lock:
            self._clients = clients

    def authenticate(self, client_id: str | None, client_secret: str | None) -> Client | None:
        """The app's first installation when the secret matches (every installation shares it)."""
        installs = self._clients.get(client_id or "")
        if not installs:
            return None
        client = next(iter(installs.values()))
        if not secrets.compare_digest(client.client_secret, client_secret or ""):
            return None
        return client

    def installations(self, client_id: str) -> dict[int, Client]:
        """Company id -> the app's installation (with its permission) in that company."""
        return dict(self._clients.get(client_id, {}))

    def issue(self, client: Client) -> dict[str, object]:
        token = secrets.token_urlsafe(32)
        created = int(time.time())
        expires = time.time() + self.ttl
        with self.db.tx() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at < ?", (time.time() - 86400,))
            conn.execute("INSERT INTO tokens (token, client_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                         (token, client.client_id, created, expires))
        with self._lock:
            self._tokens[token] = (client.client_id, expires)
        return {"access_token": token, "token_type": "bearer", "expires_in": self.ttl, "created_at": created}

    def client_for(self, token: str | None) -> Client | None:
        """The live client behind a token, or None when the token is unknown or expired."""
        entry = self._tokens.get(token or "")
        if entry is None or entry[1] <= time.time():
            return None
        installs = self._clients.get(entry[0])
        return next(iter(installs.values())) if installs else None

    def caller(self, authorization: str | None, company_header: str | None) -> Caller:
        """Check `Authorization: Bearer` then `Procore-Company-Id`, in that order, as Procore does."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Authorization header with a Bearer access token is required")
        client = self.client_for(token.strip())
        if client is None:
            raise ApiError(401, {"errors": "The access token is invalid or has expired"},
                           {"WWW-Authenticate": 'Bearer realm="Procore API", error="invalid_token"'})
        if company_header is None or not company_header.strip():
            raise bad_request("Procore-Company-Id header is required")
        try:
            company_id = int(company_header.strip())
        except ValueError:
            raise bad_request("Procore-Company-Id header is invalid") from None
        installation = self._clients.get(client.client_id, {}).get(company_id)
        if installation is None:
            raise forbidden(NOT_CONNECTED)
        return Caller(installation, company_id)

    def expire_all(self, now: float) -> int:
        """Expire every token (admin API), in memory and on disk."""
        with self.db.tx() as conn:
            conn.execute("UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now, now))
        with self._lock:
            live = [t for t, (_, exp) in self._tokens.items() if exp > now]
            for token in live:
                self._tokens[token] = (self._tokens[token][0], now)
        return len(live)
