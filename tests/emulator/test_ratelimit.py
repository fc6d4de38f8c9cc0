"""Rate-limit headers on every answer, 429 past the rolling spike window, the hourly window, per-client counting."""
from __future__ import annotations

import time

from .conftest import COMPANY, Emu

MESSAGE = "You have surpassed the max number of requests for an hour. Please wait until your limit resets."
HEADERS = ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset")


def test_headers_on_every_answer(emu: Emu) -> None:
    api = emu.api()
    answers = [
        api.get("/rest/v1.0/companies"),                                  # 200
        api.get("/rest/v1.0/projects/1/budget"),                          # 404
        emu.anon.get("/rest/v1.0/companies"),                             # 401
        emu.api(company_id=None).get("/rest/v1.0/companies"),             # 400
        emu.anon.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "demo-client",
                                            "client_secret": "bad"}),    # 401 on /oauth
        api.get("/rest/v1.0/no_such_endpoint"),                           # 404 route
    ]
    for answer in answers:
        for header in HEADERS:
            assert header in answer.headers, (answer.status_code, answer.url)
        assert int(answer.headers["X-Rate-Limit-Reset"]) >= int(time.time())
    assert [a.status_code for a in answers] == [200, 404, 401, 400, 401, 404]


def test_remaining_counts_down_including_failures(emu: Emu) -> None:
    api = emu.api()
    emu.admin("PUT", "/limits", json={"hourly_limit": 50, "spike_limit": 1000})
    first = api.get("/rest/v1.0/companies")
    failed = api.get("/rest/v1.0/projects/1/budget")
    third = api.get("/rest/v1.0/companies")
    assert first.headers["X-Rate-Limit-Limit"] == "50"
    assert [int(a.headers["X-Rate-Limit-Remaining"]) for a in (first, failed, third)] == [49, 48, 47]


def test_429_past_the_spike_window_then_reset(emu: Emu) -> None:
    api = emu.api()  # the token request counts too, so fetch it before setting the limit
    emu.admin("PUT", "/limits", json={"spike_limit": 5, "spike_window_seconds": 2})
    answers = [api.get("/rest/v1.0/companies") for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    limited = answers[5]
    assert limited.json() == {"message": MESSAGE}
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    assert limited.headers["X-Rate-Limit-Remaining"] == "0" and limited.headers["X-Rate-Limit-Limit"] == "5"
    assert 0 < int(limited.headers["X-Rate-Limit-Reset"]) - time.time() <= 3  # unix seconds, rounded up
    time.sleep(retry_after + 0.05)
    assert api.get("/rest/v1.0/companies").status_code == 200


def test_spike_window_rolls(emu: Emu) -> None:
    """A request counts for spike_window_seconds after it was made; a fixed window would forget all at once."""
    api = emu.api()
    emu.admin("PUT", "/limits", json={"spike_limit": 3, "spike_window_seconds": 2})
    first = api.get("/rest/v1.0/companies")
    started = time.time()
    assert first.headers["X-Rate-Limit-Limit"] == "3" and first.headers["X-Rate-Limit-Remaining"] == "2"
    assert int(first.headers["X-Rate-Limit-Reset"]) == int(-(-(started + 2) // 1)) or \
        abs(int(first.headers["X-Rate-Limit-Reset"]) - (started + 2)) <= 1
    time.sleep(1.0)
    second, third = api.get("/rest/v1.0/companies"), api.get("/rest/v1.0/companies")
    assert [second.status_code, third.status_code] == [200, 200]
    # the reset is when the oldest counted request (the first) expires, not a window after the last one
    assert abs(int(third.headers["X-Rate-Limit-Reset"]) - (started + 2)) <= 1
    refused = api.get("/rest/v1.0/companies")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 2
    time.sleep(max(0.0, started + 2.1 - time.time()))  # the first request has expired; the other two still count
    assert api.get("/rest/v1.0/companies").status_code == 200
    after = api.get("/rest/v1.0/companies")
    assert after.status_code == 429  # a fixed window would have started afresh and allowed it
    assert after.headers["X-Rate-Limit-Remaining"] == "0"


def test_token_requests_count_for_their_client(emu: Emu) -> None:
    emu.admin("PUT", "/limits", json={"hourly_limit": 2})
    api = emu.api()  # request 1: the token
    assert api.get("/rest/v1.0/companies").status_code == 200  # request 2
    assert api.get("/rest/v1.0/companies").status_code == 429


def test_hourly_limit_and_per_client_buckets(emu: Emu) -> None:
    demo, viewer = emu.api(), emu.api("viewer-client")  # tokens fetched before the limit is set
    emu.admin("PUT", "/limits", json={"hourly_limit": 3})
    assert [demo.get("/rest/v1.0/companies").status_code for _ in range(4)] == [200, 200, 200, 429]
    blocked = demo.get("/rest/v1.0/companies")
    assert blocked.status_code == 429 and 3500 <= int(blocked.headers["Retry-After"]) <= 3600
    assert blocked.headers["X-Rate-Limit-Limit"] == "3"
    assert viewer.get("/rest/v1.0/companies", headers={"Procore-Company-Id": str(COMPANY)}).status_code == 200


def test_limits_admin_round_trip(emu: Emu) -> None:
    assert emu.admin("GET", "/limits")["spike_limit"] == 1000
    updated = emu.admin("PUT", "/limits", json={"spike_limit": 25})
    assert updated["spike_limit"] == 25 and updated["hourly_limit"] == 100000
    assert emu.anon.put("/_emulator/limits", json={"spike_limit": 0}).status_code == 422
    assert emu.anon.put("/_emulator/limits", json={"bogus": 1}).status_code == 422
    # the admin API itself is never limited
    emu.admin("PUT", "/limits", json={"spike_limit": 1})
    assert all(emu.anon.get("/_emulator/limits").status_code == 200 for _ in range(5))
