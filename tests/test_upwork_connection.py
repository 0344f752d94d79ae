"""Upwork: connecting over OAuth, refreshing organisations, contracts, freelancers and rates, and the mappings."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from queue import Queue
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from cli import app
from cli.upwork import pending_state_file, sync_state, wait_for_redirect
from connectors.upwork import MalformedResponseError, UpworkScopeError
from flows.refresh_upwork import refresh_upwork
from models.settings import get_settings
from models.upwork_store import CONFIRMED, CONNECTED, NEEDS_REAUTHORIZATION, SUGGESTED
from tasks.shared import upwork_client, upwork_store

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


def start_connect() -> str:
    """`timebridge upwork connect`, answered with Enter (finish later): the authorize URL it printed."""
    started = runner.invoke(app, ["upwork", "connect"], input="\n")
    assert started.exit_code == 0, started.output
    return re.search(r"\S+oauth2/authorize\?response_type=code\S+", started.output).group(0)


def approve(authorize_url: str) -> str:
    """The browser: approve at Upwork and get redirected; the URL it was redirected to."""
    return httpx.get(authorize_url, follow_redirects=False).headers["location"]


def connect(upwork) -> None:
    """The two steps of `timebridge upwork connect` with the browser part of the OAuth dance in between."""
    result = runner.invoke(app, ["upwork", "connect", "--redirect-url", approve(start_connect())])
    assert result.exit_code == 0, result.output
    assert "Connected" in result.output


def org_id(upwork, name: str) -> str:
    return next(o["id"] for o in upwork.organizations() if o["name"] == name)


def freelancer_id(upwork, first: str) -> str:
    return next(f["id"] for f in upwork.freelancers() if f["firstName"] == first)


def test_connect_refresh_rotate_revoke_and_reauthorize(upwork, awork_people, settings):
    connect(upwork)
    store = upwork_store(get_settings())
    first = store.load()
    with store.engine.connect() as raw:  # tokens are encrypted at rest
        row = raw.execute(text("select access_token, refresh_token from upwork_connections")).one()
    assert first.refresh_token.get_secret_value() not in " ".join(row)

    refresh_upwork()
    mappings_before = len(store.user_mappings())
    assert mappings_before > 0

    upwork.advance(25 * 3600)  # the access token expired at Upwork
    refresh_upwork()
    rotated = store.load()
    assert rotated.refresh_token.get_secret_value() != first.refresh_token.get_secret_value()
    assert store.connection().status == CONNECTED

    upwork.revoke_refresh_tokens()
    upwork.advance(25 * 3600)
    with pytest.raises(Exception, match="expired or revoked"):
        refresh_upwork()
    assert store.connection().status == NEEDS_REAUTHORIZATION
    assert len(store.user_mappings()) == mappings_before  # nothing lost

    connect(upwork)
    assert store.connection().status == CONNECTED
    assert refresh_upwork().status == "completed"


def test_three_organisations_each_with_own_mappings_and_refresh_state(upwork, awork_people):
    connect(upwork)
    store = upwork_store(get_settings())
    kinds = {o.name: o.kind for o in store.organizations()}
    assert kinds == {
        "Pixelwerk Agency": "agency",
        "Nordlicht Client Org": "client",
        "Jana Novak (Freelancer)": "freelancer",
    }
    agency, client = org_id(upwork, "Pixelwerk Agency"), org_id(upwork, "Nordlicht Client Org")
    assert {m.freelancer_id for m in store.user_mappings(agency)} >= {
        freelancer_id(upwork, "Jörg"),
        freelancer_id(upwork, "John"),
    }
    assert {c.organization_id for c in store.contracts()} == {o.id for o in store.organizations()}
    refreshed = {o.id: o.last_refresh_at for o in store.organizations()}

    refresh_upwork(organization_ids=[client])

    after = {o.id: o.last_refresh_at for o in store.organizations()}
    assert after[client] > refreshed[client] and after[agency] == refreshed[agency]


def test_suggestions_wait_for_confirmation_and_locked_mappings_survive(upwork, awork_people):
    connect(upwork)
    store = upwork_store(get_settings())
    agency = org_id(upwork, "Pixelwerk Agency")
    john = store.user_mapping(agency, freelancer_id(upwork, "John"))
    assert (john.state, john.awork_user_id) == (SUGGESTED, awork_people["john"]["id"])  # "John S." ~ John Smith
    anna = store.user_mapping(agency, freelancer_id(upwork, "Anna"))
    assert anna.awork_user_id == awork_people["anna"]["id"]  # same e-mail beats the two Annas
    assert all(m.state != CONFIRMED for m in store.user_mappings())  # nothing applied unconfirmed

    joerg_id = freelancer_id(upwork, "Jörg")
    result = runner.invoke(
        app, ["upwork", "map-user", joerg_id, "--org", agency, "--awork-user", awork_people["jana"]["id"]]
    )
    assert result.exit_code == 0, result.output
    refresh_upwork()
    kept = store.user_mapping(agency, joerg_id)
    assert (kept.state, kept.locked, kept.awork_user_id) == (CONFIRMED, True, awork_people["jana"]["id"])

    runner.invoke(app, ["upwork", "map-user", joerg_id, "--org", agency, "--unlock"])
    refresh_upwork()
    assert store.user_mapping(agency, joerg_id).awork_user_id == awork_people["joerg"]["id"]  # suggested again


def test_refresh_follows_new_contracts_freelancers_status_and_rates_keeping_mappings(upwork, awork_people, sims):
    connect(upwork)
    store = upwork_store(get_settings())
    agency, client = org_id(upwork, "Pixelwerk Agency"), org_id(upwork, "Nordlicht Client Org")
    relaunch = next(c for c in upwork.contracts() if c["title"].startswith("Website Relaunch"))
    project = sims.awork.add_project("Relaunch", project_key="REL")
    mapped = runner.invoke(
        app, ["upwork", "map-contract", relaunch["id"], "--org", agency, "--project", project["id"], "--pay-rate", "30"]
    )
    assert mapped.exit_code == 0, mapped.output
    joerg = freelancer_id(upwork, "Jörg")
    runner.invoke(app, ["upwork", "map-user", joerg, "--org", agency, "--confirm"])
    newcomer = upwork.add_freelancer("Lena", "Fischer", "lena@pixelwerk.example")
    today = upwork.today()
    upwork.add_contract(
        vendor_org=agency, client_org=client, freelancer=newcomer["id"], title="SEO", hourly_rate=40.0, start=today
    )
    second = upwork.add_contract(
        vendor_org=agency, client_org=client, freelancer=joerg, title="Relaunch Phase 2", hourly_rate=55.0, start=today
    )
    upwork.change_rate(relaunch["id"], 58.0, today)
    landing = next(c for c in upwork.contracts() if c["title"] == "Onlineshop Wartung")
    upwork.set_status(landing["id"], "PAUSED")

    refresh_upwork()

    contracts = {c.id: c for c in store.contracts(agency)}
    assert {"SEO", "Relaunch Phase 2"} <= {c.title for c in contracts.values()}
    assert contracts[landing["id"]].status == "PAUSED"
    assert [r.hourly_rate for r in store.rates(relaunch["id"])][-1] == Decimal("58.00")
    mapping = store.contract_mappings()[(agency, relaunch["id"])]
    assert (mapping.awork_project_id, mapping.pay_rate, mapping.enabled) == (project["id"], Decimal("30.00"), True)
    assert store.contract_mappings()[(agency, second["id"])].bill_rate == Decimal(
        "55.00"
    )  # an agency bills the Upwork rate
    assert store.user_mapping(agency, joerg).state == CONFIRMED  # the new contract inherits Jörg's mapping
    assert store.user_mapping(agency, newcomer["id"]) is not None
    states = {
        c.title: sync_state(store, c, store.contract_mappings().get((agency, c.id)))[0] for c in contracts.values()
    }
    assert states["Website Relaunch – Frontend"] is True and states["SEO"] is False
    plan = runner.invoke(app, ["upwork", "plan"])
    assert plan.exit_code == 0 and "Pixelwerk Agency (agency)" in plan.output


def test_client_organisation_prefills_the_pay_rate(upwork, awork_people):
    connect(upwork)
    store = upwork_store(get_settings())
    client = org_id(upwork, "Nordlicht Client Org")
    mapping = next(store.contract_mappings()[(client, c.id)] for c in store.contracts(client) if c.kind == "hourly")
    assert mapping.pay_rate is not None and mapping.bill_rate is None


def test_missing_scope_is_a_clear_error_and_not_retried(upwork):
    connect(upwork)
    upwork.set_scopes({"pub-commons:read:all"})
    store = upwork_store(get_settings())
    mark = upwork.log.mark()
    with upwork_client(get_settings(), store) as client, pytest.raises(UpworkScopeError, match="permissions/scopes"):
        list(client.time_report(org_id(upwork, "Pixelwerk Agency"), upwork.today() - timedelta(days=7), upwork.today()))
    assert len([e for e in upwork.log.since(mark) if e.path == "/graphql"]) == 1


def test_malformed_answer_and_429_burst(upwork):
    connect(upwork)
    store = upwork_store(get_settings())
    upwork.faults.corrupt_next(lambda body: {"data": None}, route="/graphql", method="POST")
    with upwork_client(get_settings(), store) as client, pytest.raises(MalformedResponseError):
        client.organizations()
    upwork.faults.fail_next(3, 429)
    with upwork_client(get_settings(), store) as client:
        assert len(client.organizations()) == 3


def test_disconnect_keeps_mappings_and_refresh_then_needs_a_connection(upwork, awork_people):
    connect(upwork)
    store = upwork_store(get_settings())
    mappings = len(store.user_mappings())
    assert runner.invoke(app, ["upwork", "disconnect"]).exit_code == 0
    assert len(store.user_mappings()) == mappings and store.load() is None
    with pytest.raises(Exception, match="not connected"):
        refresh_upwork()
    refused = runner.invoke(app, ["upwork", "refresh"])
    assert refused.exit_code == 1 and "run `timebridge upwork connect`" in " ".join(refused.output.split())
    orgs = runner.invoke(app, ["upwork", "orgs"])
    assert "connection: disconnected" in orgs.output and "agency" in orgs.output and "client" in orgs.output


def test_a_token_about_to_expire_is_refreshed_before_the_call(upwork):
    connect(upwork)
    store = upwork_store(get_settings())
    tokens = store.load()
    store.save(tokens.model_copy(update={"expires_at": datetime.now(UTC) + timedelta(minutes=1)}))
    mark = upwork.log.mark()
    with upwork_client(get_settings(), store) as client:
        client.organizations()
    assert [(e.path, e.status) for e in upwork.log.since(mark)] == [("/api/v3/oauth2/token", 200), ("/graphql", 200)]
    assert store.load().refresh_token.get_secret_value() != tokens.refresh_token.get_secret_value()


def test_connect_can_catch_the_redirect_on_the_loopback_uri(upwork):
    settings = get_settings()
    query = urlencode(
        {"response_type": "code", "client_id": settings.upwork_client_id, "redirect_uri": settings.upwork_redirect_uri}
    )
    with ThreadPoolExecutor(1) as pool:
        caught = pool.submit(wait_for_redirect, settings.upwork_redirect_uri, 10.0)
        for _ in range(100):  # the browser: follow the authorize redirect to the loopback listener, once it listens
            try:
                page = httpx.get(f"{settings.upwork_authorize_url}?{query}&state=s1", follow_redirects=True)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        redirect = caught.result(timeout=10)
    assert "connected to Upwork" in page.text
    assert "code=" in redirect and "state=s1" in redirect


def worked_days(client, organization_id: str, contract_id: str, first_day, last_day) -> list:
    """The days on which the time report shows time of the contract."""
    rows = client.time_report(organization_id, first_day, last_day, [contract_id])
    return sorted({row.date_worked_on for row in rows if row.hours})


def test_the_work_diary_of_worked_days(upwork):
    connect(upwork)
    store = upwork_store(get_settings())
    assert store.connection().user_name  # who connected
    agency = org_id(upwork, "Pixelwerk Agency")
    relaunch = next(c for c in upwork.contracts() if c["title"].startswith("Website Relaunch"))
    intranet = next(c for c in upwork.contracts() if c["title"] == "Intranet Support")
    today = upwork.today()
    with upwork_client(get_settings(), store) as client:
        days = worked_days(client, agency, relaunch["id"], today - timedelta(days=14), today)
        cells = client.work_diaries(agency, [(relaunch["id"], days[-1])])[(relaunch["id"], days[-1])]
        assert days and all(d.weekday() < 5 for d in days)
        assert cells and all(c.start.date() == days[-1] and c.start.minute % 10 == 0 for c in cells)
        assert any(c.memo for c in cells)
        no_diary_day = worked_days(client, agency, intranet["id"], today - timedelta(days=14), today)[-1]
        assert client.work_diaries(agency, [(intranet["id"], no_diary_day)]) == {(intranet["id"], no_diary_day): []}


def test_work_diaries_of_many_days_come_ten_per_request(upwork):
    connect(upwork)
    store = upwork_store(get_settings())
    agency = org_id(upwork, "Pixelwerk Agency")
    relaunch = next(c for c in upwork.contracts() if c["title"].startswith("Website Relaunch"))["id"]
    intranet = next(c for c in upwork.contracts() if c["title"] == "Intranet Support")["id"]
    with upwork_client(get_settings(), store) as client:
        days = worked_days(client, agency, relaunch, upwork.today() - timedelta(days=30), upwork.today())
        wanted = [(relaunch, day) for day in days] + [(intranet, days[-1])]
        before = client.http.requests
        diaries = client.work_diaries(agency, wanted)
        assert client.http.requests - before == -(-len(wanted) // 10)  # aliases: ten (contract, day) per request
        assert diaries[(relaunch, days[3])] == client.work_diaries(agency, [(relaunch, days[3])])[(relaunch, days[3])]
    assert diaries[(intranet, days[-1])] == []
    expected = {
        day: sum(1 for t in upwork._contracts[relaunch].cells if datetime.fromtimestamp(t, UTC).date() == day)
        for day in days
    }
    assert {day: len(diaries[(relaunch, day)]) for day in days} == expected


def test_connect_refuses_a_redirect_with_a_wrong_or_missing_state_and_stores_nothing(upwork):
    redirect = approve(start_connect())
    forged = redirect.replace("state=", "state=x")
    stateless = re.sub(r"&?state=[^&]*", "", redirect)
    for url in (forged, stateless):
        refused = runner.invoke(app, ["upwork", "connect", "--redirect-url", url])
        assert refused.exit_code == 2, refused.output
        assert "state" in refused.output and "Connected" not in refused.output
    assert upwork_store(get_settings()).connection() is None
    assert [e.path for e in upwork.log.entries if e.path == "/api/v3/oauth2/token"] == []  # no code was spent


def test_connect_with_a_bare_code_needs_the_state_of_the_printed_url_or_an_explicit_no_check(upwork):
    query = parse_qs(urlparse(approve(start_connect())).query)
    code, state = query["code"][0], query["state"][0]
    alone = runner.invoke(app, ["upwork", "connect", "--code", code])
    assert alone.exit_code == 2 and "--state" in alone.output
    wrong = runner.invoke(app, ["upwork", "connect", "--code", code, "--state", "guessed"])
    assert wrong.exit_code == 2 and "does not match" in wrong.output
    assert upwork_store(get_settings()).connection() is None
    right = runner.invoke(app, ["upwork", "connect", "--code", code, "--state", state])
    assert right.exit_code == 0 and "Connected" in right.output, right.output
    assert upwork_store(get_settings()).connection().status == CONNECTED
    replayed = runner.invoke(app, ["upwork", "connect", "--code", code, "--state", state])
    assert replayed.exit_code == 2 and "No connect is pending" in replayed.output  # a state is good once

    unchecked = parse_qs(urlparse(approve(start_connect())).query)["code"][0]
    explicit = runner.invoke(app, ["upwork", "connect", "--code", unchecked, "--no-state-check"])
    assert explicit.exit_code == 0 and "Connected" in explicit.output, explicit.output


def pending_state() -> str:
    """The state a running `connect` saved for its authorize URL, once it is there."""
    pending = pending_state_file(get_settings().database_url)
    for _ in range(200):
        if pending.exists() and (state := pending.read_text()):
            return state
        time.sleep(0.05)
    raise AssertionError("`connect` saved no state")


def authorize_url(state: str) -> str:
    settings = get_settings()
    query = {"response_type": "code", "client_id": settings.upwork_client_id, "state": state}
    return f"{settings.upwork_authorize_url}?{urlencode({**query, 'redirect_uri': settings.upwork_redirect_uri})}"


@pytest.mark.parametrize("forged", [False, True])
def test_connect_checks_the_state_of_a_pasted_redirect(upwork, forged, monkeypatch):
    keyboard: Queue[str] = Queue()
    monkeypatch.setattr(typer, "prompt", lambda *args, **kwargs: keyboard.get(timeout=10))
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.invoke, app, ["upwork", "connect"])
        state = pending_state()
        keyboard.put(approve(authorize_url("forged" if forged else state)))
        outcome = running.result(timeout=10)
    assert_connected_unless_forged(outcome, forged)


def assert_connected_unless_forged(outcome, forged: bool) -> None:
    """A forged state is refused and nothing is stored; the right one connects."""
    if forged:
        assert outcome.exit_code == 2 and "does not match" in outcome.output
        assert upwork_store(get_settings()).connection() is None
    else:
        assert outcome.exit_code == 0 and "Connected" in outcome.output, outcome.output


@pytest.mark.parametrize("forged", [False, True])
def test_connect_listen_checks_the_state_of_the_caught_redirect(upwork, forged):
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.invoke, app, ["upwork", "connect", "--listen"])
        state = pending_state()
        for _ in range(200):  # the browser: once `connect` listens, approve and follow the redirect to it
            try:
                httpx.get(authorize_url("forged" if forged else state), follow_redirects=True)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        outcome = running.result(timeout=10)
    assert_connected_unless_forged(outcome, forged)
