"""ProcoreHook: the http provider's HttpHook, holding a Procore OAuth app's credentials.

Connection (conn type `http`, default id `procore_api`):
  host/schema/port -> API base URL (e.g. https://api.procore.com, or the local emulator)
  login / password -> OAuth client id / client secret
  extra            -> {"login_url": "https://login.procore.com",     # OAuth host (default: the API host)
                       "company_id": 1234,                           # Procore company of the Spectrum company
                       "companies": {"01": 1234, "02": 5678},        # optional: one per Spectrum company
                       "timeout": 60,                                # read timeout, seconds
                       "connect_timeout": 5,                         # connect timeout, seconds
                       "max_attempts": 8,                            # tries per call (429/5xx/connection)
                       "max_wait_s": 120}                            # longest wait the client accepts
Every call also takes a slot of the request budget all workers share (PROCORE_RATE_LIMITS, in the state DB:
procore/rate_budget.py), and the OAuth token is shared the same way, encrypted (procore/shared_token.py).
The session HttpHook builds keeps its transport settings (proxies, verify, cert) but never sends the
credentials as Basic auth or the extra as headers: the client uses a bearer token instead.
"""
from __future__ import annotations

from typing import Any

from airflow.providers.http.hooks.http import HttpHook
from requests import Session

from include.budget_import.procore.api import ProcoreBudgetApi
from include.budget_import.procore.client import ProcoreClient
from include.budget_import.procore.rate_budget import shared_budget_for
from include.budget_import.procore.shared_token import shared_token_for
from include.budget_import.settings import PROCORE_EXTRA_KEYS, procore_extra


class ProcoreHook(HttpHook):
    conn_name_attr = "http_conn_id"
    default_conn_name = "procore_api"
    conn_type = "http"
    hook_name = "Procore"

    def __init__(self, procore_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(method="GET", http_conn_id=procore_conn_id, **kwargs)

    def _configure_session_from_auth(self, session: Session, connection: Any) -> Session:
        return session  # the secret goes only to the token endpoint, never as Basic auth

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None) -> Session:
        session = super().get_conn(headers=headers, extra_options=extra_options)
        for key in PROCORE_EXTRA_KEYS:
            session.headers.pop(key, None)
        return session

    def _extra(self) -> dict[str, Any]:
        return dict(self.get_connection(self.http_conn_id).extra_dejson)

    def company_id_for(self, spectrum_company_code: str) -> int:
        """The Procore company that holds a Spectrum company's projects (one per company file)."""
        extra = self._extra()
        companies = extra.get("companies") or {}
        if spectrum_company_code in companies:
            return int(companies[spectrum_company_code])
        if companies:  # a map is the whole truth: a code missing from it is a mistake, not the fallback's company
            raise ValueError(f"Spectrum company {spectrum_company_code!r} is not mapped on connection {self.http_conn_id!r}: "
                             f"mapped companies are {', '.join(repr(c) for c in sorted(companies))} (extra.companies)")
        if extra.get("company_id") is None:
            raise ValueError(
                f"connection {self.http_conn_id!r} maps no Procore company for Spectrum company {spectrum_company_code!r}: "
                "set extra.company_id or extra.companies"
            )
        return int(extra["company_id"])

    def spectrum_company_codes(self) -> list[str]:
        """Spectrum companies the nightly run covers: the keys of extra.companies (if given)."""
        return sorted((self._extra().get("companies") or {}).keys())

    def get_client(self) -> ProcoreClient:
        connection = self.get_connection(self.http_conn_id)
        session = self.get_conn()
        extra = dict(connection.extra_dejson)
        login_url = str(procore_extra(extra, "login_url") or self.base_url)
        return ProcoreClient(
            session=session,
            api_base=self.base_url,
            login_url=login_url,
            client_id=connection.login or "",
            client_secret=connection.password or "",
            timeout=(float(procore_extra(extra, "connect_timeout")), float(procore_extra(extra, "timeout"))),
            max_attempts=int(procore_extra(extra, "max_attempts")),
            max_wait_s=float(procore_extra(extra, "max_wait_s")),
            rate_budget=shared_budget_for(connection.login or ""),  # every worker's calls share one budget (state DB)
            shared_token=shared_token_for(login_url, connection.login or "", connection.password or ""),  # and one token
        )

    def get_api(self) -> ProcoreBudgetApi:
        return ProcoreBudgetApi(self.get_client())
