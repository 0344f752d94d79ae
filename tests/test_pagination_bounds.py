"""Pagination stays home and stops: a next-page link to another scheme, host or port is refused before anything is
sent there (the API key never leaves its API), and every paginated read (MOCO links, awork pages, Upwork cursors)
ends with a clear error after `http_max_pages` pages or when a cursor comes round again."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from connectors.http import ForeignLinkError, PaginationError, build_client, paginate_link_header, paginate_page_size
from connectors.upwork import UpworkClient
from models.settings import get_settings
from sandbox.core import ServedSimulator, SimRequest, SimResponse, Simulator, route
from sandbox.moco import MocoSimulator
from tasks.shared import upwork_store
from tests.conftest import MOCO_KEY
from tests.test_token_refresh import connect_without_browser


class EndlessList(Simulator):
    """A list that never ends: every page is full (`pageSize` items, else one) and links to `next_link(host, page)`."""

    base_path = "/api/v1"

    def __init__(self) -> None:
        super().__init__()
        self.next_link: Callable[[str, int], str] = lambda host, page: f"http://{host}/api/v1/companies?page={page + 1}"

    @route("GET", "/companies")
    def _companies(self, request: SimRequest) -> SimResponse:
        page = request.int_param("page", 1)
        items = [{"id": page * 1000 + n, "name": f"Firma {page}.{n}"} for n in range(request.int_param("pageSize", 1))]
        return SimResponse(200, items, {"Link": f'<{self.next_link(request.headers["host"], page)}>; rel="next"'})


@pytest.fixture
def home() -> Iterator[ServedSimulator]:
    with ServedSimulator(EndlessList()) as served:
        yield served


def moco_http(url: str, max_pages: int = 10_000):
    return build_client("moco", url, {"Authorization": SecretStr(f"Token token={MOCO_KEY}")}, max_pages=max_pages)


@pytest.mark.parametrize("kind", ["another port", "another host", "another scheme"])
def test_a_next_page_link_to_another_origin_is_refused_before_anything_is_sent(home, kind):
    with ServedSimulator(MocoSimulator(api_keys=[MOCO_KEY])) as foreign:
        port = home.port
        links = {
            "another port": (f"{foreign.url}/companies?page=2", f"http://127.0.0.1:{foreign.port}"),
            "another host": (f"http://localhost:{port}/api/v1/companies?page=2", f"http://localhost:{port}"),
            "another scheme": (f"https://127.0.0.1:{port}/api/v1/companies?page=2", f"https://127.0.0.1:{port}"),
        }
        link, origin = links[kind]
        home.app.next_link = lambda host, page: link
        pages = paginate_link_header(moco_http(home.url), "companies", {}, 100)
        assert next(pages)["name"] == "Firma 1.0"
        with pytest.raises(ForeignLinkError) as refused:
            next(pages)
    assert f"points to {origin}," in str(refused.value)
    assert len(home.app.log.entries) == 1  # nothing sent after the first page, to any host
    assert foreign.app.log.entries == []


def test_a_link_header_list_that_never_ends_stops_after_max_pages(home):
    with pytest.raises(PaginationError, match="still more pages after 5.*TIMEBRIDGE_HTTP_MAX_PAGES"):
        list(paginate_link_header(moco_http(home.url, max_pages=5), "companies", {}, 100))
    assert len(home.app.log.entries) == 5


def test_a_next_page_link_that_comes_round_again_is_an_error_not_a_loop(home):
    home.app.next_link = lambda host, page: f"http://{host}/api/v1/companies?page=2"
    with pytest.raises(PaginationError, match="repeats"):
        list(paginate_link_header(moco_http(home.url), "companies", {}, 100))
    assert [e.query.get("page") for e in home.app.log.entries] == [["1"], ["2"]]


def test_a_page_size_list_that_never_ends_stops_after_max_pages(home):
    http = build_client("awork", home.url, {}, max_pages=4)
    with pytest.raises(PaginationError, match="still more pages after 4"):
        list(paginate_page_size(http, "companies", {}, 3))
    assert [e.query["page"] for e in home.app.log.entries] == [["1"], ["2"], ["3"], ["4"]]


def endless_time_report(cursor: Callable[[int], str]) -> Callable[[dict], dict]:
    """contractTimeReport answers altered to announce another page, the n-th at `cursor(n)`."""
    pages = itertools.count(1)

    def alter(body: dict) -> dict:
        body["data"]["contractTimeReport"]["pageInfo"] = {"endCursor": cursor(next(pages)), "hasNextPage": True}
        return body

    return alter


@pytest.mark.parametrize(
    ("cursor", "error", "pages"),
    [(lambda n: "7", "repeats", 2), (str, "still more pages after 3", 3)],
    ids=["repeating cursor", "endless cursor"],
)
def test_an_upwork_time_report_that_never_ends_stops(upwork, cursor, error, pages):
    upwork.limits.clear()
    connect_without_browser(upwork)
    upwork.faults.corrupt_next(endless_time_report(cursor), times=10, method="POST", route="/graphql")
    organization = upwork.organizations()[0]["id"]
    settings = get_settings().model_copy(update={"http_max_pages": 3})
    mark = upwork.log.mark()
    with (
        UpworkClient.from_settings(settings, tokens=upwork_store(settings)) as client,
        pytest.raises(PaginationError, match=error),
    ):
        list(client.time_report(organization, upwork.today() - timedelta(days=7), upwork.today()))
    assert len(upwork.log.since(mark)) == pages
