"""connectors.http: rate limiting, retries, typed errors, pagination, secrets (against the simulators over HTTP)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from connectors.awork import AworkClient
from connectors.http import (
    AmbiguousWriteError,
    AuthError,
    NotFoundError,
    RateLimit,
    RateLimitedError,
    RetryPolicy,
    TokenBucket,
    ValidationFailedError,
    build_client,
    paginate_link_header,
    url_path,
)
from connectors.moco import PER_PAGE, MocoClient
from connectors.upwork import UpworkClient
from flows.backfill_upwork import backfill_upwork
from models.settings import get_settings
from tasks.shared import upwork_store
from tests.conftest import AWORK_KEY, MOCO_KEY
from tests.test_token_refresh import connect_without_browser
from tests.test_upwork_backfill import awork_entries, expected_entries, world  # noqa: F401 (world: a fixture)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_bursts_then_paces():
    clock = FakeClock()
    bucket = TokenBucket(capacity=3, rate=2.0, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize(("limit", "window"), [(120, 120.0), (50, 1.0), (1000, 60.0), (3, 10.0)])
def test_rate_limit_bucket_never_exceeds_the_documented_limit_in_any_window(limit, window):
    clock = FakeClock()
    bucket = RateLimit(limit, window).bucket()
    bucket._clock, bucket._sleep, bucket._updated = clock, clock.sleep, 0.0
    times = []
    for _ in range(limit * 3):
        bucket.acquire()
        times.append(clock.now)
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + window)
        assert in_window <= limit


def moco_client(url: str, sleeps: list[float], key: str = MOCO_KEY, attempts: int = 5) -> MocoClient:
    return MocoClient(
        build_client(
            "moco",
            url,
            {"Authorization": SecretStr(f"Token token={key}")},
            retry=RetryPolicy(max_attempts=attempts, backoff=0.001, backoff_max=0.01, sleep=sleeps.append),
        )
    )


def moco_customers(client: MocoClient) -> list[dict]:
    """MOCO's customers through the HTTP layer alone (`GET /companies`, every page)."""
    return list(paginate_link_header(client.http, "companies", {"type": "customer"}, PER_PAGE))


def test_429_is_retried_no_sooner_than_retry_after(sims):
    sims.moco.add_company("Pixelwerk GmbH")
    sims.moco.faults.fail_next(2, 429)
    sleeps: list[float] = []
    client = moco_client(sims.moco_url, sleeps)
    assert [c["name"] for c in moco_customers(client)] == ["Pixelwerk GmbH"]
    assert client.http.requests == 3
    assert len(sleeps) == 2 and min(sleeps) >= 1.0  # the simulator says Retry-After: 1


def test_rate_limited_error_after_the_last_attempt(sims):
    sims.moco.faults.fail_next(10, 429)
    with pytest.raises(RateLimitedError) as caught:
        moco_customers(moco_client(sims.moco_url, [], attempts=3))
    assert caught.value.status == 429 and caught.value.retry_after == 1.0


def test_503_on_a_post_is_retried_because_the_server_did_not_act(sims):
    sims.awork.faults.fail_next(2, 503, method="POST")
    sleeps: list[float] = []
    http = build_client(
        "awork",
        sims.awork_url,
        {"Authorization": SecretStr(f"Bearer {AWORK_KEY}")},
        retry=RetryPolicy(max_attempts=4, backoff=0.001, sleep=sleeps.append),
    )
    company = AworkClient(http).create_company("Nordlicht AG")
    assert company.name == "Nordlicht AG"
    assert len(sims.awork.companies()) == 1 and len(sleeps) == 2


def test_502_after_a_post_is_ambiguous_and_not_repeated(sims):
    sims.awork.faults.fail_next(1, 502, method="POST", after_processing=True)
    http = build_client("awork", sims.awork_url, {"Authorization": SecretStr(f"Bearer {AWORK_KEY}")})
    with pytest.raises(AmbiguousWriteError):
        AworkClient(http).create_company("Nordlicht AG")
    assert len(sims.awork.companies()) == 1  # the write happened once; the caller looks it up (tasks.idempotent)
    assert http.requests == 1


def test_5xx_on_a_get_is_retried(sims):
    sims.awork.faults.fail_next(3, 500, method="GET")
    client = AworkClient(
        build_client(
            "awork",
            sims.awork_url,
            {"Authorization": SecretStr(f"Bearer {AWORK_KEY}")},
            retry=RetryPolicy(max_attempts=5, backoff=0.001, sleep=lambda s: None),
        )
    )
    assert client.companies() == []
    assert client.http.requests == 4


def test_errors_are_typed_and_carry_the_api_message_but_no_secret(sims):
    client = moco_client(sims.moco_url, [])
    with pytest.raises(NotFoundError):
        client.http.get(url_path("projects", 424242))
    with pytest.raises(ValidationFailedError) as invalid:
        client.http.request("POST", "companies", json={"type": "customer"})
    assert "name" in str(invalid.value).lower()
    wrong = moco_client(sims.moco_url, [], key="s3cr3t-wrong-key")
    with pytest.raises(AuthError) as denied:
        moco_customers(wrong)
    assert "s3cr3t" not in str(denied.value) and "s3cr3t" not in repr(wrong.http)
    assert "Unauthorized" in str(denied.value)


def test_moco_pagination_follows_link_headers_with_100_per_page(sims):
    for n in range(250):
        sims.moco.add_company(f"Kunde {n:03}")
    client = moco_client(sims.moco_url, [])
    names = [c["name"] for c in moco_customers(client)]
    assert names == [f"Kunde {n:03}" for n in range(250)]
    pages = [e for e in sims.moco.log.entries if e.route == "/companies"]
    assert len(pages) == 3
    assert pages[0].query["per_page"] == ["100"]


def test_awork_pagination_uses_pages_of_1000(sims):
    for n in range(1001):
        sims.awork.add_company(f"Firma {n}")
    client = AworkClient(build_client("awork", sims.awork_url, {"Authorization": SecretStr(f"Bearer {AWORK_KEY}")}))
    assert len(client.companies()) == 1001
    pages = [e for e in sims.awork.log.entries if e.route == "/companies"]
    assert [e.query["pageSize"] for e in pages] == [["1000"], ["1000"]]


def test_missing_base_url_is_a_clear_error():
    with pytest.raises(ValueError, match="TIMEBRIDGE_MOCO_BASE_URL"):
        build_client("moco", "", {})


def test_an_upwork_query_is_retried_after_a_read_timeout_and_a_502(upwork):
    upwork.limits.clear()
    connect_without_browser(upwork)
    upwork.faults.fail_next(1, 502, route="/graphql", after_processing=True)
    upwork.faults.fail_next(1, 502, route="/graphql", after_processing=True, delay=0.5)  # no answer in time
    settings = get_settings().model_copy(update={"http_timeout_seconds": 0.2})
    with UpworkClient.from_settings(settings, tokens=upwork_store(settings)) as client:
        assert client.current_user().id == upwork.me.id
        assert client.http.requests == 3


@pytest.mark.usefixtures("prefect_harness")
def test_a_backfill_completes_through_502s_on_its_time_report_queries(upwork, world, awork_people, sims):  # noqa: F811
    def time_report(request) -> bool:
        return "contractTimeReport" in str((request.body or {}).get("query"))

    upwork.faults.fail_next(2, 502, route="/graphql", when=time_report, after_processing=True)
    summary = backfill_upwork()
    assert summary.status == "completed", summary.issues
    assert awork_entries(sims) == expected_entries(upwork, world, awork_people)
    assert [e.status for e in upwork.log.entries if e.status >= 500] == [502, 502]


def test_an_id_cannot_change_the_path():
    sent: list[bytes] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.raw_path)
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(server)
    moco = MocoClient(build_client("moco", "https://acme.mocoapp.com/api/v1", {}, transport=transport))
    awork = AworkClient(build_client("awork", "https://api.awork.com/api/v1", {}, transport=transport))
    moco.delete_activity(1, "1/../users")
    moco.http.get(url_path("projects", "7?include_archived=true#x", "tasks"))
    awork.delete_time_entry("../users")
    assert sent == [
        b"/api/v1/activities/1%2F..%2Fusers",
        b"/api/v1/projects/7%3Finclude_archived%3Dtrue%23x/tasks",
        b"/api/v1/timeentries/..%2Fusers",
    ]
    with pytest.raises(ValueError, match="'..' is not a usable id"):
        url_path("projects", "..")
