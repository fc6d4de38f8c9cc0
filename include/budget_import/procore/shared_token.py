"""One Procore OAuth token for every task of a deployment while it lives, instead of one per task (issue 19).

Airflow runs each task in a process of its own, so each built its own client and asked Procore for a token:
about one token request per job a night, half of an unchanged night's requests. A client-credentials token
serves any caller of the app until it expires (`expires_in`, 5,400 s in Procore's docs), so the first task
to need one stores it in the state DB (`state_db`: SQLite beside the local reports, PostgreSQL in a
deployment) and every later task of any run reuses it until a minute before it expires.

- **Encrypted** with Airflow's Fernet key (`[core] fernet_key`, as Airflow keeps connection passwords), so
  the state DB never holds a usable bearer token in clear. Without a Fernet key nothing is stored: each
  task fetches its own token, as before.
- **Keyed** by a hash of the login URL, client id and secret: another app, another Procore, or a rotated
  secret never meets this token; the key itself reveals nothing.
- **Refused tokens**: after a 401 the client discards the stored token (only if it is still the one it
  used) and fetches a fresh one from Procore, never the stored one again.
- **Never in the way**: a state DB that cannot be read or written, or a token that cannot be decrypted (the
  key was rotated), only means fetching a token as if nothing were stored; it is logged without the token.
- `BUDGET_IMPORT_SHARED_TOKEN=0` turns it off (settings.py).
"""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Protocol

import sqlalchemy as sa

from include.budget_import import state_db
from include.budget_import.settings import shared_token_enabled

log = logging.getLogger(__name__)

TOKENS = sa.Table(
    "budget_procore_tokens", state_db.METADATA,
    sa.Column("app_key", sa.String(64), primary_key=True),
    sa.Column("token", sa.Text, nullable=False),  # Fernet ciphertext of the bearer token
    sa.Column("expires_at", sa.Double, nullable=False),  # unix seconds, already a renewal margin early
    sa.Column("stored_at", sa.Double, nullable=False),
)

_TABLES_MADE: set[sa.engine.Engine] = set()


class Fernet(Protocol):
    is_encrypted: bool

    def encrypt(self, msg: bytes) -> bytes: ...

    def decrypt(self, msg: bytes | str, ttl: int | None = None) -> bytes: ...


def app_key(login_url: str, client_id: str, client_secret: str) -> str:
    """The stored token's key: a hash of where it was issued, to whom, and with which secret."""
    return hashlib.sha256(f"procore-token:{login_url}\n{client_id}\n{client_secret}".encode()).hexdigest()


class SharedToken:
    """The token of one Procore app in the state DB, as `(token, expires_at)`."""

    def __init__(self, key: str, fernet: Fernet, url: str | None = None) -> None:
        self._key = key
        self._fernet = fernet
        self._url = url

    def _engine(self) -> sa.engine.Engine:
        made = state_db.engine(self._url)
        if made not in _TABLES_MADE:  # this module may have been imported after the process made its engine
            state_db.ensure_tables(made, TOKENS)
            _TABLES_MADE.add(made)
        return made

    def get(self, now: float | None = None) -> tuple[str, float] | None:
        """The stored token while it is still good, else None."""
        now = time.time() if now is None else now
        try:
            with self._engine().connect() as conn:
                row = conn.execute(sa.select(TOKENS.c.token, TOKENS.c.expires_at).where(TOKENS.c.app_key == self._key)).first()
            if row is None or row.expires_at <= now:
                return None
            return self._fernet.decrypt(row.token.encode("ascii")).decode("utf-8"), float(row.expires_at)
        except Exception as exc:  # noqa: BLE001 - a stored token is a saving, never a requirement
            log.warning("the shared Procore token could not be read (%s); this task asks Procore for its own", type(exc).__name__)
            return None

    def put(self, token: str, expires_at: float) -> None:
        """Store a token fetched from Procore (replacing any other of this app)."""
        cipher = self._fernet.encrypt(token.encode("utf-8")).decode("ascii")
        try:
            with self._engine().begin() as conn:
                conn.execute(TOKENS.delete().where(TOKENS.c.app_key == self._key))
                conn.execute(TOKENS.insert().values(app_key=self._key, token=cipher, expires_at=expires_at, stored_at=time.time()))
        except Exception as exc:  # noqa: BLE001
            log.warning("the Procore token could not be shared through the state DB (%s); the next task asks for its own", type(exc).__name__)

    def discard(self, token: str) -> None:
        """Forget the stored token if it is `token` (Procore refused it); a newer one another task stored stays."""
        try:
            with self._engine().begin() as conn:
                row = conn.execute(sa.select(TOKENS.c.token).where(TOKENS.c.app_key == self._key)).first()
                if row is not None and self._decrypts_to(row.token, token):
                    conn.execute(TOKENS.delete().where(TOKENS.c.app_key == self._key, TOKENS.c.token == row.token))
        except Exception as exc:  # noqa: BLE001
            log.warning("the refused Procore token could not be removed from the state DB (%s)", type(exc).__name__)

    def _decrypts_to(self, cipher: str, token: str) -> bool:
        try:
            return self._fernet.decrypt(cipher.encode("ascii")).decode("utf-8") == token
        except Exception:  # noqa: BLE001 - undecryptable (rotated key): not ours to keep either
            return True


def airflow_fernet() -> Any:
    """Airflow's Fernet as its Task SDK builds it from `[core] fernet_key` (a no-op one when the key is empty)."""
    from airflow.sdk.crypto import get_fernet

    return get_fernet()


def shared_token_for(login_url: str, client_id: str, client_secret: str) -> SharedToken | None:
    """The app's shared token, or None when sharing is off or there is no Fernet key to encrypt it with."""
    if not shared_token_enabled() or not client_id or not client_secret:
        return None
    try:
        fernet = airflow_fernet()
    except Exception as exc:  # noqa: BLE001 - a bad key fails Airflow's own encryption loudly; here it only costs a token
        log.warning("no shared Procore token: Airflow's Fernet key cannot be used (%s)", type(exc).__name__)
        return None
    if not getattr(fernet, "is_encrypted", False):
        log.info("no shared Procore token: Airflow has no Fernet key ([core] fernet_key), and a token is never stored in clear")
        return None
    return SharedToken(app_key(login_url, client_id, client_secret), fernet)
