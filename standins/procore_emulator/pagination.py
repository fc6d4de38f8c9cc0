"""Procore-style paging: `page`/`per_page` in, `Total`, `Per-Page` and `Link` headers out.

Procore's headers match the Rails `api-pagination` gem: `Link` lists rel="first" and rel="prev"
unless on the first page, then rel="last" and rel="next" unless on (or past) the last page,
and is absent when there is only one page.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

from .errors import bad_request

V1_DEFAULT_PER_PAGE = 100
V1_MAX_PER_PAGE = 10000
V2_MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page:
    """The requested slice: 1-based page number and page size."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} is invalid") from None
    if value < 1:
        raise bad_request(f"{name} does not have a valid value")
    return value


def page_of(request: Request, max_per_page: int = V1_MAX_PER_PAGE, default: int = V1_DEFAULT_PER_PAGE) -> Page:
    """Read page/per_page; a per_page above the maximum is clamped to it (as Procore's docs describe)."""
    page = _positive_int(request, "page", 1)
    per_page = min(_positive_int(request, "per_page", min(default, max_per_page)), max_per_page)
    return Page(page, per_page)


def headers_for(request: Request, page: Page, total: int) -> dict[str, str]:
    """The Total, Per-Page and Link headers for one page of `total` items."""
    headers = {"Total": str(total), "Per-Page": str(page.per_page)}
    total_pages = math.ceil(total / page.per_page) if total else 0
    base = str(request.url.replace(query=""))
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def link(number: int, rel: str) -> str:
        query = urlencode(sorted(params + [("page", str(number))], key=lambda kv: kv[0]))
        return f'<{base}?{query}>; rel="{rel}"'

    links: list[str] = []
    if page.page > 1:
        links.append(link(1, "first"))
        links.append(link(page.page - 1, "prev"))
    if page.page < total_pages:
        links.append(link(total_pages, "last"))
        links.append(link(page.page + 1, "next"))
    if links:
        headers["Link"] = ", ".join(links)
    return headers
