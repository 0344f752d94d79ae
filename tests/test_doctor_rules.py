"""The doctor's rules on facts already read: no I/O."""

from __future__ import annotations

import pytest

from connectors.awork import AworkUser
from connectors.moco import MocoCustomProperty, MocoUser
from tasks.doctor_rules import (
    Deployed,
    DeployedSchedule,
    all_well,
    app_url_check,
    custom_field_checks,
    deployment_check,
    info,
    moco_plan_check,
    ok,
    people_checks,
    store_check,
    sync_tag_check,
    template_options_check,
    upwork_check,
    workspace_address,
)
from tasks.project_rules import ImportNames

TEMPLATES = ["Website", "Kampagne"]


def field(name: str, kind: str, *options: str, entity: str = "Project") -> MocoCustomProperty:
    return MocoCustomProperty(id=1, name=name, kind=kind, entity=entity, defaults=list(options))


def test_information_is_well_a_problem_is_not():
    assert all_well([ok("a", "fine"), info("b", "normal")])
    assert not all_well([ok("a", "fine"), upwork_check(True, None, None, 0)])


@pytest.mark.parametrize(
    ("account", "limit", "window", "status", "detail"),
    [
        (120, 120, 120, "OK", "the account's standard plan allows 120 requests per 2 minutes, as configured"),
        (1200, 10, 1, "OK", "the account's unlimited plan allows 1200 requests per 2 minutes, as configured"),
        (1200, 120, 120, "INFO", "so runs take longer than they need to"),
        (120, 1200, 120, "PROBLEM", "MOCO will refuse requests (429)"),
        (None, 120, 120, "INFO", "MOCO does not name the account's plan; timebridge sends at most 120 requests"),
    ],
)
def test_the_rate_limit_against_the_accounts_plan(account, limit, window, status, detail):
    check = moco_plan_check(account, limit, window)
    assert (check.status, detail in check.detail) == (status, True), check.detail


def test_fields_found_by_exact_name_on_projects_only():
    definitions = [
        field("awork projekt", "Link"),  # another spelling
        field("Sync zu awork", "Boolean", entity="Company"),  # another entity
        field("awork Projektvorlage", "Select", "Website"),
    ]
    checks = custom_field_checks(definitions, ImportNames(), TEMPLATES)
    assert [(c.name, c.status, c.detail) for c in checks] == [
        (
            "MOCO field 'awork Projekt'",
            "PROBLEM",
            "projects have no custom field of this name (MOCO has 'awork projekt')",
        ),
        ("MOCO field 'Sync zu awork'", "PROBLEM", "projects have no custom field of this name"),
        (
            "MOCO field 'awork Projektvorlage'",
            "OK",
            "Single choice field; its options 'Website' name awork project templates",
        ),
    ]


def test_a_template_field_of_another_type_is_named_with_its_type():
    checks = custom_field_checks([field("awork Projektvorlage", "MultiSelect", "Website")], ImportNames(), TEMPLATES)
    assert checks[2].detail == "is of type Multiple choice, the sync needs Single choice"


@pytest.mark.parametrize(
    ("options", "status", "detail"),
    [
        (["website", "KAMPAGNE", ""], "OK", "its options 'website', 'KAMPAGNE' name awork project templates"),
        ([], "PROBLEM", "has no options"),
        ([""], "PROBLEM", "has no options"),
        (["Website", "Event"], "PROBLEM", "options naming no awork project template: 'Event'"),
        (
            [" Website", "Kam  pagne"],
            "PROBLEM",
            "options naming no awork project template: 'Kam  pagne'; options with "
            "stray spaces: ' Website', 'Kam  pagne'",
        ),
    ],
)
def test_template_options_name_awork_templates_without_stray_spaces(options, status, detail):
    check = template_options_check("MOCO field 'awork Projektvorlage'", options, TEMPLATES)
    assert (check.status, detail in check.detail) == (status, True), check.detail


def test_template_options_are_not_judged_when_awork_could_not_be_read():
    check = template_options_check("MOCO field 'awork Projektvorlage'", ["Event"], None)
    assert check.status == "INFO" and "not compared with awork" in check.detail


@pytest.mark.parametrize(
    ("workspace_url", "address"),
    [
        ("acme", "https://acme.awork.com"),
        ("acme.awork.com", "https://acme.awork.com"),
        ("https://acme.awork.com/", "https://acme.awork.com"),
        (None, None),
    ],
)
def test_the_workspace_address(workspace_url, address):
    assert workspace_address(workspace_url) == address


def test_the_app_url_is_compared_by_host_and_unknown_workspaces_are_not_judged():
    assert app_url_check("https://acme.awork.com/", "acme").status == "OK"
    assert app_url_check("https://acme.awork.com", None).status == "OK"
    missing = app_url_check("", None)
    assert (missing.status, missing.fix) == ("PROBLEM", "set TIMEBRIDGE_AWORK_APP_URL=https://<workspace>.awork.com")


def test_people_match_by_email_ignoring_case_and_leave_the_key_users_out():
    moco = [
        MocoUser(id=1, firstname="API", lastname="User", email="api@moco.example"),  # the key's user
        MocoUser(id=2, firstname="Anna", lastname="Schmidt", email="anna@pixelwerk.de"),
        MocoUser(id=3, firstname="Old", lastname="Hand", email="old@pixelwerk.de", active=False),
    ]
    awork = [
        AworkUser.model_validate({"id": "me", "firstName": "awork", "lastName": "API"}),
        AworkUser.model_validate(
            {"id": "a", "firstName": "Anna", "userContactInfos": [{"type": "email", "value": "Anna@Pixelwerk.DE"}]}
        ),
        AworkUser.model_validate({"id": "f", "firstName": "Fritz", "lastName": "Frei"}),
    ]
    in_awork, in_moco = people_checks(moco, awork, moco_key_user=1, awork_key_user="me")
    assert (in_awork.status, in_awork.detail) == ("OK", "all 1 active MOCO users have an awork account")
    assert in_moco.status == "INFO" and in_moco.detail.endswith(": Fritz Frei (no e-mail)")


@pytest.mark.parametrize(
    ("configured", "status", "expected"),
    [
        (False, None, ("INFO", "not configured")),
        (False, "disconnected", ("INFO", "not configured")),
        (True, None, ("PROBLEM", "not connected")),
        (True, "disconnected", ("PROBLEM", "disconnected")),
        (False, "needs re-authorization", ("PROBLEM", "needs re-authorization")),
        (True, "connected", ("OK", "connected as Alex S.; 2 organisation(s) selected")),
    ],
)
def test_the_upwork_connection(configured, status, expected):
    check = upwork_check(configured, status, "Alex S." if status == "connected" else None, 2)
    assert (check.status, check.detail.startswith(expected[1])) == (expected[0], True), check.detail


@pytest.mark.parametrize(
    ("revision", "status", "detail"),
    [
        ("0003", "OK", "db, schema at the latest revision 0003"),
        (None, "PROBLEM", "db has no timebridge tables yet"),
        ("0002", "PROBLEM", "db is at revision 0002, timebridge needs 0003"),
        ("0009", "PROBLEM", "db is at revision 0009, which this timebridge does not know (a newer one migrated it)"),
    ],
)
def test_the_store_schema(revision, status, detail):
    check = store_check("db", revision, ["0001", "0002", "0003"])
    assert (check.status, check.detail) == (status, detail)


SPEC = {"name": "push", "schedules": [{"slug": "often"}, {"slug": "nightly"}, {"slug": "off", "active": False}]}


@pytest.mark.parametrize(
    ("deployed", "status", "detail"),
    [
        (None, "PROBLEM", "not on the Prefect server"),
        (Deployed(name="push", paused=True), "PROBLEM", "paused: no scheduled runs"),
        (Deployed(name="push", schedules=[DeployedSchedule(slug="often")]), "PROBLEM", "schedule(s) missing: nightly"),
        (
            Deployed(
                name="push", schedules=[DeployedSchedule(slug="often"), DeployedSchedule(slug="nightly", active=False)]
            ),
            "PROBLEM",
            "schedule(s) paused: nightly",
        ),
        (
            Deployed(name="push", schedules=[DeployedSchedule(slug="often"), DeployedSchedule(slug="nightly")]),
            "OK",
            "schedules: often, nightly",
        ),
    ],
)
def test_a_deployment_with_its_active_schedules(deployed, status, detail):
    check = deployment_check(SPEC, deployed)
    assert (check.name, check.status, check.detail) == ("deployment push", status, detail)


def test_an_on_demand_deployment_needs_no_schedule():
    assert deployment_check({"name": "doctor"}, Deployed(name="doctor")).detail == "on demand (no schedule)"


@pytest.mark.parametrize(
    ("tagged", "flagged", "status"),
    [(4, 1, "OK"), (3, 0, "OK"), (0, 2, "INFO"), (0, 0, "PROBLEM")],
)
def test_an_unused_sync_tag_is_information_while_the_field_flags_projects(tagged, flagged, status):
    check = sync_tag_check("Sync to awork", tagged, "Sync zu awork", flagged)
    assert check.status == status
    assert (check.fix == "") == (status == "OK")
    assert status == "OK" or "TIMEBRIDGE_MOCO_SYNC_TAG" in check.fix
