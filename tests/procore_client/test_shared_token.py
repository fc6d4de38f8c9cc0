"""One OAuth token for every task while it lives (include/budget_import/procore/shared_token.py): stored
encrypted in the state DB (SQLite and PostgreSQL), refused tokens replaced, and nothing shared without a
Fernet key. Against the emulator over real HTTP; each client stands for one task process."""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from include.budget_import.procore import shared_token
from include.budget_import.procore.shared_token import SharedToken, app_key, shared_token_for
from tests.state_dbs import state_db as scratch_state_db

from .conftest import CLIENT_ID, COMPANY, SECRET, Emu, RecordingSession

COMPANIES = "/rest/v1.0/companies"


class AirflowLikeFernet:
    """What airflow.sdk.crypto.get_fernet gives for a configured key (its _RealFernet)."""

    is_encrypted = True

    def __init__(self) -> None:
        self._fernet = MultiFernet([Fernet(Fernet.generate_key())])

    def encrypt(self, msg: bytes) -> bytes:
        return self._fernet.encrypt(msg)

    def decrypt(self, msg: bytes | str, ttl: int | None = None) -> bytes:
        return self._fernet.decrypt(msg, ttl)


def token_requests(emu: Emu) -> int:
    return len(emu.requests(path_contains="/oauth/token"))


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):
    with scratch_state_db(request.param, tmp_path, "token") as url:
        yield url


def test_tasks_share_one_token_and_the_state_db_never_holds_it_in_clear(emu: Emu, state_url: str, tmp_path: Path) -> None:
    fernet = AirflowLikeFernet()
    store = SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, state_url)
    sessions = [RecordingSession() for _ in range(3)]
    clients = [emu.client(session=s, shared_token=SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, state_url))
               for s in sessions]
    for client in clients:  # one task after another, each with its own client, as Airflow runs them
        assert client.get_json(COMPANIES, company_id=COMPANY)[0]["id"] == COMPANY
    assert token_requests(emu) == 1
    assert [c.stats.token_fetches for c in clients] == [1, 0, 0]
    assert [c.stats.tokens_shared for c in clients] == [0, 1, 1]
    bearers = set().union(*(s.bearers for s in sessions))
    assert len(bearers) == 1
    (token,) = bearers
    stored = store.get()
    assert stored is not None and stored[0] == token
    import sqlalchemy as sa

    with sa.create_engine(state_url).connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT app_key, token FROM budget_procore_tokens"))]
    assert len(rows) == 1 and token not in str(rows) and SECRET not in str(rows) and CLIENT_ID not in str(rows)
    if state_url.startswith("sqlite:///"):
        raw = Path(state_url.removeprefix("sqlite:///")).read_bytes()
        assert token.encode() not in raw and SECRET.encode() not in raw


def test_a_refused_token_is_replaced_for_every_later_task(emu: Emu, tmp_path: Path) -> None:
    url, fernet = f"sqlite:///{tmp_path / 'state.db'}", AirflowLikeFernet()

    def task_client():
        return emu.client(shared_token=SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, url))

    first = task_client()
    first.get_json(COMPANIES, company_id=COMPANY)
    emu.admin("POST", "/tokens/expire")  # Procore no longer takes the stored token
    emu.admin("DELETE", "/requests")
    second = task_client()
    assert second.get_json(COMPANIES, company_id=COMPANY)[0]["id"] == COMPANY
    assert (second.stats.tokens_shared, second.stats.token_fetches) == (1, 1)  # took the stored one, refused, fetched
    third = task_client()
    third.get_json(COMPANIES, company_id=COMPANY)
    assert (third.stats.tokens_shared, third.stats.token_fetches) == (1, 0)  # the fresh one
    assert [c["status"] for c in emu.requests(path_contains="/rest/")] == [401, 200, 200]
    assert token_requests(emu) == 1


def test_another_secret_or_app_never_meets_the_token(emu: Emu, tmp_path: Path) -> None:
    url, fernet = f"sqlite:///{tmp_path / 'state.db'}", AirflowLikeFernet()
    SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, url).put("a-token", 4_000_000_000.0)
    assert SharedToken(app_key(emu.base_url, CLIENT_ID, "rotated-secret"), fernet, url).get() is None
    assert SharedToken(app_key(emu.base_url, "other-client", SECRET), fernet, url).get() is None
    assert SharedToken(app_key("https://login.procore.com", CLIENT_ID, SECRET), fernet, url).get() is None
    assert SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, url).get() == ("a-token", 4_000_000_000.0)
    assert SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, url).get(now=4_000_000_000.0) is None  # expired
    # another Fernet key (rotated) cannot read it: the task fetches its own token
    client = emu.client(shared_token=SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), AirflowLikeFernet(), url))
    client.get_json(COMPANIES, company_id=COMPANY)
    assert (client.stats.tokens_shared, client.stats.token_fetches) == (0, 1)


def test_the_first_task_of_a_fresh_deployment_makes_the_state_db_folder(emu: Emu, tmp_path: Path) -> None:
    """The default SQLite state DB lives in the reports folder, which a fresh deployment has not made yet."""
    url, fernet = f"sqlite:///{tmp_path / 'budget_reports' / 'budget_state.db'}", AirflowLikeFernet()
    clients = [emu.client(shared_token=SharedToken(app_key(emu.base_url, CLIENT_ID, SECRET), fernet, url)) for _ in range(2)]
    for client in clients:
        client.get_json(COMPANIES, company_id=COMPANY)
    assert [(c.stats.token_fetches, c.stats.tokens_shared) for c in clients] == [(1, 0), (0, 1)]
    assert (tmp_path / "budget_reports" / "budget_state.db").is_file()


def test_an_unreachable_state_db_costs_only_a_token(emu: Emu, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the state DB's folder should be")
    client = emu.client(shared_token=SharedToken("k", AirflowLikeFernet(), f"sqlite:///{blocked / 'state.db'}"))
    assert client.get_json(COMPANIES, company_id=COMPANY)[0]["id"] == COMPANY
    assert client.stats.token_fetches == 1


def test_nothing_is_shared_without_a_fernet_key_or_when_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's own Fernet from `[core] fernet_key`: empty means Airflow stores nothing encrypted, so neither do we."""
    from airflow.sdk.crypto import get_fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    get_fernet.cache_clear()
    assert shared_token_for("https://login.procore.com", CLIENT_ID, SECRET) is None
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    made = shared_token_for("https://login.procore.com", CLIENT_ID, SECRET)
    assert isinstance(made, SharedToken) and shared_token.airflow_fernet().is_encrypted
    monkeypatch.setenv("BUDGET_IMPORT_SHARED_TOKEN", "0")
    assert shared_token_for("https://login.procore.com", CLIENT_ID, SECRET) is None
    get_fernet.cache_clear()


def test_after_a_401_the_next_token_comes_from_procore_even_if_another_task_stored_one(emu: Emu, tmp_path: Path) -> None:
    """Between this task's 401 and its next call another task may store a token Procore refuses too; the
    renewal after a 401 must be Procore's answer, or the second refusal would fail the task."""
    url, fernet = f"sqlite:///{tmp_path / 'state.db'}", AirflowLikeFernet()
    key = app_key(emu.base_url, CLIENT_ID, SECRET)

    class AnotherTaskStoresTheStaleToken(SharedToken):
        def discard(self, token: str) -> None:
            super().discard(token)
            self.put(token, 4_000_000_000.0)

    emu.client(shared_token=SharedToken(key, fernet, url)).get_json(COMPANIES, company_id=COMPANY)
    emu.admin("POST", "/tokens/expire")
    client = emu.client(shared_token=AnotherTaskStoresTheStaleToken(key, fernet, url))
    assert client.get_json(COMPANIES, company_id=COMPANY)[0]["id"] == COMPANY
    assert (client.stats.tokens_shared, client.stats.token_fetches) == (1, 1)
