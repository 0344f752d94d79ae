"""The Upwork review step as a manager runs it in the terminal, asserted on the printed rows."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli import app
from cli.console import console
from flows.backfill_upwork import backfill_upwork
from flows.refresh_upwork import refresh_upwork
from tests.test_upwork_connection import approve, connect, freelancer_id, org_id, start_connect

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Tables wide enough that every row prints on one line."""
    monkeypatch.setattr(console, "width", 250)


def invoke(*args: str) -> str:
    result = runner.invoke(app, ["upwork", *args])
    assert result.exit_code == 0, result.output
    return result.output


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the printed tables, each as its cells' texts."""
    return [[cell.strip() for cell in line.strip("│ ").split("│")] for line in output.splitlines() if "│" in line]


def printed_rows(output: str) -> dict[str, list[str]]:
    """The body rows of the printed tables by their first cell."""
    return {row[0]: row for row in table_rows(output)}


def contract_id(upwork, title: str) -> str:
    return next(c["id"] for c in upwork.contracts() if c["title"] == title)


RELAUNCH, SHOP = "Website Relaunch – Frontend", "Onlineshop Wartung"


@pytest.fixture
def mapped(upwork, awork_people, sims) -> dict[str, str]:
    """Connected and refreshed; Jörg confirmed and the relaunch contract mapped to an awork project at pay 30."""
    connect(upwork)
    agency = org_id(upwork, "Pixelwerk Agency")
    project = sims.awork.add_project("Relaunch", project_key="REL")
    invoke("map-user", freelancer_id(upwork, "Jörg"), "--org", agency, "--confirm")
    invoke(
        "map-contract", contract_id(upwork, RELAUNCH), "--org", agency, "--project", project["id"], "--pay-rate", "30"
    )
    return {"agency": agency, "project": project["id"]}


def test_plan_shows_the_mapped_contract_with_project_rates_and_yes_and_why_others_do_not_sync(mapped):
    rows = printed_rows(invoke("plan"))
    assert rows[RELAUNCH][2:] == [mapped["project"], "30.00", "50.00", "yes"]
    assert rows[SHOP][2:] == ["", "-", "38.00", "no: no awork project selected"]
    assert rows["Logo Redesign"][-1] == "no: fixed-price: no time to sync"


def test_contracts_shows_the_mapped_contract_with_project_rates_and_yes(mapped, upwork):
    rows = printed_rows(invoke("contracts", "--org", mapped["agency"]))
    relaunch = rows[contract_id(upwork, RELAUNCH)]
    assert relaunch[2] == RELAUNCH and relaunch[-4:] == [mapped["project"], "30.00", "50.00", "yes"]
    assert rows[contract_id(upwork, SHOP)][-4:] == ["", "-", "38.00", "no awork project selected"]


def test_connect_prints_the_organisations_and_orgs_lists_them_without_a_refresh(upwork):
    output = invoke("connect", "--redirect-url", approve(start_connect()))
    connected = printed_rows(output)
    kinds = {"Pixelwerk Agency": "agency", "Nordlicht Client Org": "client", "Jana Novak (Freelancer)": "freelancer"}
    agency = org_id(upwork, "Pixelwerk Agency")
    assert {row[1]: row[2] for row in connected.values()} == kinds
    assert connected[agency][3:6] == ["yes", "4", "5"]  # Jörg, Anna, John, Mehmet; five contracts, one fixed-price
    assert connected[agency][6] != "never"  # connecting refreshed it
    assert {row[1] for row in printed_rows(invoke("orgs")).values()} == set(kinds)


def test_new_project_is_created_once_in_the_company_found_by_name_and_mapped(mapped, upwork, sims):
    company = sims.awork.add_company("Nordlicht GmbH")
    shop = contract_id(upwork, SHOP)
    args = ("map-contract", shop, "--org", mapped["agency"], "--new-project", "Onlineshop 2026", "--company")
    first = invoke(*args, "nordlicht gmbh")
    again = invoke(*args, "Nordlicht GmbH")

    [project] = [p for p in sims.awork.projects() if p["name"] == "Onlineshop 2026"]
    assert project["companyId"] == company["id"] and len(sims.awork.companies()) == 1
    assert "created awork project Onlineshop 2026" in first and "found awork project Onlineshop 2026" in again
    assert printed_rows(invoke("plan"))[SHOP][2:] == [
        project["id"],
        "-",
        "38.00",
        "no: freelancer not mapped to a confirmed awork user",
    ]


def test_new_project_creates_a_missing_company(mapped, upwork, sims):
    invoke(
        "map-contract",
        contract_id(upwork, SHOP),
        "--org",
        mapped["agency"],
        "--new-project",
        "Shop",
        "--company",
        "Bäckerei Schmidt",
    )
    [company] = sims.awork.companies()
    assert company["name"] == "Bäckerei Schmidt"
    assert next(p for p in sims.awork.projects() if p["name"] == "Shop")["companyId"] == company["id"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--project", "p-1", "--new-project", "Shop"), "not both"),
        (("--company", "Nordlicht GmbH"), "--company names the company of a --new-project"),
    ],
)
def test_map_contract_refuses_options_it_would_ignore_and_changes_nothing(mapped, upwork, sims, options, message):
    shop = contract_id(upwork, SHOP)
    refused = runner.invoke(app, ["upwork", "map-contract", shop, "--org", mapped["agency"], *options])
    assert refused.exit_code == 2 and message in refused.output
    assert printed_rows(invoke("plan"))[SHOP][2:] == ["", "-", "38.00", "no: no awork project selected"]
    assert not [p for p in sims.awork.projects() if p["name"] == "Shop"] and not sims.awork.companies()


def invitations(sims) -> list:
    return [e for e in sims.awork.log.entries if e.method == "POST" and e.path.endswith("/invitations")]


def test_invite_sends_one_invitation_and_maps_the_invitee_once_they_accept(mapped, upwork, sims):
    mehmet, email = freelancer_id(upwork, "Mehmet"), "mehmet@pixelwerk.example"
    invite = ("map-user", mehmet, "--org", mapped["agency"], "--invite", email)
    assert "invited mehmet@pixelwerk.example to awork" in invoke(*invite)
    assert "has not accepted yet" in invoke(*invite)
    refresh_upwork()  # a refresh leaves the invitation's mapping alone
    [invitee] = [u for u in sims.awork.users() if u["userContactInfos"] and u["userContactInfos"][0]["value"] == email]
    assert (invitee["firstName"], invitee["status"]["invitationAccepted"]) == ("Mehmet", False)
    assert user_row(mapped["agency"], mehmet)[4:8] == ["invited", invitee["id"], "yes", "on"]

    early = runner.invoke(app, ["upwork", "map-user", mehmet, "--org", mapped["agency"], "--confirm"])
    assert early.exit_code == 2 and "has not accepted yet" in early.output  # not confirmed before they accept

    sims.awork.accept_invitation(email)
    refresh_upwork()  # the next refresh sees the invitation accepted
    assert user_row(mapped["agency"], mehmet)[4:6] == ["confirmed", invitee["id"]]
    assert f"confirmed -> {invitee['id']} (locked)" in invoke(*invite)  # --invite again changes nothing
    assert len(invitations(sims)) == 1

    sims.awork.add_type_of_work("Upwork")  # the invitee's hours (an ended contract, within 90 days) reach them
    invoke(
        "map-contract",
        contract_id(upwork, "Kampagnen-Landingpage"),
        "--org",
        mapped["agency"],
        "--project",
        mapped["project"],
    )
    backfill_upwork(organization_ids=[mapped["agency"]])
    theirs = [e for e in sims.awork.time_entries() if e["userId"] == invitee["id"]]
    assert theirs and {e["projectId"] for e in theirs} == {mapped["project"]}


def user_row(organization_id: str, freelancer: str) -> list[str]:
    """The freelancer's row of `upwork users`."""
    output = invoke("users", "--org", organization_id)
    return next(row for row in table_rows(output) if row[1] == freelancer)


def test_confirm_all_confirms_the_unambiguous_suggestions_and_lists_the_rest(upwork, awork_people):
    connect(upwork)
    agency = org_id(upwork, "Pixelwerk Agency")
    output = invoke("map-user", "--confirm-all", "--org", agency)
    assert "confirmed 3 suggestion(s)" in output  # Jörg by name, John as "John S.", Anna by e-mail
    [left] = [row for row in table_rows(output)]
    assert left[1:5] == [freelancer_id(upwork, "Mehmet"), "Mehmet Y.", "unmapped", ""]
    states = {row[1]: row[4] for row in table_rows(invoke("users", "--org", agency))}
    assert states[freelancer_id(upwork, "Anna")] == "confirmed"
    assert "confirmed 0 suggestion(s)" in invoke("map-user", "--confirm-all", "--org", agency)


def test_a_locked_mapping_changes_only_after_unlock_or_with_force(upwork, awork_people):
    connect(upwork)
    agency, joerg = org_id(upwork, "Pixelwerk Agency"), freelancer_id(upwork, "Jörg")
    invoke("map-user", joerg, "--org", agency, "--confirm")
    change = ("map-user", joerg, "--org", agency, "--awork-user", awork_people["jana"]["id"])
    refused = runner.invoke(app, ["upwork", *change])
    assert refused.exit_code == 2 and "is locked to awork user" in refused.output and "--unlock" in refused.output
    assert user_row(agency, joerg)[4:6] == ["confirmed", awork_people["joerg"]["id"]]

    invoke(*change, "--unlock")
    assert user_row(agency, joerg)[4:7] == ["confirmed", awork_people["jana"]["id"], "yes"]
    invoke("map-user", joerg, "--org", agency, "--awork-user", awork_people["joerg"]["id"], "--force")
    assert user_row(agency, joerg)[4:6] == ["confirmed", awork_people["joerg"]["id"]]


def test_why_names_the_first_failing_condition_and_lists_all(mapped, upwork):
    relaunch = contract_id(upwork, RELAUNCH)
    output = invoke("why", relaunch, "--org", mapped["agency"])
    assert f"{RELAUNCH} ({mapped['agency']}/{relaunch}) does not sync: entries in the window" in output
    conditions = {row[0]: row[1] for row in table_rows(output)}
    assert list(conditions.values()) == ["yes"] * 6 + ["NO", "NO", "yes"]  # no backfill yet: no entries, no run

    shop = invoke("why", contract_id(upwork, SHOP), "--org", mapped["agency"])
    assert "does not sync: freelancer mapped and syncing (suggested -> " in shop


def test_why_asks_for_the_organisation_of_a_contract_two_organisations_see(mapped, upwork):
    both = runner.invoke(app, ["upwork", "why", contract_id(upwork, RELAUNCH)])
    assert both.exit_code == 2 and "add --org" in both.output
