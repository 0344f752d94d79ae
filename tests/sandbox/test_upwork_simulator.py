"""The Upwork simulator over real HTTP: OAuth 2.0 (authorize, code exchange, refresh rotation, expiry), and the
GraphQL API (tenants, scopes, validation, time reports, contracts, work diary), rate limits and injected faults."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.core import ServedSimulator
from sandbox.upwork import (
    ALL_SCOPES,
    COMMONS,
    CONTRACT,
    UpworkSimulator,
)

CLIENT_ID = "upwork-sandbox-client"
CLIENT_SECRET = "upwork-sandbox-secret"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
AUTHORIZE = "/ab/account-security/oauth2/authorize"
TOKEN = "/api/v3/oauth2/token"
START = 1_773_000_000.0  # the simulated clock's start (2026-03-08); tests move it with `advance`
DAY = 86400
VJCA_6 = "VJCA-6 'Input parameter provided has incorrect value'"

TIME_REPORT = """
query Backfill($filter: TimeReportFilter, $pagination: Pagination) {
  contractTimeReport(filter: $filter, pagination: $pagination) {
    totalCount
    edges { cursor node { dateWorkedOn memo task taskDescription totalHoursWorked totalCharges
      totalOnlineHoursWorked totalOfflineHoursWorked termId freelancer { id name } contract { id title } } }
    pageInfo { endCursor hasNextPage }
  }
}
"""


def at(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """A small, exactly known account: an agency, a client and a freelancer organisation of the user, an outside
    client; hourly contracts (one with a rate change on 2026-03-04, one without work diary, one ended), a
    fixed-price one, and work on 2026-03-02..05."""
    sim = UpworkSimulator(requests_per_second=None, clock=lambda: START)
    agency = sim.add_organization("Pixelwerk Agency", "agency")["id"]
    client = sim.add_organization("Nordlicht Client Org", "client")["id"]
    solo = sim.add_organization("Jana Novak (Freelancer)", "freelancer")["id"]
    outside = sim.add_organization("Stadtwerke Kiel", "client", member=False)["id"]
    joerg = sim.add_freelancer("Jörg", "Müller", "joerg@pixelwerk.example")
    john = sim.add_freelancer("John", "Smith")
    jana = sim.add_freelancer("Jana", "Novak", "jana@novak.example")

    def hourly(vendor: str, client_org: str, person: dict[str, Any], title: str, rate: float, **kw: Any) -> str:
        start = kw.pop("start", date(2026, 2, 2))
        return sim.add_contract(
            vendor_org=vendor,
            client_org=client_org,
            freelancer=person["id"],
            title=title,
            hourly_rate=rate,
            start=start,
            **kw,
        )["id"]

    relaunch = hourly(agency, client, joerg, "Website Relaunch", 40.0)
    sim.change_rate(relaunch, 50.0, date(2026, 3, 4))
    support = hourly(agency, outside, john, "Intranet Support", 30.0, diary_available=False)
    logo = sim.add_contract(
        vendor_org=agency,
        client_org=client,
        freelancer=joerg["id"],
        title="Logo Redesign",
        fixed_amount=1000.0,
        start=date(2026, 2, 2),
    )["id"]
    research = hourly(solo, client, jana, "UX Research", 60.0)
    ended = hourly(
        agency, outside, john, "Landingpage", 25.0, start=date(2026, 1, 5), status="ENDED", end=date(2026, 2, 20)
    )
    sim.add_work(relaunch, at("2026-03-02", 9), 12, memo="Header", task="Frontend")
    sim.add_work(relaunch, at("2026-03-02", 14), 6, memo="Review")
    sim.add_work(relaunch, at("2026-03-03", 9), 9, memo="Header", task="Frontend")
    sim.add_work(relaunch, at("2026-03-04", 9), 6, memo="Header", task="Frontend")
    sim.add_work(relaunch, at("2026-03-05", 10), 3, memo="Call", manual=True)
    sim.add_work(support, at("2026-03-03", 8), 6, memo="Support")
    sim.add_work(research, at("2026-03-04", 23), 12, memo="Interviews")  # runs past midnight UTC
    sim.add_work(ended, at("2026-02-10", 9), 6, memo="Layout")
    with ServedSimulator(sim) as served:
        yield {
            "sim": sim,
            "url": served.url,
            "agency": agency,
            "client": client,
            "solo": solo,
            "outside": outside,
            "relaunch": relaunch,
            "support": support,
            "logo": logo,
            "research": research,
            "ended": ended,
            "joerg": joerg,
            "john": john,
        }


@pytest.fixture(scope="module")
def http(world: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world["url"], timeout=5) as client:
        yield client


@pytest.fixture
def token(world: dict[str, Any]) -> str:
    return world["sim"].issue_tokens()["access_token"]


@pytest.fixture
def fresh() -> Iterator[tuple[UpworkSimulator, httpx.Client]]:
    """A simulator of its own (for tests that move its clock or change its key), served on loopback."""
    sim = UpworkSimulator(requests_per_second=None, clock=lambda: START)
    sim.add_organization("Pixelwerk Agency", "agency")
    with ServedSimulator(sim) as served, httpx.Client(base_url=served.url, timeout=5) as client:
        yield sim, client


def gql(
    client: httpx.Client,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
    tenant: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if tenant:
        headers["X-Upwork-API-TenantId"] = tenant
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()["errors"]


def authorize(client: httpx.Client, **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, **params}
    return client.get(AUTHORIZE, params=query)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def exchange(client: httpx.Client, code: str, *, basic: bool = True) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if basic:
        return client.post(TOKEN, data=form, auth=(CLIENT_ID, CLIENT_SECRET))
    return client.post(TOKEN, data={**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


def refresh(client: httpx.Client, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return client.post(TOKEN, data=form, auth=(CLIENT_ID, CLIENT_SECRET))


def time_report(world: dict[str, Any], start: str, end: str, **pagination: Any) -> dict[str, Any]:
    return {
        "filter": {"organizationId_eq": world["agency"], "timeReportDate_bt": {"rangeStart": start, "rangeEnd": end}},
        "pagination": pagination or None,
    }


# --- OAuth 2.0 ------------------------------------------------------------------------------------------------------
def test_authorize_redirects_back_with_a_code_and_the_state(http: httpx.Client) -> None:
    response = authorize(http, state="VtbX42")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = parse_qs(location.query)
    assert params["state"] == ["VtbX42"]
    assert params["code"][0]


def test_authorize_rejects_an_unknown_client_and_an_unregistered_redirect(http: httpx.Client) -> None:
    unknown = authorize(http, client_id="someone-else")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_client"
    elsewhere = authorize(http, redirect_uri="https://evil.example/callback")
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"] == "invalid_request"


def test_code_exchange_with_basic_credentials_gives_a_bearer_pair_and_the_code_works_once(
    http: httpx.Client,
) -> None:
    code = code_from(authorize(http, state="s"))
    response = exchange(http, code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "86400"
    assert body["access_token"] and body["refresh_token"]
    data(gql(http, body["access_token"], "{ user { id } }"))
    again = exchange(http, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_exchange_with_credentials_in_the_body(http: httpx.Client) -> None:
    response = exchange(http, code_from(authorize(http)), basic=False)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


def test_a_wrong_client_secret_is_invalid_client(http: httpx.Client) -> None:
    form = {"grant_type": "authorization_code", "code": code_from(authorize(http)), "redirect_uri": REDIRECT_URI}
    response = http.post(TOKEN, data=form, auth=(CLIENT_ID, "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_code_expires_after_ten_minutes(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, client = fresh
    code = code_from(authorize(client))
    sim.advance(601)
    response = exchange(client, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_expired_access_token_is_401_unauthorized(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, client = fresh
    access_token = sim.issue_tokens()["access_token"]
    data(gql(client, access_token, "{ user { id } }"))
    sim.advance(DAY - 1)
    data(gql(client, access_token, "{ user { id } }"))
    sim.advance(2)
    response = gql(client, access_token, "{ user { id } }")
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Unauthorized"}]}


def test_refresh_rotates_and_the_old_refresh_token_works_for_24_hours(
    fresh: tuple[UpworkSimulator, httpx.Client],
) -> None:
    sim, client = fresh
    first = sim.issue_tokens()
    rotated = refresh(client, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    data(gql(client, second["access_token"], "{ user { id } }"))

    sim.advance(23 * 3600)
    assert refresh(client, first["refresh_token"]).status_code == 200  # still within 24 h of the rotation
    sim.advance(3600 + 1)
    expired = refresh(client, first["refresh_token"])
    assert expired.status_code == 400
    assert expired.json() == {
        "error": "invalid_grant",
        "error_description": "Refresh token is expired or revoked or not registered",
    }
    assert refresh(client, second["refresh_token"]).status_code == 200  # the new one lives 14 days


def test_a_refresh_token_expires_after_14_days(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, client = fresh
    pair = sim.issue_tokens()
    sim.advance(14 * DAY + 1)
    assert refresh(client, pair["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_revoked_refresh_token_is_invalid_grant(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, client = fresh
    pair = sim.issue_tokens()
    sim.revoke_refresh_tokens()
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# --- organisations, tenants, scopes, errors -------------------------------------------------------------------------
def test_company_selector_lists_the_users_organisations_with_their_types(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    query = "{ companySelector { items { title organizationId organizationType organizationLegacyType typeTitle } } }"
    items = data(gql(http, token, query))["companySelector"]["items"]
    assert [
        (i["organizationId"], i["organizationType"], i["organizationLegacyType"], i["typeTitle"]) for i in items
    ] == [
        (world["agency"], "Business", "Vendor", "Agency"),
        (world["client"], "Business", "Client", "Client"),
        (world["solo"], "SoleProprietor", "Vendor", "Freelancer"),
    ]  # not the outside client


def test_organization_follows_the_tenant_header(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    query = "{ organization { id name type legacyType flag { client vendor agency individual } } }"
    default = data(gql(http, token, query))["organization"]
    assert default["id"] == world["agency"]  # the user's first organisation
    assert default["flag"] == {"client": False, "vendor": True, "agency": True, "individual": False}
    client = data(gql(http, token, query, tenant=world["client"]))["organization"]
    assert (client["id"], client["type"], client["legacyType"]) == (world["client"], "BUSINESS", "CLIENT")
    solo = data(gql(http, token, query, tenant=world["solo"]))["organization"]
    assert (solo["type"], solo["legacyType"], solo["flag"]["individual"]) == ("SOLE_PROPRIETOR", "VENDOR", True)


def test_user_shows_the_short_name(http: httpx.Client, token: str) -> None:
    user = data(gql(http, token, "{ user { id nid rid name email } }"))["user"]
    assert user["name"] == "Alex S."
    assert user["id"] and user["nid"] and user["rid"]


@pytest.mark.parametrize("tenant", ["outside", "unknown"])
def test_a_tenant_the_user_cannot_access_is_authorization_failed(
    world: dict[str, Any], http: httpx.Client, token: str, tenant: str
) -> None:
    tenant_id = world["outside"] if tenant == "outside" else "1234567890"
    response = gql(http, token, "{ user { id } organization { id } }", tenant=tenant_id)
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == "Authorization failed"


def test_an_unknown_field_is_a_validation_error_with_http_200(http: httpx.Client, token: str) -> None:
    response = gql(http, token, "{ user { id shoeSize } }")
    body = response.json()
    assert response.status_code == 200
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["classification"] == "ValidationError"
    assert error["message"].startswith("Validation error of type FieldUndefined")
    assert error["locations"] == [{"line": 1, "column": 13}]


def test_a_missing_argument_is_a_validation_error(http: httpx.Client, token: str) -> None:
    [error] = errors(gql(http, token, "{ contractDetails { id } }"))
    assert error["extensions"]["classification"] == "ValidationError"
    assert "MissingFieldArgument" in error["message"]


def test_a_missing_scope_aborts_the_whole_query(world: dict[str, Any], http: httpx.Client) -> None:
    narrow = world["sim"].issue_tokens(scopes={COMMONS, CONTRACT})["access_token"]
    query = """
    query($filter: TimeReportFilter, $pagination: Pagination) {
      user { id }
      contractTimeReport(filter: $filter, pagination: $pagination) { edges { node { freelancer { email } } } }
    }"""
    response = gql(http, narrow, query, time_report(world, "2026-03-02", "2026-03-05", first=10))
    body = response.json()
    assert response.status_code == 200
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"classification": "ExecutionAborted"}
    assert error["message"] == (
        "The client or authentication token doesn't have enough oauth2 permissions/scopes to access: "
        "[GenericUser.email, Query.contractTimeReport]."
    )
    assert data(gql(http, narrow, "{ user { id } contractList(ids: []) { contracts { id } } }"))


def test_set_scopes_narrows_what_existing_tokens_may_read(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, client = fresh
    access_token = sim.issue_tokens()["access_token"]
    data(gql(client, access_token, "{ user { email } }"))
    sim.set_scopes(ALL_SCOPES - {"pub-userdetails:read:all"})
    [error] = errors(gql(client, access_token, "{ user { id email } }"))
    assert error["message"].endswith("[CurrentUser.email].")
    assert data(gql(client, access_token, "{ user { id } }"))


def test_rate_limit_answers_429_above_the_requests_per_second() -> None:
    sim = UpworkSimulator(requests_per_second=3, clock=lambda: START)
    access_token = sim.issue_tokens()["access_token"]
    with ServedSimulator(sim) as served, httpx.Client(base_url=served.url, timeout=5) as client:
        statuses = [gql(client, access_token, "{ user { id } }") for _ in range(4)]
    assert [response.status_code for response in statuses] == [200, 200, 200, 429]
    assert statuses[-1].headers["Retry-After"] == "1"


def test_an_injected_fault_answers_once(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    world["sim"].faults.fail_next(1, 503)
    failed = gql(http, token, "{ user { id } }")
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["message"] == "Service Unavailable"
    data(gql(http, token, "{ user { id } }"))


# --- time reports ---------------------------------------------------------------------------------------------------
def test_time_report_pages_with_cursors_and_totals_match_the_seeded_cells(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    nodes, cursor, pages = [], "0", 0
    while True:
        variables = time_report(world, "2026-03-02", "2026-03-05", first=2, after=cursor)
        connection = data(gql(http, token, TIME_REPORT, variables, tenant=world["agency"]))["contractTimeReport"]
        pages += 1
        assert connection["totalCount"] == 6
        assert len(connection["edges"]) <= 2
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]
        assert cursor == connection["edges"][-1]["cursor"]
    assert pages == 3
    assert sum(round(node["totalHoursWorked"] * 6) for node in nodes) == 12 + 6 + 9 + 6 + 3 + 6
    assert [(n["dateWorkedOn"], n["contract"]["id"], n["memo"]) for n in nodes] == [
        ("2026-03-02", world["relaunch"], "Header"),
        ("2026-03-02", world["relaunch"], "Review"),
        ("2026-03-03", world["relaunch"], "Header"),
        ("2026-03-03", world["support"], "Support"),
        ("2026-03-04", world["relaunch"], "Header"),
        ("2026-03-05", world["relaunch"], "Call"),
    ]  # the research contract belongs to the freelancer organisation, the ended one has no work in range
    first = nodes[0]
    assert (first["task"] is not None, first["taskDescription"]) == (True, "Frontend")
    assert nodes[1]["task"] is None
    assert first["freelancer"] == {"id": world["joerg"]["id"], "name": "Jörg M."}


def test_time_report_charges_follow_the_rate_in_effect_each_day(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    variables = time_report(world, "2026-03-03", "2026-03-05", first=500)
    variables["filter"]["contractIds"] = [world["relaunch"]]
    nodes = [edge["node"] for edge in data(gql(http, token, TIME_REPORT, variables))["contractTimeReport"]["edges"]]
    assert [(n["dateWorkedOn"], n["totalCharges"]) for n in nodes] == [
        ("2026-03-03", 60.0),  # 1.5 h at 40
        ("2026-03-04", 50.0),  # 1 h at 50
        ("2026-03-05", 25.0),  # 0.5 h at 50, manual
    ]
    assert nodes[0]["termId"] != nodes[1]["termId"]
    assert (nodes[2]["totalOnlineHoursWorked"], nodes[2]["totalOfflineHoursWorked"]) == (0.0, 0.5)


def test_time_report_accepts_both_date_formats(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    dashed = data(gql(http, token, TIME_REPORT, time_report(world, "2026-03-02", "2026-03-03", first=50)))
    compact = data(gql(http, token, TIME_REPORT, time_report(world, "20260302", "20260303", first=50)))
    assert dashed == compact
    assert dashed["contractTimeReport"]["totalCount"] == 4  # both ends inclusive


def test_time_report_refuses_first_above_500(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    response = gql(http, token, TIME_REPORT, time_report(world, "2026-03-02", "2026-03-05", first=501))
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == VJCA_6


def test_time_report_of_another_organisation_is_authorization_failed(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    variables = time_report(world, "2026-03-02", "2026-03-05", first=10)
    [error] = errors(gql(http, token, TIME_REPORT, variables, tenant=world["client"]))
    assert error["message"] == "Authorization failed"
    assert error["path"] == ["contractTimeReport"]


def test_a_client_organisation_sees_the_contracts_it_hired(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    variables = time_report(world, "2026-03-02", "2026-03-05", first=50)
    variables["filter"]["organizationId_eq"] = world["client"]
    nodes = data(gql(http, token, TIME_REPORT, variables, tenant=world["client"]))["contractTimeReport"]["edges"]
    contracts = {edge["node"]["contract"]["id"] for edge in nodes}
    assert contracts == {world["relaunch"], world["research"]}  # the agency's and the freelancer's
    research_days = [e["node"]["dateWorkedOn"] for e in nodes if e["node"]["contract"]["id"] == world["research"]]
    assert research_days == ["2026-03-04", "2026-03-05"]  # split at midnight UTC


# --- contracts ------------------------------------------------------------------------------------------------------
CONTRACT_FIELDS = """
  id title status startDate endDate
  freelancer { id name email } clientOrganization { id name } vendorOrganization { id }
  metadata { agencyContract } hourlyLimits { weeklyLimit }
  terms { hourlyTerms { id hourlyRate { rawValue currency displayValue } startDate endDate jobType }
          fixedPriceTerms { fixedAmount { rawValue currency } jobType } }
"""


def test_contract_list_shows_the_term_history_after_a_rate_change(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    query = f"query($ids: [ID!]!) {{ contractList(ids: $ids) {{ contracts {{ {CONTRACT_FIELDS} }} }} }}"
    ids = [world["relaunch"], world["logo"], world["ended"]]
    relaunch, logo, ended = data(gql(http, token, query, {"ids": ids}))["contractList"]["contracts"]
    assert [(t["hourlyRate"]["rawValue"], t["startDate"], t["endDate"]) for t in relaunch["terms"]["hourlyTerms"]] == [
        ("40.00", "2026-02-02", "2026-03-03"),
        ("50.00", "2026-03-04", None),
    ]
    assert relaunch["terms"]["hourlyTerms"][0]["hourlyRate"]["displayValue"] == "$40.00"
    assert relaunch["terms"]["fixedPriceTerms"] == []
    assert relaunch["metadata"] == {"agencyContract": True}
    assert relaunch["freelancer"]["email"] == "joerg@pixelwerk.example"
    assert relaunch["clientOrganization"] == {"id": world["client"], "name": "Nordlicht Client Org"}
    assert logo["terms"]["hourlyTerms"] == []
    assert logo["terms"]["fixedPriceTerms"] == [
        {"fixedAmount": {"rawValue": "1000.00", "currency": "USD"}, "jobType": "FIXED"}
    ]
    assert (ended["status"], ended["endDate"]) == ("ENDED", "2026-02-20")
    assert ended["terms"]["hourlyTerms"][-1]["endDate"] == "2026-02-20"


def test_contract_list_with_a_contract_of_another_organisation_is_authorization_failed(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    query = "query($ids: [ID!]!) { contractList(ids: $ids) { contracts { id } } }"
    response = gql(http, token, query, {"ids": [world["relaunch"], world["research"]]})
    body = response.json()
    assert body["data"] == {"contractList": None}
    assert body["errors"][0]["message"] == "Authorization failed"


def test_vendor_contracts_pages_by_offset(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    query = """
    query($filter: VendorContractSearchFilter!, $paging: ContractPagingInput, $options: ContractOptionsInput) {
      vendorContracts(filter: $filter, paging: $paging, options: $options) {
        paging { limit offset total } contracts { id terms { hourlyTerms { id } } hourlyLimits { weeklyLimit } }
      }
    }"""
    filter_ = {"vendorId": world["agency"]}
    first = data(gql(http, token, query, {"filter": filter_, "paging": {"limit": 2, "includeTotalCount": True}}))
    page = first["vendorContracts"]
    assert page["paging"] == {"limit": 2, "offset": 0, "total": 4}
    assert [c["id"] for c in page["contracts"]] == [world["relaunch"], world["support"]]
    assert page["contracts"][0]["terms"] is None  # options.addTerms defaults to false
    second = data(
        gql(http, token, query, {"filter": filter_, "paging": {"limit": 2, "offset": 2}, "options": {"addTerms": True}})
    )["vendorContracts"]
    assert second["paging"] == {"limit": 2, "offset": 2, "total": None}
    assert [c["id"] for c in second["contracts"]] == [world["logo"], world["ended"]]
    assert second["contracts"][0]["terms"] == {"hourlyTerms": []}
    active = data(gql(http, token, query, {"filter": {**filter_, "contractStatuses": ["ENDED"]}}))
    assert [c["id"] for c in active["vendorContracts"]["contracts"]] == [world["ended"]]


def test_contract_details_of_a_visible_contract(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    query = f'{{ contractDetails(id: "{world["support"]}") {{ {CONTRACT_FIELDS} }} }}'
    details = data(gql(http, token, query))["contractDetails"]
    assert details["freelancer"] == {"id": world["john"]["id"], "name": "John S.", "email": None}
    assert details["hourlyLimits"] == [{"weeklyLimit": "40"}]


# --- work diary -----------------------------------------------------------------------------------------------------
DIARY = """
query($input: WorkDiaryContractInput!) {
  workDiaryContract(workDiaryContractInput: $input) {
    workDiaryMetadata { timezoneOffset archivingDateTime }
    workDiaryTimeCells { cellDateTime { rawValue displayValue } snapshotDateTime { rawValue }
      manual memo task { id description } activityLevel hasScreenshot screenshotImageUrl }
  }
}"""
WORK_DAYS = """
query($input: WorkdaysInput!) { workDays(workdaysInput: $input) { workDays } }"""


def test_work_days_lists_days_with_tracked_time(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    contracts = [world["relaunch"], world["support"]]
    window = {"rangeStart": "20260301", "rangeEnd": "20260331"}
    merged = data(gql(http, token, WORK_DAYS, {"input": {"contractIds": contracts, "timeRange": window}}))
    assert merged["workDays"]["workDays"] == ["20260302", "20260303", "20260304", "20260305"]
    research = {"contractIds": [world["research"]], "timeRange": window}
    utc = data(gql(http, token, WORK_DAYS, {"input": research}, tenant=world["solo"]))["workDays"]["workDays"]
    assert utc == ["20260304", "20260305"]
    shifted = {**research, "offsetInSeconds": 3600}
    local = data(gql(http, token, WORK_DAYS, {"input": shifted}, tenant=world["solo"]))["workDays"]["workDays"]
    assert local == ["20260305"]


def test_work_diary_has_one_cell_per_ten_minutes(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    diary = data(gql(http, token, DIARY, {"input": {"contractId": world["relaunch"], "date": "20260302"}}))
    cells = diary["workDiaryContract"]["workDiaryTimeCells"]
    assert len(cells) == 18
    starts = [int(cell["cellDateTime"]["rawValue"]) for cell in cells]
    assert starts[0] == int(at("2026-03-02", 9).timestamp())
    assert starts[11] - starts[0] == 11 * 600
    assert starts[12] == int(at("2026-03-02", 14).timestamp())
    assert cells[0]["cellDateTime"]["displayValue"] == "09:00"
    assert cells[0]["task"]["description"] == "Frontend"
    assert (cells[12]["memo"], cells[12]["task"]) == ("Review", None)
    assert all(cell["hasScreenshot"] and not cell["manual"] for cell in cells)
    assert starts[0] < int(cells[0]["snapshotDateTime"]["rawValue"]) < starts[0] + 600
    assert diary["workDiaryContract"]["workDiaryMetadata"]["timezoneOffset"] == "0"
    manual = data(gql(http, token, DIARY, {"input": {"contractId": world["relaunch"], "date": "2026-03-05"}}))
    [*_, last] = manual["workDiaryContract"]["workDiaryTimeCells"]
    assert (last["manual"], last["hasScreenshot"], last["snapshotDateTime"]) == (True, False, None)


def test_work_diary_with_an_offset_shifts_the_day(world: dict[str, Any], http: httpx.Client, token: str) -> None:
    variables = {"input": {"contractId": world["research"], "date": "20260305", "offsetInSeconds": 3600}}
    cells = data(gql(http, token, DIARY, variables, tenant=world["solo"]))["workDiaryContract"]["workDiaryTimeCells"]
    assert len(cells) == 12
    assert cells[0]["cellDateTime"]["displayValue"] == "00:00"


def test_a_contract_without_work_diary_has_no_cells_but_its_time_is_reported(
    world: dict[str, Any], http: httpx.Client, token: str
) -> None:
    diary = data(gql(http, token, DIARY, {"input": {"contractId": world["support"], "date": "20260303"}}))
    assert diary["workDiaryContract"]["workDiaryTimeCells"] == []
    window = {"rangeStart": "20260301", "rangeEnd": "20260331"}
    days = data(gql(http, token, WORK_DAYS, {"input": {"contractIds": [world["support"]], "timeRange": window}}))
    assert days["workDays"]["workDays"] == ["20260303"]
    variables = time_report(world, "2026-03-03", "2026-03-03", first=10)
    variables["filter"]["contractIds"] = [world["support"]]
    [edge] = data(gql(http, token, TIME_REPORT, variables))["contractTimeReport"]["edges"]
    assert edge["node"]["totalHoursWorked"] == 1.0


# --- seeding --------------------------------------------------------------------------------------------------------
def test_edit_work_changes_the_reported_hours(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, client = fresh
    [agency] = sim.organizations()
    customer = sim.add_organization("Nordlicht Client Org", "client")["id"]
    person = sim.add_freelancer("Anna", "Schmidt")["id"]
    contract = sim.add_contract(
        vendor_org=agency["id"],
        client_org=customer,
        freelancer=person,
        title="Support",
        hourly_rate=30.0,
        start=date(2026, 3, 1),
    )["id"]
    sim.add_work(contract, at("2026-03-02", 9), 6, memo="Tickets")
    access_token = sim.issue_tokens()["access_token"]
    variables = {
        "filter": {
            "organizationId_eq": agency["id"],
            "timeReportDate_bt": {"rangeStart": "2026-03-02", "rangeEnd": "2026-03-02"},
        }
    }

    def hours() -> float:
        edges = data(gql(client, access_token, TIME_REPORT, variables))["contractTimeReport"]["edges"]
        return sum(edge["node"]["totalHoursWorked"] for edge in edges)

    assert hours() == 1.0
    sim.edit_work(contract, date(2026, 3, 2), 9)
    assert hours() == 1.5
    sim.edit_work(contract, date(2026, 3, 2), 3)
    assert hours() == 0.5
    with pytest.raises(ValueError, match="10-minute boundary"):
        sim.add_work(contract, at("2026-03-03", 9, 5), 1)
    with pytest.raises(ValueError, match="already has work"):
        sim.add_work(contract, at("2026-03-02", 9), 1)


def test_seed_demo_builds_the_documented_account() -> None:
    sim = UpworkSimulator(requests_per_second=None, clock=lambda: START)
    today = date(2026, 3, 16)
    sim.seed_demo(today)
    members = [org for org in sim.organizations() if org["member"]]
    assert [(org["name"], org["kind"]) for org in members] == [
        ("Pixelwerk Agency", "agency"),
        ("Nordlicht Client Org", "client"),
        ("Jana Novak (Freelancer)", "freelancer"),
    ]
    names = {person["name"]: person["email"] for person in sim.freelancers()}
    assert 4 <= len(names) <= 6
    assert "Jörg M." in names and "John S." in names
    assert any(email is None for email in names.values())
    contracts = sim.contracts()
    hourly = [c for c in contracts if c["terms"]["hourlyTerms"]]
    assert any(len(c["terms"]["hourlyTerms"]) > 1 for c in hourly)
    change = next(c for c in hourly if len(c["terms"]["hourlyTerms"]) > 1)["terms"]["hourlyTerms"][-1]["startDate"]
    assert today - timedelta(days=90) <= date.fromisoformat(change) <= today
    assert any(c["terms"]["fixedPriceTerms"] for c in contracts)
    assert any(c["status"] == "ENDED" for c in contracts)
    assert any(not sim._contracts[c["id"]].diary_available for c in contracts)
    worked = {datetime.fromtimestamp(t, UTC).date() for c in sim._contracts.values() for t in c.cells}
    assert min(worked) >= today - timedelta(days=60)
    assert max(worked) < today
    assert all(day.weekday() < 5 for day in worked)


def test_pausing_and_cancelling_show_in_the_contract_list(fresh: tuple[UpworkSimulator, httpx.Client]) -> None:
    sim, http = fresh
    agency = sim.organizations()[0]["id"]
    client = sim.add_organization("Nordlicht", "client")["id"]
    person = sim.add_freelancer("Anna", "Schmidt")["id"]
    relaunch, support = (
        sim.add_contract(
            vendor_org=agency,
            client_org=client,
            freelancer=person,
            title=title,
            hourly_rate=40.0,
            start=date(2026, 2, 2),
        )["id"]
        for title in ("Relaunch", "Support")
    )
    sim.set_status(relaunch, "PAUSED")
    sim.set_status(support, "CANCELLED", end=date(2026, 3, 3))
    query = "query($ids: [ID!]!) { contractList(ids: $ids) { contracts { id status endDate modifyDate } } }"
    token = sim.issue_tokens()["access_token"]
    contracts = data(gql(http, token, query, {"ids": [relaunch, support]}, tenant=agency))["contractList"]["contracts"]
    paused, cancelled = contracts
    changed = datetime.fromtimestamp(sim.now(), UTC).isoformat().replace("+00:00", "Z")
    assert (paused["status"], paused["endDate"], paused["modifyDate"]) == ("PAUSED", None, changed)
    assert (cancelled["status"], cancelled["endDate"]) == ("CANCELLED", "2026-03-03")
    with pytest.raises(ValueError, match="cancelled; Upwork cannot restart it"):
        sim.set_status(support, "ACTIVE")
