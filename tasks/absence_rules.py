"""The rules of "sync MOCO absences", as pure functions: MOCO's absence days merged into ranges, the window a run
reads, which ranges it carries, and the plan against our awork absences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from connectors.awork import AworkAbsence, AworkAbsenceForm, AworkUser
from connectors.moco import MocoSchedule, MocoUser
from models.plans import RunResult, content_hash
from models.store import IssueDraft, Link, LinkRecord

ABSENCE = "absence"  # the store's links of merged MOCO absence ranges to awork absences
PROVIDER = "timebridge: MOCO"  # `externalProvider` of the awork absences we write (read-only for people in awork)
DAYS_AHEAD = 366  # incremental runs look this far ahead (absences are planned long before they happen)
SATURDAY = 5


# --- days and ranges ------------------------------------------------------------------------------------------------
class AbsenceDay(BaseModel):
    """One MOCO absence ("Absenz"): a user's day, or half of it, of one kind."""

    user_id: int  # MOCO user
    day: date
    code: str  # MOCO's absence code: 1 unplannable absence, 2 public holiday, 3 sick day, 4 holiday, 5 absence
    kind: str  # the account's name of the kind, e.g. "Urlaub"
    am: bool = True
    pm: bool = True
    comment: str | None = None
    updated_at: datetime | None = None


class AbsenceRange(BaseModel):
    """Consecutive absence days of one user and kind: what becomes one awork absence. `starts_at_noon`: the first
    day is only an afternoon; `ends_at_noon`: the last day is only a morning."""

    user_id: int
    code: str
    kind: str
    first_day: date
    last_day: date
    starts_at_noon: bool = False
    ends_at_noon: bool = False
    comments: list[str] = Field(default_factory=list)
    changed_at: datetime | None = None  # the latest change of one of its days

    @property
    def key(self) -> str:
        """The store's source id of the range: its user, kind and first day."""
        return f"moco-user:{self.user_id}/code:{self.code}/{self.first_day}"

    @property
    def description(self) -> str:
        """The kind, and the days' comments after a colon."""
        return f"{self.kind}: {'; '.join(self.comments)}" if self.comments else self.kind

    def overlaps(self, first_day: date, last_day: date) -> bool:
        return self.first_day <= last_day and first_day <= self.last_day

    def form(self, awork_user_id: str) -> AworkAbsenceForm:
        """The awork absence the range becomes. awork reads the half-day flags of a one-day absence as "the
        morning" (start) and "the afternoon" (end), of a longer one as "starts at noon" and "ends at noon"."""
        one_day = self.first_day == self.last_day
        halves = (self.ends_at_noon, self.starts_at_noon) if one_day else (self.starts_at_noon, self.ends_at_noon)
        return AworkAbsenceForm(
            user_id=awork_user_id,
            first_day=self.first_day,
            last_day=self.last_day,
            description=self.description[:1000],
            external_provider=PROVIDER,
            is_half_day_on_start=halves[0],
            is_half_day_on_end=halves[1],
        )


def bridges(earlier: date, later: date) -> bool:
    """Whether `later` continues `earlier` as working days do: the next day, or only a weekend between them."""
    if later <= earlier:
        return False
    between = (earlier + timedelta(days=n) for n in range(1, (later - earlier).days))
    return all(day.weekday() >= SATURDAY for day in between)


def absence_days(schedules: Iterable[MocoSchedule], since: date | None = None) -> list[AbsenceDay]:
    """MOCO's absences as days (those of no user, and before `since`, left out)."""
    return [
        AbsenceDay(
            user_id=schedule.user.id,
            day=schedule.date,
            code=schedule.assignment.code or str(schedule.assignment.id),
            kind=schedule.assignment.name,
            am=schedule.am or not schedule.pm,  # neither half set: MOCO's default, the whole day
            pm=schedule.pm or not schedule.am,
            comment=(schedule.comment or "").strip() or None,
            updated_at=schedule.updated_at,
        )
        for schedule in schedules
        if schedule.user is not None and (since is None or schedule.date >= since)
    ]


def merge_days(days: Iterable[AbsenceDay]) -> list[AbsenceRange]:
    """Consecutive days of one user and kind as ranges: a day continues the range before it when that range runs
    through the afternoon, this day starts in the morning, and only a weekend (or nothing) lies between them. So a
    morning-only day ends a range, an afternoon-only day starts one, and kinds never mix. Sorted by user, day."""
    same_day: dict[tuple[int, str, date], AbsenceDay] = {}
    for day in sorted(days, key=lambda d: (d.user_id, d.code, d.day)):
        key = (day.user_id, day.code, day.day)
        if (seen := same_day.get(key)) is None:
            same_day[key] = day
        else:  # two entries of one kind on a day (MOCO keeps them per half): one day, both halves
            same_day[key] = seen.model_copy(update=_joined(seen, day))
    ranges: list[AbsenceRange] = []
    open_range: AbsenceRange | None = None
    open_through_afternoon = False
    for day in same_day.values():
        continues = (
            open_range is not None
            and (open_range.user_id, open_range.code) == (day.user_id, day.code)
            and open_through_afternoon
            and day.am
            and bridges(open_range.last_day, day.day)
        )
        if continues and open_range is not None:
            open_range.last_day = day.day
            open_range.ends_at_noon = not day.pm
            if day.comment and day.comment not in open_range.comments:
                open_range.comments.append(day.comment)
            open_range.changed_at = _latest(open_range.changed_at, day.updated_at)
        else:
            open_range = AbsenceRange(
                user_id=day.user_id,
                code=day.code,
                kind=day.kind,
                first_day=day.day,
                last_day=day.day,
                starts_at_noon=not day.am,
                ends_at_noon=not day.pm,
                comments=[day.comment] if day.comment else [],
                changed_at=day.updated_at,
            )
            ranges.append(open_range)
        open_through_afternoon = day.pm
    return sorted(ranges, key=lambda r: (r.user_id, r.first_day, r.code))


def _joined(first: AbsenceDay, second: AbsenceDay) -> dict[str, object]:
    comments = [c for c in (first.comment, second.comment) if c]
    return {
        "am": first.am or second.am,
        "pm": first.pm or second.pm,
        "comment": "; ".join(dict.fromkeys(comments)) or None,
        "updated_at": _latest(first.updated_at, second.updated_at),
    }


def _latest(first: datetime | None, second: datetime | None) -> datetime | None:
    return max((moment for moment in (first, second) if moment is not None), default=None)


# --- the window ----------------------------------------------------------------------------------------------------
class AbsenceWindow(BaseModel):
    """The days a run covers (inclusive), and whether they are an explicit range (a resync)."""

    first_day: date
    last_day: date
    explicit: bool = False

    def widened(self, days: Iterable[date], since: date | None = None) -> AbsenceWindow:
        """The window stretched to include `days` (none before `since`)."""
        wanted = [day for day in days if since is None or day >= since]
        if not wanted:
            return self
        first, last = min([self.first_day, *wanted]), max([self.last_day, *wanted])
        return self.model_copy(update={"first_day": first, "last_day": last})


def absence_window(
    start: date | None, end: date | None, today: date, rescan_days: int, since: date | None = None
) -> AbsenceWindow:
    """An explicit range, or from `rescan_days` ago up to `DAYS_AHEAD` days ahead (the incremental default); never
    before `since`. A range that ends before `since` leaves an empty window (first day after last day)."""
    if start is None and end is None:
        first, last, explicit = today - timedelta(days=rescan_days), today + timedelta(days=DAYS_AHEAD), False
    else:
        first, last, explicit = start or end or today, end or start or today, True
        if first > last:
            raise ValueError(f"start {first} is after end {last}")
    if since is not None and first < since:
        first = since
    return AbsenceWindow(first_day=first, last_day=last, explicit=explicit)


def open_edges(ranges: Sequence[AbsenceRange], first_day: date, last_day: date) -> tuple[bool, bool]:
    """Whether a range may continue before `first_day` or after `last_day` (it reaches the edge, or only a
    weekend lies between): then the days read so far do not show the whole range."""
    day_before, day_after = first_day - timedelta(days=1), last_day + timedelta(days=1)
    before = any(not r.starts_at_noon and bridges(day_before, r.first_day) for r in ranges)
    after = any(not r.ends_at_noon and bridges(r.last_day, day_after) for r in ranges)
    return before, after


# --- the plan -------------------------------------------------------------------------------------------------------
class AbsenceDraft(BaseModel):
    """A MOCO range as the awork absence it should be."""

    key: str
    moco_user_id: int
    form: AworkAbsenceForm

    @property
    def hash(self) -> str:
        return content_hash(self.form.body())

    def link(self, absence_id: str) -> LinkRecord:
        """The store's link of the range to its awork absence (the parent: the MOCO user)."""
        return LinkRecord(
            kind=ABSENCE,
            source_id=self.key,
            target_id=absence_id,
            parent_id=str(self.moco_user_id),
            source_hash=self.hash,
            source_day=self.form.first_day,
        )


class AbsenceChange(BaseModel):
    absence_id: str
    draft: AbsenceDraft


class AbsenceRemoval(BaseModel):
    absence_id: str
    key: str | None = None  # the link to drop with it


class AbsencePlan(BaseModel):
    """What a run does to our awork absences, and why not more."""

    create: list[AbsenceDraft] = Field(default_factory=list)
    update: list[AbsenceChange] = Field(default_factory=list)
    adopt: list[AbsenceChange] = Field(default_factory=list)  # already right in awork: only link them
    delete: list[AbsenceRemoval] = Field(default_factory=list)
    forget: list[str] = Field(default_factory=list)  # links whose absence is gone on both sides
    unchanged: int = 0
    not_carried: int = 0  # ranges unchanged since the first run (or TIMEBRIDGE_SYNC_SINCE): left to people
    issues: list[IssueDraft] = Field(default_factory=list)
    checked_refs: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "absences to create": len(self.create),
            "absences to update": len(self.update),
            "absences to link": len(self.adopt),
            "absences to delete": len(self.delete),
            "absences unchanged": self.unchanged,
            "absences not carried": self.not_carried,
        }


class AbsenceResult(RunResult):
    """What applying an absence plan did."""

    WRITES = ("absences_created", "absences_updated", "absences_deleted")

    absences_created: int = 0
    absences_updated: int = 0
    absences_linked: int = 0
    absences_deleted: int = 0
    absences_unchanged: int = 0
    absences_not_carried: int = 0


def awork_users_by_email(users: Iterable[AworkUser]) -> dict[str, str]:
    """awork user ids by e-mail, compared as the push compares them (trimmed, lower case); the first user wins."""
    found: dict[str, str] = {}
    for user in users:
        if user.email:
            found.setdefault(user.email.strip().lower(), user.id)
    return found


def user_ref(user_id: int) -> str:
    return f"moco user {user_id}"


def absence_ref(key: str) -> str:
    return f"moco absence {key}"


def unknown_user(user: MocoUser | None, user_id: int) -> IssueDraft:
    who = f"{user.firstname} {user.lastname} <{user.email}>" if user else f"id {user_id} (deactivated?)"
    return IssueDraft(
        kind="unknown user",
        object_ref=user_ref(user_id),
        message=f"MOCO user {who} has no awork account with that e-mail; their absences are not carried until an "
        f"awork user has the same e-mail",
    )


def plan_absences(
    ranges: Iterable[AbsenceRange],
    window: AbsenceWindow,
    ours: Iterable[AworkAbsence],
    links: Mapping[str, Link],
    moco_users: Mapping[int, MocoUser],
    awork_user_by_email: Mapping[str, str],
    carry_since: datetime | None,
) -> AbsencePlan:
    """Compare MOCO's ranges on the window's days with our awork absences (`externalProvider` = ours) and the
    store's links: what to create, update, link, delete.

    A range is carried when the window is explicit, when one of its days changed at or after `carry_since`, or
    when it touches a day of one of our absences or is linked (so what we carried keeps following MOCO); the others
    are counted as not carried. Our absences on the window's days that no range claims are deleted, except those of
    MOCO users we cannot match (their ranges are unknown). Absences of other origin are never read here."""
    plan = AbsencePlan()
    ours = list(ours)
    by_id = {absence.id: absence for absence in ours}
    owner_by_absence = {link.target_id: link.parent_id for link in links.values()}
    claimed: set[str] = set()
    unmatched_users: set[str] = set()
    ranges = list(ranges)
    kept_by_link = {links[r.key].target_id for r in ranges if r.key in links}  # each stays with its own range
    taken_over: set[str] = set()  # links of absences another range took over (its first day moved)
    for moco_range in ranges:
        if not moco_range.overlaps(window.first_day, window.last_day):
            continue
        user = moco_users.get(moco_range.user_id)
        awork_user = awork_user_by_email.get(user.email.strip().lower()) if user and user.email else None
        link = links.get(moco_range.key)
        carried = (
            window.explicit
            or link is not None
            or (carry_since is not None and moco_range.changed_at is not None and moco_range.changed_at >= carry_since)
            or any(a.user_id == awork_user and moco_range.overlaps(a.first_day, a.last_day) for a in ours if awork_user)
        )
        if not carried:
            plan.not_carried += 1
            continue
        plan.checked_refs.append(user_ref(moco_range.user_id))
        if awork_user is None:
            plan.issues.append(unknown_user(user, moco_range.user_id))
            unmatched_users.add(str(moco_range.user_id))
            continue
        draft = AbsenceDraft(key=moco_range.key, moco_user_id=moco_range.user_id, form=moco_range.form(awork_user))
        plan.checked_refs.append(absence_ref(draft.key))
        current = by_id.get(link.target_id) if link else None
        if current is None or current.id in claimed:  # not linked, or its absence is lost
            free = [a for a in ours if a.id not in claimed and a.id not in kept_by_link]
            current = _adoptable(free, draft, moco_range)
        if current is None:
            plan.create.append(draft)
            continue
        claimed.add(current.id)
        taken_over.update(k for k, other in links.items() if other.target_id == current.id and k != draft.key)
        if not draft.form.is_set_on(current):
            plan.update.append(AbsenceChange(absence_id=current.id, draft=draft))
        elif link is None or link.target_id != current.id or link.source_hash != draft.hash:
            plan.adopt.append(AbsenceChange(absence_id=current.id, draft=draft))
        else:
            plan.unchanged += 1
    key_by_absence = {link.target_id: key for key, link in links.items()}
    for absence in ours:
        if absence.id in claimed or not (window.first_day <= absence.last_day and absence.first_day <= window.last_day):
            continue
        if owner_by_absence.get(absence.id) in unmatched_users:
            continue
        removal = AbsenceRemoval(absence_id=absence.id, key=key_by_absence.get(absence.id))
        plan.delete.append(removal)
        plan.checked_refs.append(absence_ref(removal.key or removal.absence_id))
    wanted = {d.key for d in plan.create} | {c.draft.key for c in plan.update + plan.adopt}
    gone = {
        k for k, link in links.items() if link.target_id not in by_id and k not in wanted and _linked_in(link, window)
    }
    plan.forget = sorted(gone | taken_over)
    return plan


def _adoptable(free: Sequence[AworkAbsence], draft: AbsenceDraft, moco_range: AbsenceRange) -> AworkAbsence | None:
    """Which of our unclaimed absences a range without one takes over: one that already says what the range says
    (a crashed run or a lost store wrote it), else one of the same user and kind sharing a day with it (the range
    grew at its start, or a split left it)."""
    if same := next((a for a in free if draft.form.is_set_on(a)), None):
        return same
    kinds = (moco_range.kind, f"{moco_range.kind}: ")
    return next(
        (
            a
            for a in free
            if a.user_id == draft.form.user_id
            and ((a.description or "") == kinds[0] or (a.description or "").startswith(kinds[1]))
            and moco_range.overlaps(a.first_day, a.last_day)
        ),
        None,
    )


def _linked_in(link: Link, window: AbsenceWindow) -> bool:
    return link.source_day is not None and window.first_day <= link.source_day <= window.last_day
