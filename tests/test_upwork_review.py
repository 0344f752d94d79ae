"""The Upwork review step as a manager runs it in the terminal, asserted on the printed rows."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli import app
from cli.console import console
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


def printed_rows(output: str) -> dict[str, list[str]]:
    """The body rows of the printed tables by their first cell, each as its cells' texts."""
    rows = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in output.splitlines() if "│" in line]
    return {row[0]: row for row in rows}


def contract_id(upwork, title: str) -> str:
    return next(c["id"] for c in upwork.contracts() if c["title"] == title)


RELAUNCH, SHOP = "Website Relaunch – Frontend", "Onlineshop Wartung"


@pytest.fixture
def mapped(upwork, awork_people, sims) -> dict[str, str]:
    """Connected and refreshed; Jörg confirmed and the relaunch contract mapped to an awork project at pay 30."""
    connect(upwork)
    refresh_upwork()
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
    assert connected[agency][3:] == ["yes", "-", "-", "never"]  # contracts are read by the refresh
    assert "timebridge upwork refresh" in output
    assert {row[1] for row in printed_rows(invoke("orgs")).values()} == set(kinds)

    refresh_upwork()
    again = printed_rows(invoke("connect", "--redirect-url", approve(start_connect())))
    assert again[agency][4:6] == ["4", "5"]  # Jörg, Anna, John, Mehmet; five contracts, one fixed-price
