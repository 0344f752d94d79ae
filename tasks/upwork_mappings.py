"""Mapping Upwork to awork from the CLI: the awork project or user a mapping needs, created exactly once (a project
with its company, as the import finds or creates it; an invitation), and the rules of changing user mappings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.awork import AworkClient, AworkProject, AworkProjectForm, AworkUser
from models.settings import Settings
from models.upwork_store import CONFIRMED, INVITED, SUGGESTED, UpworkUserMapping
from tasks.idempotent import create_once
from tasks.import_projects import company_for, company_index
from tasks.project_rules import normalize_name
from tasks.upwork_rules import Person


def project_named(settings: Settings, name: str, company_name: str | None) -> tuple[AworkProject, bool]:
    """The awork project called `name` (case, spacing and Unicode form ignored), else a new one in the company
    `company_name` (found by name or created, as the import does); returns it and whether it was created."""
    with AworkClient.from_settings(settings) as awork:

        def find() -> AworkProject | None:
            return next((p for p in awork.projects() if normalize_name(p.name) == normalize_name(name)), None)

        existing = find()
        if existing is not None:
            return existing, False
        company = company_for(awork, company_name, company_index(awork))[0] if company_name else None
        form = AworkProjectForm(name=name, companyId=company.id if company else None)
        return create_once(lambda: awork.create_project(form), find)


@dataclass(frozen=True)
class Invitee:
    awork_user_id: str
    accepted: bool
    invited_now: bool = False


def user_with_email(users: Sequence[AworkUser], email: str) -> AworkUser | None:
    """The user (member or invited) with this e-mail among their contact infos, ignoring case and spaces."""
    wanted = email.strip().casefold()
    for user in users:
        emails = [c.value for c in user.contact_infos or [] if c.type == "email" and c.value]
        if any(value.strip().casefold() == wanted for value in emails):
            return user
    return None


def existing_invitee(settings: Settings, email: str) -> Invitee | None:
    """The awork user with this e-mail, whether they accepted an invitation or not; None if there is none."""
    with AworkClient.from_settings(settings) as awork:
        user = user_with_email(awork.users(), email)
    return Invitee(user.id, user.status.invitation_accepted) if user else None


def invite(settings: Settings, email: str, first_name: str | None, last_name: str | None) -> Invitee:
    """Invite someone into awork (once, even when the answer is lost: then the invitee is looked up by e-mail)."""
    with AworkClient.from_settings(settings) as awork:

        def find() -> str | None:
            user = user_with_email(awork.users(), email)
            return user.id if user else None

        user_id, sent = create_once(lambda: awork.invite_user(email, first_name, last_name).user_id, find)
    return Invitee(user_id, accepted=False, invited_now=sent)


def invitation_state(invitee: Invitee, email: str) -> tuple[str, str]:
    """(state, reason) of a freelancer mapped to an invitee: confirmed once they accepted, else invited."""
    if invitee.accepted:
        return CONFIRMED, f"invited as {email}, accepted"
    return INVITED, f"invited as {email}; confirmed once accepted (the next refresh sees it)"


def accept_invitation(mapping: UpworkUserMapping, awork_people: Sequence[Person]) -> bool:
    """Confirm a mapping to an invitee who has joined awork since; returns whether it changed."""
    joined = {person.id for person in awork_people if person.joined}
    if mapping.state != INVITED or mapping.awork_user_id not in joined:
        return False
    mapping.state, mapping.reason = CONFIRMED, (mapping.reason or "invited").split(";")[0] + ", accepted"
    return True


def locked_refusal(mapping: UpworkUserMapping, awork_user_id: str | None, force: bool) -> str | None:
    """Why a change of a freelancer's awork user is refused: a locked mapping changes only after `--unlock` (or
    with `--force`); keeping the same user is no change. None when the change may go ahead."""
    if not mapping.locked or force or awork_user_id == mapping.awork_user_id:
        return None
    return (
        f"freelancer {mapping.freelancer_id} in {mapping.organization_id} is locked to awork user "
        f"{mapping.awork_user_id}; unlock it first with `timebridge upwork map-user {mapping.freelancer_id} "
        f"--org {mapping.organization_id} --unlock`, or add --force"
    )


def confirmable(mappings: Sequence[UpworkUserMapping]) -> tuple[list[UpworkUserMapping], list[UpworkUserMapping]]:
    """The suggestions `--confirm-all` confirms, and the mappings it leaves for a person (those not confirmed).
    A suggestion is unambiguous when no other freelancer of its organisation is suggested or mapped to the same
    awork user; the matching itself only suggests single candidates."""
    targets: dict[tuple[str, str], int] = {}
    for mapping in mappings:
        if mapping.awork_user_id:
            key = (mapping.organization_id, mapping.awork_user_id)
            targets[key] = targets.get(key, 0) + 1
    sure: list[UpworkUserMapping] = []
    rest: list[UpworkUserMapping] = []
    for mapping in mappings:
        if mapping.state == CONFIRMED:
            continue
        shared = mapping.awork_user_id and targets[(mapping.organization_id, mapping.awork_user_id)] > 1
        suggested = mapping.state == SUGGESTED and mapping.awork_user_id and not mapping.locked
        (sure if suggested and not shared else rest).append(mapping)
    return sure, rest
