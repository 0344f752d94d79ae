"""The Upwork review as a paused Prefect run: what the manager is asked (suggested freelancer matches, hourly
contracts without an awork project) and applying the answer exactly as `timebridge upwork map-user --confirm` and
`map-contract --project` do. The questions and the answer are pure; the flow reads and stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from models.upwork_store import (
    CONFIRMED,
    SUGGESTED,
    UpworkContract,
    UpworkContractMapping,
    UpworkFreelancer,
    UpworkUserMapping,
)


def item_key(organization_id: str, item_id: str) -> str:
    """How the form names a freelancer or contract of an organisation: `ORG/ID`."""
    return f"{organization_id}/{item_id}"


def confirm_suggestion(mapping: UpworkUserMapping) -> None:
    """Confirm the suggested awork user and lock the mapping (what `map-user --confirm` does)."""
    mapping.state, mapping.locked = CONFIRMED, True


def select_project(mapping: UpworkContractMapping, awork_project_id: str) -> None:
    """Send the contract's time to this awork project and enable it (what `map-contract --project` does)."""
    mapping.awork_project_id, mapping.enabled = awork_project_id, True


@dataclass
class Questions:
    """What the review asks: suggestions to confirm and hourly contracts that need a project, by `ORG/ID`."""

    suggestions: dict[str, UpworkUserMapping] = field(default_factory=dict)
    contracts: dict[str, UpworkContract] = field(default_factory=dict)


def questions(
    user_mappings: Iterable[UpworkUserMapping],
    contracts: Iterable[UpworkContract],
    contract_mappings: Mapping[tuple[str, str], UpworkContractMapping],
    organization_ids: Sequence[str],
) -> Questions:
    """The unconfirmed suggestions and the hourly contracts without an awork project of these organisations."""
    wanted = set(organization_ids)
    asked = Questions()
    for mapping in user_mappings:
        if mapping.organization_id in wanted and mapping.state == SUGGESTED and mapping.awork_user_id:
            asked.suggestions[item_key(mapping.organization_id, mapping.freelancer_id)] = mapping
    for contract in contracts:
        contract_mapping = contract_mappings.get((contract.organization_id, contract.id))
        needs_project = contract_mapping is not None and not contract_mapping.awork_project_id
        if contract.organization_id in wanted and contract.kind == "hourly" and needs_project:
            asked.contracts[item_key(contract.organization_id, contract.id)] = contract
    return asked


def questions_markdown(
    asked: Questions, freelancers: Mapping[str, UpworkFreelancer], awork_users: Mapping[str, str]
) -> str:
    """The form's description: each suggestion with its reason, each contract without project."""
    lines = ["**Suggested awork users** (keep a key in `confirm` to confirm it, remove it to leave it open):", ""]
    for key, mapping in asked.suggestions.items():
        person = freelancers.get(mapping.freelancer_id)
        user = awork_users.get(mapping.awork_user_id or "", mapping.awork_user_id)
        name = person.name if person else mapping.freelancer_id
        lines.append(f"- `{key}`: {name} → {user} ({mapping.reason or 'suggested'})")
    lines += ["", "**Contracts without an awork project** (fill in an awork project id in `projects`):", ""]
    lines += [f"- `{key}`: {contract.title}" for key, contract in asked.contracts.items()]
    return "\n".join(lines)


@dataclass
class Answered:
    """What applying the answer changed, and what it could not apply (a key the review did not ask about)."""

    confirmed: list[UpworkUserMapping] = field(default_factory=list)
    mapped: list[UpworkContractMapping] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def apply_answer(
    asked: Questions,
    contract_mappings: Mapping[tuple[str, str], UpworkContractMapping],
    confirm: Iterable[str],
    projects: Mapping[str, str],
) -> Answered:
    """Confirm the suggestions kept in `confirm` and select the projects filled in `projects` (blank: left open)."""
    answered = Answered()
    for key in confirm:
        mapping = asked.suggestions.get(key)
        if mapping is None:
            answered.ignored.append(key)
            continue
        confirm_suggestion(mapping)
        answered.confirmed.append(mapping)
    for key, project_id in projects.items():
        contract = asked.contracts.get(key)
        if contract is None:
            if project_id.strip():
                answered.ignored.append(key)
            continue
        if project_id.strip():
            contract_mapping = contract_mappings[(contract.organization_id, contract.id)]
            select_project(contract_mapping, project_id.strip())
            answered.mapped.append(contract_mapping)
    return answered
