"""The pure rules of the Upwork side: organisation kinds, user suggestions, rates, what syncs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tasks.upwork_rules import (
    AGENCY,
    CLIENT,
    FREELANCER,
    ContractStop,
    Person,
    RatePeriod,
    contract_stop,
    contract_sync_state,
    default_rates,
    organization_kind,
    rate_on,
    suggest_awork_user,
)

AWORK = [
    Person("a1", "John", "Smith", "john.smith@agency.example"),
    Person("a2", "Jörg", "Müller", None),
    Person("a3", "Anna", "Schmidt", "anna@pixelwerk.de"),
    Person("a4", "Anna", "Schulz", None),
    Person("a5", "Zoë", "Ångström", None),
    Person("a6", "Li", "Wei", None),
]


@pytest.mark.parametrize(
    ("organization_type", "legacy", "kind"),
    [
        ("Business", "Vendor", AGENCY),
        ("Business", "Client", CLIENT),
        ("SoleProprietor", "Vendor", FREELANCER),
        ("SOLE_PROPRIETOR", "VENDOR", FREELANCER),
        ("BUSINESS", "CLIENT", CLIENT),
    ],
)
def test_organization_kind(organization_type, legacy, kind):
    assert organization_kind(organization_type, legacy) == kind


@pytest.mark.parametrize(
    ("freelancer", "expected"),
    [
        (Person("u", display_name="John S.", email="JOHN.SMITH@agency.example"), "a1"),  # e-mail, other case
        (Person("u", display_name="John S."), "a1"),  # the "John S." form
        (Person("u", "Jörg", "Müller", display_name="Jörg M."), "a2"),  # full name with umlauts
        (Person("u", "Joerg", "Mueller", display_name="Joerg M."), "a2"),  # umlauts spelled out
        (Person("u", display_name="Jorg M."), "a2"),  # accents dropped
        (Person("u", display_name="zoe a."), "a5"),
        (Person("u", "Li", "Wei", display_name="Li W."), "a6"),
        (Person("u", display_name="Anna S."), None),  # two Annas S.: no guess
        (Person("u", display_name="Peter K."), None),
    ],
)
def test_suggestions(freelancer, expected):
    assert suggest_awork_user(freelancer, AWORK).awork_user_id == expected


def test_ambiguous_names_say_who_could_be_meant():
    suggestion = suggest_awork_user(Person("u", display_name="Anna S."), AWORK)
    assert "Anna Schmidt" in suggestion.reason and "Anna Schulz" in suggestion.reason


def test_full_name_beats_the_short_form():
    users = [Person("x", "Anna", "Schmidt"), Person("y", "Anna", "Schulz")]
    assert suggest_awork_user(Person("u", "Anna", "Schulz", display_name="Anna S."), users).awork_user_id == "y"


def test_rates_prefill_by_organisation_kind():
    assert default_rates(AGENCY, Decimal("50")) == (None, Decimal("50"))
    assert default_rates(CLIENT, Decimal("50")) == (Decimal("50"), None)
    assert default_rates(FREELANCER, Decimal("50")) == (None, Decimal("50"))
    assert default_rates(CLIENT, None) == (None, None)


def test_rate_on_a_day_follows_the_term_history():
    periods = [
        RatePeriod(Decimal("40"), date(2026, 1, 1), date(2026, 8, 31)),
        RatePeriod(Decimal("45"), date(2026, 9, 1)),
    ]
    assert rate_on(periods, date(2025, 12, 31)) is None
    assert rate_on(periods, date(2026, 8, 31)) == Decimal("40")
    assert rate_on(periods, date(2026, 9, 1)) == Decimal("45")


@pytest.mark.parametrize(
    ("args", "syncs", "why"),
    [
        (("fixed", True, "p", "confirmed", True), False, "fixed-price"),
        (("hourly", True, None, "confirmed", True), False, "no awork project"),
        (("hourly", False, "p", "confirmed", True), False, "disabled"),
        (("hourly", True, "p", "suggested", True), False, "not mapped"),
        (("hourly", True, "p", "confirmed", False), False, "sync is off"),
        (("hourly", True, "p", "confirmed", True), True, "syncs"),
    ],
)
def test_what_syncs(args, syncs, why):
    state, reason = contract_sync_state(*args)
    assert state is syncs and why in reason


WEDNESDAY = date(2026, 3, 11)
CHANGED = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "end", "stop"),
    [
        ("ACTIVE", None, None),
        ("ENDED", WEDNESDAY, ContractStop("ended", WEDNESDAY)),
        ("CANCELLED", WEDNESDAY, ContractStop("cancelled", WEDNESDAY)),
        ("ENDED", None, ContractStop("ended", date(2026, 3, 12))),  # no end date: the day Upwork last changed it
        ("PAUSED", None, ContractStop("paused", date(2026, 3, 12))),
        ("paused", WEDNESDAY, ContractStop("paused", date(2026, 3, 12))),  # a paused contract's end is a plan
    ],
)
def test_how_a_status_stops_a_contract(status, end, stop):
    assert contract_stop(status, end, CHANGED) == stop


def test_a_stopped_contract_syncs_to_the_end_of_its_week_until_that_week_freezes():
    ended = ContractStop("ended", WEDNESDAY)
    assert (ended.last_day, ended.frozen_at) == (date(2026, 3, 15), datetime(2026, 3, 16, 12, tzinfo=UTC))
    assert ended.reason == "ended on 2026-03-11"
    assert ContractStop("cancelled", WEDNESDAY).reason == "cancelled on 2026-03-11"
    assert ContractStop("paused", WEDNESDAY).reason == "paused"
    mapped = ("hourly", True, "p", "confirmed", True)
    assert contract_sync_state(*mapped, ended, datetime(2026, 3, 16, 11, 59, tzinfo=UTC)) == (
        True,
        "syncs until 2026-03-16 12:00 UTC (ended on 2026-03-11)",
    )
    assert contract_sync_state(*mapped, ended, datetime(2026, 3, 16, 12, tzinfo=UTC)) == (False, "ended on 2026-03-11")
    unmapped = ("hourly", False, None, None, False)
    assert contract_sync_state(*unmapped, ContractStop("paused", WEDNESDAY), datetime(2026, 4, 1, tzinfo=UTC)) == (
        False,
        "paused",
    )
    assert contract_sync_state("fixed", *mapped[1:], ended, datetime(2026, 4, 1, tzinfo=UTC))[1].startswith("fixed")


def test_a_stop_without_any_date_stops_at_once():
    stop = ContractStop("ended", None)
    assert stop.last_day == date.min and stop.reason == "ended"
    assert (
        contract_sync_state("hourly", True, "p", "confirmed", True, stop, datetime(2000, 1, 1, tzinfo=UTC))[0] is False
    )
