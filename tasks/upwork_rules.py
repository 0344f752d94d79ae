"""The rules of the Upwork side, as pure functions: organisation kinds, user suggestions, rates, what syncs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from models import clock
from models.upwork_store import UpworkContract, UpworkContractMapping, UpworkUserMapping

AGENCY, CLIENT, FREELANCER = "agency", "client", "freelancer"
FREEZE = time(12)  # an Upwork week (Monday to Sunday, UTC) freezes on the following Monday at 12:00 UTC
EARLIEST = datetime.min.replace(tzinfo=UTC)  # before any freeze: what syncs on the days before a contract stopped
STOPPED = {"PAUSED": "paused", "ENDED": "ended", "CANCELLED": "cancelled"}  # Upwork status -> how we say it
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def organization_kind(organization_type: str | None, legacy_type: str | None) -> str:
    """Agency, client or freelancer, from Upwork's `organizationType` (Business / SoleProprietor) and
    `organizationLegacyType` (Client / Vendor)."""
    kind = (organization_type or "").replace("_", "").lower()
    legacy = (legacy_type or "").lower()
    if legacy == "client":
        return CLIENT
    if kind == "soleproprietor":
        return FREELANCER
    return AGENCY


def name_forms(name: str) -> set[str]:
    """A name's comparable forms: case, accents, punctuation and spacing ignored, umlauts spelled both ways
    ("Jörg Müller" -> "jorg muller" and "joerg mueller")."""
    folded = " ".join(re.sub(r"[^\w\s]", " ", name.casefold()).split())
    spelled = folded.translate(_UMLAUTS)
    return {_strip_accents(folded), _strip_accents(spelled)}


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Person:
    """Someone on either side, as the matching sees them."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    display_name: str = ""  # Upwork's "John S."
    joined: bool = True  # an awork user who accepted their invitation (Upwork freelancers: always)

    def full_names(self) -> set[str]:
        full = f"{self.first_name} {self.last_name}".strip() or self.display_name
        return name_forms(full)

    def short_names(self) -> set[str]:
        """The "John S." forms of this person (first name and the initial of the last name)."""
        if self.first_name and self.last_name:
            return name_forms(f"{self.first_name} {self.last_name[0]}")
        parts = self.display_name.replace(".", " ").split()
        return name_forms(" ".join(parts[:-1] + [parts[-1][0]])) if len(parts) > 1 else name_forms(self.display_name)


@dataclass(frozen=True)
class Suggestion:
    awork_user_id: str | None
    reason: str


def suggest_awork_user(freelancer: Person, awork_users: Sequence[Person]) -> Suggestion:
    """The awork user a freelancer probably is: same e-mail, else same full name, else the "John S." form of an
    awork user's full name. Only a single candidate is suggested; suggestions are never applied unconfirmed."""
    if freelancer.email:
        same = [u for u in awork_users if u.email and u.email.strip().lower() == freelancer.email.strip().lower()]
        if len(same) == 1:
            return Suggestion(same[0].id, f"same e-mail {freelancer.email}")
    for how, wanted, forms in (
        ("same name", freelancer.full_names(), Person.full_names),
        ("name matches", freelancer.short_names(), Person.short_names),
    ):
        candidates = [u for u in awork_users if wanted & forms(u)]
        if len(candidates) == 1:
            match = candidates[0]
            return Suggestion(
                match.id,
                f"{how}: {freelancer.display_name or freelancer.first_name} ~ "
                f"{match.first_name} {match.last_name}".strip(),
            )
        if len(candidates) > 1:
            names = ", ".join(sorted(f"{u.first_name} {u.last_name}" for u in candidates))
            return Suggestion(
                None, f"{len(candidates)} awork users could be {freelancer.display_name}: {names}; map by hand"
            )
    return Suggestion(None, "no awork user with this e-mail or name")


def default_rates(organization_kind_: str, upwork_rate: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """(pay rate, bill rate) pre-filled from the Upwork rate: an agency (or a freelancer's own organisation) bills
    its client the Upwork rate; a client pays it."""
    if upwork_rate is None:
        return None, None
    return (upwork_rate, None) if organization_kind_ == CLIENT else (None, upwork_rate)


@dataclass(frozen=True)
class RatePeriod:
    rate: Decimal
    start: date
    end: date | None = None


def rate_on(periods: Sequence[RatePeriod], day: date) -> Decimal | None:
    """The rate in effect on a day (the latest period that started on or before it and has not ended)."""
    current = None
    for period in sorted(periods, key=lambda p: p.start):
        if period.start <= day and (period.end is None or day <= period.end):
            current = period.rate
    return current


@dataclass(frozen=True)
class ContractStop:
    """A paused, ended or cancelled contract: its time syncs up to the end of the Upwork week it stopped in (hours
    logged while it was active still arrive), and no longer once that week has frozen."""

    status: str  # paused, ended, cancelled
    day: date | None  # the end date (ended, cancelled) or the day of Upwork's last change (paused)

    @property
    def last_day(self) -> date:
        """The Sunday of the week it stopped in: the last Upwork day synced (none without a stop day)."""
        return self.day + timedelta(days=6 - self.day.weekday()) if self.day else date.min

    @property
    def frozen_at(self) -> datetime:
        """When that week freezes: the following Monday, 12:00 UTC."""
        return datetime.combine(self.last_day + timedelta(days=1), FREEZE, tzinfo=UTC) if self.day else EARLIEST

    @property
    def reason(self) -> str:
        """ "paused", "ended on 2026-03-12", "cancelled on 2026-03-12"."""
        return self.status if self.status == "paused" or self.day is None else f"{self.status} on {self.day}"


def contract_stop(status: str, end_date: date | None, modified_at: datetime | None) -> ContractStop | None:
    """How an Upwork contract status stops its sync, None while it is active. The stop day is the end date of an
    ended or cancelled contract, else the UTC day of Upwork's last change of it (`modifyDate`: for a paused contract,
    when it was paused or later)."""
    said = STOPPED.get(status.upper())
    if said is None:
        return None
    changed = modified_at.astimezone(UTC).date() if modified_at else None
    return ContractStop(said, (end_date if said != "paused" else None) or changed)


def mapping_sync_state(
    contract: UpworkContract,
    mapping: UpworkContractMapping | None,
    user: UpworkUserMapping | None,
    now: datetime | None = None,
) -> tuple[bool, str]:
    """`contract_sync_state` of a stored contract, its mapping and its freelancer's user mapping at `now` (default:
    the clock's now)."""
    stop = contract_stop(contract.status, contract.end_date, contract.modified_at)
    return contract_sync_state(
        contract.kind,
        bool(mapping and mapping.enabled),
        mapping.awork_project_id if mapping else None,
        user.state if user else None,
        bool(user and user.sync_enabled),
        stop,
        now or clock.utc_now(),
    )


def contract_sync_state(
    kind: str,
    enabled: bool,
    awork_project_id: str | None,
    user_state: str | None,
    user_sync: bool,
    stop: ContractStop | None = None,
    now: datetime = EARLIEST,
) -> tuple[bool, str]:
    """Whether a contract's time syncs at `now`, and if not, why. A stopped contract syncs until its last week
    freezes, and says so."""
    if kind != "hourly":
        return False, "fixed-price: no time to sync"
    if stop and now >= stop.frozen_at:
        return False, stop.reason
    if not awork_project_id:
        return False, "no awork project selected"
    if not enabled:
        return False, "disabled"
    if user_state != "confirmed":
        return False, "freelancer not mapped to a confirmed awork user"
    if not user_sync:
        return False, "freelancer's sync is off"
    if stop:
        return True, f"syncs until {stop.frozen_at:%Y-%m-%d %H:%M} UTC ({stop.reason})"
    return True, "syncs"
