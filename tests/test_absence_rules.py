"""The rules of "sync MOCO absences" without I/O: merging days into ranges, the window, and the plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.awork import AworkAbsence, AworkUser
from connectors.moco import MocoUser
from models.store import Link
from tasks.absence_rules import (
    ABSENCE,
    PROVIDER,
    AbsenceDay,
    AbsenceDraft,
    AbsenceRange,
    AbsenceWindow,
    absence_window,
    awork_users_by_email,
    bridges,
    merge_days,
    open_edges,
    plan_absences,
)

KINDS = {"2": "Feiertag", "3": "Krankheit", "4": "Urlaub"}
MON, TUE, WED, THU, FRI, SAT = (date(2026, 3, d) for d in (2, 3, 4, 5, 6, 7))
NEXT_MON, NEXT_TUE = date(2026, 3, 9), date(2026, 3, 10)
EARLIER = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 2, 1, tzinfo=UTC)


def absent(on: date, half: str = "", code: str = "4", user: int = 1, comment: str | None = None) -> AbsenceDay:
    """A MOCO absence day: `half` "am" or "pm" for half a day, "" for the whole day."""
    return AbsenceDay(
        user_id=user,
        day=on,
        code=code,
        kind=KINDS[code],
        am=half != "pm",
        pm=half != "am",
        comment=comment,
        updated_at=LATER,
    )


def shape(ranges: list[AbsenceRange]) -> list[tuple]:
    """Each range as (user, kind, first day, last day, halves): "(" starts at noon, ")" ends at noon."""
    return [
        (
            r.user_id,
            r.kind,
            r.first_day,
            r.last_day,
            ("(" if r.starts_at_noon else "") + (")" if r.ends_at_noon else ""),
        )
        for r in ranges
    ]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param([absent(d) for d in (MON, TUE, WED, THU, FRI)], [(1, "Urlaub", MON, FRI, "")], id="a week"),
        pytest.param(
            [absent(d) for d in (THU, FRI, NEXT_MON, NEXT_TUE)], [(1, "Urlaub", THU, NEXT_TUE, "")], id="over a weekend"
        ),
        pytest.param(
            [absent(d) for d in (FRI, SAT, NEXT_MON)], [(1, "Urlaub", FRI, NEXT_MON, "")], id="a Saturday entered too"
        ),
        pytest.param(
            [absent(THU), absent(NEXT_MON)],
            [(1, "Urlaub", THU, THU, ""), (1, "Urlaub", NEXT_MON, NEXT_MON, "")],
            id="a working day between splits",
        ),
        pytest.param(
            [absent(MON), absent(TUE, "am"), absent(WED)],
            [(1, "Urlaub", MON, TUE, ")"), (1, "Urlaub", WED, WED, "")],
            id="a morning ends a range",
        ),
        pytest.param(
            [absent(MON, "pm"), absent(TUE), absent(WED, "am")],
            [(1, "Urlaub", MON, WED, "()")],
            id="an afternoon starts a range, a morning ends it",
        ),
        pytest.param(
            [absent(MON), absent(TUE, "pm")],
            [(1, "Urlaub", MON, MON, ""), (1, "Urlaub", TUE, TUE, "(")],
            id="an afternoon after a full day starts anew",
        ),
        pytest.param(
            [absent(MON, "am"), absent(TUE, "am")],
            [(1, "Urlaub", MON, MON, ")"), (1, "Urlaub", TUE, TUE, ")")],
            id="mornings stay apart",
        ),
        pytest.param(
            [absent(FRI, "am"), absent(NEXT_MON)],
            [(1, "Urlaub", FRI, FRI, ")"), (1, "Urlaub", NEXT_MON, NEXT_MON, "")],
            id="a Friday morning does not bridge the weekend",
        ),
        pytest.param(
            [absent(FRI, "pm"), absent(NEXT_MON, "am")],
            [(1, "Urlaub", FRI, NEXT_MON, "()")],
            id="Friday afternoon to Monday morning",
        ),
        pytest.param(
            [absent(MON), absent(TUE, code="3"), absent(WED)],
            [(1, "Urlaub", MON, MON, ""), (1, "Krankheit", TUE, TUE, ""), (1, "Urlaub", WED, WED, "")],
            id="kinds differ",
        ),
        pytest.param(
            [absent(MON, "am"), absent(MON, "pm", code="3")],
            [(1, "Krankheit", MON, MON, "("), (1, "Urlaub", MON, MON, ")")],
            id="two kinds on one day",
        ),
        pytest.param(
            [absent(MON, "am"), absent(MON, "pm"), absent(TUE)],
            [(1, "Urlaub", MON, TUE, "")],
            id="both halves of one kind make a day",
        ),
        pytest.param(
            [absent(MON, user=2), absent(MON), absent(TUE)],
            [(1, "Urlaub", MON, TUE, ""), (2, "Urlaub", MON, MON, "")],
            id="users stay apart",
        ),
    ],
)
def test_merge_days_into_ranges(days: list[AbsenceDay], expected: list[tuple]) -> None:
    assert shape(merge_days(days)) == expected


def test_a_range_collects_its_distinct_comments_and_latest_change() -> None:
    days = [absent(MON, comment="Ski"), absent(TUE, comment="Ski"), absent(WED, comment="Berge")]
    days[1] = days[1].model_copy(update={"updated_at": LATER + timedelta(days=3)})
    [merged] = merge_days(days)
    assert merged.description == "Urlaub: Ski; Berge" and merged.changed_at == LATER + timedelta(days=3)
    assert merge_days([absent(MON)])[0].description == "Urlaub"


@pytest.mark.parametrize(
    ("days", "halves"),
    [
        ([absent(MON, "am")], (True, False)),  # one day: the morning is "half day on start"
        ([absent(MON, "pm")], (False, True)),  # ... the afternoon "half day on end"
        ([absent(MON)], (False, False)),
        ([absent(MON, "pm"), absent(TUE, "am")], (True, True)),  # several days: starts and ends at noon
        ([absent(MON), absent(TUE, "am")], (False, True)),
    ],
)
def test_half_days_become_awork_half_day_flags(days: list[AbsenceDay], halves: tuple[bool, bool]) -> None:
    [merged] = merge_days(days)
    form = merged.form("awork-user")
    assert (form.is_half_day_on_start, form.is_half_day_on_end) == halves
    assert form.external_provider == PROVIDER


def test_bridges_only_weekends() -> None:
    assert bridges(FRI, NEXT_MON) and bridges(MON, TUE) and bridges(FRI, SAT)
    assert not bridges(THU, NEXT_MON) and not bridges(MON, MON) and not bridges(TUE, MON)


def test_the_window_is_a_range_or_the_rescan_and_a_year_ahead_never_before_since() -> None:
    assert absence_window(None, None, WED, 35) == AbsenceWindow(
        first_day=WED - timedelta(days=35), last_day=WED + timedelta(days=366)
    )
    assert absence_window(MON, FRI, WED, 35) == AbsenceWindow(first_day=MON, last_day=FRI, explicit=True)
    assert absence_window(None, None, WED, 35, since=MON).first_day == MON
    assert absence_window(MON, FRI, WED, 35, since=THU).first_day == THU
    with pytest.raises(ValueError, match="after"):
        absence_window(FRI, MON, WED, 35)


def test_open_edges_say_when_a_range_may_go_on_beyond_the_days_read() -> None:
    week = merge_days([absent(d) for d in (MON, TUE)])
    assert open_edges(week, MON, FRI) == (True, False)
    assert open_edges(week, MON - timedelta(days=2), TUE) == (True, True)  # a weekend before Monday: bridged
    assert open_edges(merge_days([absent(MON, "pm"), absent(TUE, "am")]), MON, TUE) == (False, False)
    assert open_edges(merge_days([absent(FRI)]), MON, THU + timedelta(days=7)) == (False, False)


# --- the plan ---------------------------------------------------------------------------------------------------------
ANNA_MOCO = MocoUser(id=1, firstname="Anna", lastname="Schmidt", email="anna@pixelwerk.de")
BEN_MOCO = MocoUser(id=2, firstname="Ben", lastname="Weber", email="ben@pixelwerk.de")
USERS = {1: ANNA_MOCO, 2: BEN_MOCO}
AWORK_USERS = awork_users_by_email(
    [AworkUser.model_validate({"id": "aw-anna", "userContactInfos": [{"type": "email", "value": "Anna@Pixelwerk.DE"}]})]
)
WINDOW = AbsenceWindow(first_day=MON - timedelta(days=7), last_day=NEXT_TUE + timedelta(days=30))


def ours(first: date, last: date, absence_id: str = "a1", user: str = "aw-anna", **fields) -> AworkAbsence:
    return AworkAbsence.model_validate(
        {
            "id": absence_id,
            "userId": user,
            "startOn": f"{first}T00:00:00Z",
            "endOn": f"{last}T00:00:00Z",
            "description": "Urlaub",
            "externalProvider": PROVIDER,
        }
        | fields
    )


def link_of(moco_range: AbsenceRange, absence_id: str, source_hash: str = "an older hash") -> Link:
    return Link(
        kind=ABSENCE,
        source_id=moco_range.key,
        target_id=absence_id,
        parent_id=str(moco_range.user_id),
        source_hash=source_hash,
        source_day=moco_range.first_day,
    )


def plan(ranges, absences=(), links=None, window=WINDOW, since=EARLIER):
    keyed = {link.source_id: link for link in links or []}
    return plan_absences(ranges, window, absences, keyed, USERS, AWORK_USERS, since)


def test_new_ranges_are_created_for_the_user_with_the_same_email() -> None:
    week = merge_days([absent(d) for d in (MON, TUE, WED)])
    result = plan(week)
    [draft] = result.create
    assert (draft.form.user_id, draft.form.first_day, draft.form.last_day) == ("aw-anna", MON, WED)
    assert result.counts()["absences to create"] == 1


def test_ranges_unchanged_since_the_first_run_are_not_carried() -> None:
    assert plan(merge_days([absent(MON)]), since=LATER + timedelta(days=1)).counts()["absences not carried"] == 1
    explicit = WINDOW.model_copy(update={"explicit": True})
    assert len(plan(merge_days([absent(MON)]), window=explicit, since=None).create) == 1


def test_a_changed_range_updates_its_absence_and_an_unchanged_one_is_left() -> None:
    [week] = merge_days([absent(d) for d in (MON, TUE, WED)])
    current = ours(MON, TUE)
    result = plan([week], [current], [link_of(week, "a1")])
    assert [(c.absence_id, c.draft.form.last_day) for c in result.update] == [("a1", WED)]
    draft = AbsenceDraft(key=week.key, moco_user_id=1, form=week.form("aw-anna"))
    same = ours(MON, WED)
    assert plan([week], [same], [link_of(week, "a1", draft.hash)]).unchanged == 1


def test_an_absence_already_in_awork_is_linked_not_created_again() -> None:
    [week] = merge_days([absent(d) for d in (MON, TUE)])
    result = plan([week], [ours(MON, TUE, "crashed-run")])
    assert [c.absence_id for c in result.adopt] == ["crashed-run"] and not result.create


def test_our_absences_without_a_range_are_deleted_others_never_seen() -> None:
    gone = ours(MON, TUE, "a-gone")
    before_window = ours(MON - timedelta(days=30), MON - timedelta(days=29), "a-old")
    result = plan([], [gone, before_window], [])
    assert [r.absence_id for r in result.delete] == ["a-gone"]


def test_a_user_without_awork_account_is_an_issue_and_keeps_their_absences() -> None:
    [bens] = merge_days([absent(MON, user=2)])
    linked = Link(kind=ABSENCE, source_id=bens.key, target_id="a-ben", parent_id="2", source_day=MON)
    result = plan([bens], [ours(MON, MON, "a-ben", user="aw-ben-old")], [linked])
    [issue] = result.issues
    assert issue.kind == "unknown user" and "Ben Weber <ben@pixelwerk.de>" in issue.message
    assert not result.delete and not result.create


def test_links_of_absences_gone_on_both_sides_are_forgotten() -> None:
    [week] = merge_days([absent(MON)])
    assert plan([], [], [link_of(week, "a-vanished")]).forget == [week.key]


def test_a_range_that_grew_at_its_start_takes_over_its_absence() -> None:
    [old] = merge_days([absent(TUE), absent(WED)])
    [grown] = merge_days([absent(MON), absent(TUE), absent(WED)])  # a new first day: a new key
    sick = ours(TUE, TUE, "a-sick", description="Krankheit")
    result = plan([grown], [ours(TUE, WED), sick], [link_of(old, "a1")])
    assert [(c.absence_id, c.draft.form.first_day) for c in result.update] == [("a1", MON)]
    assert [r.absence_id for r in result.delete] == ["a-sick"] and result.forget == [old.key] and not result.create


def test_a_split_range_keeps_its_absence_for_the_first_part() -> None:
    [week] = merge_days([absent(d) for d in (MON, TUE, WED, THU)])
    first, second = merge_days([absent(MON), absent(TUE), absent(THU)])  # Wednesday taken out
    result = plan([first, second], [ours(MON, THU)], [link_of(week, "a1")])
    assert [(c.absence_id, c.draft.form.last_day) for c in result.update] == [("a1", TUE)]
    assert [(d.form.first_day, d.form.last_day) for d in result.create] == [(THU, THU)]
