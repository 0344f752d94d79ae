"""The "sync MOCO absences" flow end to end, against the simulators over HTTP, under Prefect."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from cli import app
from flows.sync_moco_absences import sync_moco_absences
from models import clock
from models.settings import get_settings
from tasks.absence_rules import PROVIDER
from tests.conftest import Sims
from tests.test_import_moco_projects import crash_on_first_save_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

TODAY = date(2026, 11, 20)  # a Friday; the fortnight below is the next two weeks
HOLIDAY, SICK = "4", "3"


@pytest.fixture
def team(sims: Sims, settings, monkeypatch) -> dict:
    """MOCO users Anna, Ben and Carl (no awork account); awork users Anna (e-mail in other case) and Ben; Anna's
    own awork absence (entered in awork, not by us)."""
    monkeypatch.setattr(clock, "today", lambda timezone="UTC": TODAY)
    anna = sims.awork.add_user("Anna", "Schmidt", "Anna@Pixelwerk.DE")
    return {
        "anna_moco": sims.moco.add_user("Anna", "Schmidt", "anna@pixelwerk.de")["id"],
        "ben_moco": sims.moco.add_user("Ben", "Weber", "ben@pixelwerk.de")["id"],
        "carl_moco": sims.moco.add_user("Carl", "Klein", "carl@pixelwerk.de")["id"],
        "anna": anna["id"],
        "ben": sims.awork.add_user("Ben", "Weber", "ben@pixelwerk.de")["id"],
        "workation": sims.awork.add_absence(
            user_id=anna["id"], first_day=date(2026, 11, 23), last_day=date(2026, 11, 24), description="Workation"
        ),
    }


def absent(sims: Sims, user: int, day: str, code: str = HOLIDAY, half: str = "", comment: str | None = None) -> dict:
    return sims.moco.add_absence(
        user_id=user, date=day, absence_code=code, am=half != "pm", pm=half != "am", comment=comment
    )


def seed_fortnight(sims: Sims, team: dict) -> dict:
    """Anna: a holiday Thursday to the next Tuesday (over a weekend), then a sick morning; Ben: two sick days, a
    holiday from Wednesday noon to Friday noon, and a Friday afternoon off; Carl: a day off."""
    anna, ben = team["anna_moco"], team["ben_moco"]
    seeded = {
        day: absent(sims, anna, day, comment="Ski" if day == "2026-11-27" else None)
        for day in ("2026-11-26", "2026-11-27", "2026-11-30", "2026-12-01")
    }
    seeded["anna sick"] = absent(sims, anna, "2026-12-02", SICK, half="am")
    for day in ("2026-11-23", "2026-11-24"):
        absent(sims, ben, day, SICK)
    absent(sims, ben, "2026-11-25", half="pm")
    absent(sims, ben, "2026-11-26")
    absent(sims, ben, "2026-11-27", half="am")
    seeded["ben friday"] = absent(sims, ben, "2026-12-04", half="pm")
    absent(sims, team["carl_moco"], "2026-11-23")
    return seeded


def our_absences(sims: Sims, team: dict) -> set[tuple]:
    """Our awork absences as (who, first day, last day, half day on start, on end, description)."""
    names = {team["anna"]: "Anna", team["ben"]: "Ben"}
    return {
        (
            names[a["userId"]],
            a["startOn"][:10],
            a["endOn"][:10],
            a["isHalfDayOnStart"],
            a["isHalfDayOnEnd"],
            a["description"],
        )
        for a in sims.awork.absences()
        if a["externalProvider"] == PROVIDER
    }


FORTNIGHT = {
    ("Anna", "2026-11-26", "2026-12-01", False, False, "Urlaub: Ski"),
    ("Anna", "2026-12-02", "2026-12-02", True, False, "Krankheit"),  # one morning: "half day on start"
    ("Ben", "2026-11-23", "2026-11-24", False, False, "Krankheit"),
    ("Ben", "2026-11-25", "2026-11-27", True, True, "Urlaub"),  # from Wednesday noon to Friday noon
    ("Ben", "2026-12-04", "2026-12-04", False, True, "Urlaub"),  # one afternoon: "half day on end"
}


def test_a_fortnight_of_absences_lands_as_awork_ranges(sims: Sims, team: dict) -> None:
    first = sync_moco_absences()  # the first run: what MOCO had before it stays out
    assert first.status == "completed" and first.absences_created == 0
    seed_fortnight(sims, team)

    summary = sync_moco_absences()

    assert our_absences(sims, team) == FORTNIGHT
    assert summary.absences_created == 5 and summary.status == "completed with issues"
    [issue] = summary.issues
    assert issue.kind == "unknown user" and "Carl Klein <carl@pixelwerk.de>" in issue.message
    [workation] = [a for a in sims.awork.absences() if a["externalProvider"] is None]
    assert workation == team["workation"]  # entered in awork: untouched
    assert all(a["isReadOnly"] for a in sims.awork.absences() if a["externalProvider"] == PROVIDER)


def test_changes_and_deletions_in_moco_follow_and_a_second_run_writes_nothing(sims: Sims, team: dict) -> None:
    sync_moco_absences()
    seeded = seed_fortnight(sims, team)
    sync_moco_absences()
    sims.moco.update_absence(seeded["2026-12-01"]["id"], absence_code=SICK)  # Tuesday was a sick day after all
    sims.moco.delete_absence(seeded["ben friday"]["id"])

    changed = sync_moco_absences()

    assert our_absences(sims, team) == FORTNIGHT - {
        ("Anna", "2026-11-26", "2026-12-01", False, False, "Urlaub: Ski"),
        ("Anna", "2026-12-02", "2026-12-02", True, False, "Krankheit"),
        ("Ben", "2026-12-04", "2026-12-04", False, True, "Urlaub"),
    } | {
        ("Anna", "2026-11-26", "2026-11-30", False, False, "Urlaub: Ski"),
        ("Anna", "2026-12-01", "2026-12-02", False, True, "Krankheit"),  # a day and a morning
    }
    assert (changed.absences_updated, changed.absences_created, changed.absences_deleted) == (2, 0, 1)
    marks = sims.marks()

    again = sync_moco_absences()

    assert sims.writes(*marks) == []
    assert again.absences_unchanged == 4 and again.counts()["absences_created"] == 0
    assert [a for a in sims.awork.absences() if a["externalProvider"] is None] == [team["workation"]]


def test_sync_since_keeps_earlier_absences_out(sims: Sims, team: dict, monkeypatch) -> None:
    monkeypatch.setenv("TIMEBRIDGE_SYNC_SINCE", "2026-11-30")
    get_settings.cache_clear()
    seed_fortnight(sims, team)

    before = sync_moco_absences(start=date(2026, 11, 1), end=date(2026, 11, 29))  # a resync before it: nothing
    sync_moco_absences(start=date(2026, 11, 1), end=date(2026, 12, 31))

    assert before.counts()["absences_created"] == 0 and (before.first_day, before.last_day) == (
        date(2026, 11, 30),
        date(2026, 11, 29),
    )
    assert our_absences(sims, team) == {
        ("Anna", "2026-11-30", "2026-12-01", False, False, "Urlaub"),
        ("Anna", "2026-12-02", "2026-12-02", True, False, "Krankheit"),
        ("Ben", "2026-12-04", "2026-12-04", False, True, "Urlaub"),
    }


def test_crash_between_the_awork_write_and_the_store_commit_doubles_nothing(
    sims: Sims, team: dict, monkeypatch
) -> None:
    seed_fortnight(sims, team)
    crash_on_first_save_of(monkeypatch, "absence")
    with pytest.raises(Exception):  # noqa: B017 - the run fails, whatever Prefect wraps the crash in
        sync_moco_absences(start=date(2026, 11, 23), end=date(2026, 12, 6))
    monkeypatch.undo()  # the process restarts, without the fault
    monkeypatch.setattr(clock, "today", lambda timezone="UTC": TODAY)

    summary = sync_moco_absences(start=date(2026, 11, 23), end=date(2026, 12, 6))

    assert our_absences(sims, team) == FORTNIGHT
    assert len([a for a in sims.awork.absences() if a["externalProvider"] == PROVIDER]) == 5
    assert summary.absences_linked == 1 and summary.absences_created == 4


def test_cli_resyncs_a_range_and_prints_the_summary_rows(sims: Sims, team: dict) -> None:
    seed_fortnight(sims, team)  # no run before: only an explicit range carries them

    dry = CliRunner().invoke(
        app, ["run", "sync-moco-absences", "--start", "2026-11-23", "--end", "2026-11-27", "--dry-run"]
    )
    result = CliRunner().invoke(app, ["run", "sync-moco-absences", "--start", "2026-11-23", "--end", "2026-11-27"])

    assert dry.exit_code == 0 and result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "sync-moco-absences 2026-11-23 to 2026-11-27: completed with issues" in output
    assert "absences created │ 3" in output and "unknown user" in output
    assert "absences to create │ 3" in " ".join(dry.output.split())
    assert {a[1] for a in our_absences(sims, team)} == {"2026-11-23", "2026-11-25", "2026-11-26"}
