"""The rules of "import MOCO projects", as pure functions: scope, keys, links, drafts, steps, the plan."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from connectors.moco import MocoProject
from models.plans import (
    DELETED_TASK_HASH,
    CustomerRef,
    ImportPlan,
    PlannedProject,
    ProjectClosure,
    ProjectDraft,
    ProjectSteps,
    TaskDraft,
)
from models.store import IssueDraft, Link

PROJECT_KEY_MAX = 32
_TRANSLITERATION = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS"})
_AWORK_PROJECT_ID = re.compile(
    r"/projects/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:[/?#]|$)"
)
_TRUE_VALUES = {"1", "true", "yes", "ja"}
CLOSED_TASK_SUFFIX = " (geschlossen in MOCO)"  # appended to awork tasks whose MOCO task is deactivated or deleted
# the store's link kinds of the import besides project, company, task_list and task
PROJECT_MEMBERS = "project_members"  # MOCO project -> awork project; hash of the leader and staff last synced
PROJECT_MEMBER = "project_member"  # "<MOCO project>:<awork user>" -> awork user: a member we added
PROJECT_CLOSED = "project_closed"  # MOCO project -> awork project we closed because it left the scope


@dataclass(frozen=True)
class ImportNames:
    """The MOCO names the rules look for (settings; README "Configuration" lists their defaults)."""

    sync_tag: str = "Sync to awork"
    sync_field: str = "Sync zu awork"
    link_field: str = "awork Projekt"
    template_field: str = "awork Projektvorlage"
    unassigned_task: str = "Nicht zugeordnete Zeiterfassung"  # push-awork-times' own bucket: not mirrored


def normalize_name(name: str) -> str:
    """A name compared up to case, surrounding and repeated spaces and Unicode form."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def is_in_scope(project: MocoProject, names: ImportNames) -> bool:
    """Flagged for sync: the tag, or the Yes/No custom field set to yes."""
    flag = project.custom_properties.get(names.sync_field)
    return names.sync_tag in project.tags or str(flag).strip().lower() in _TRUE_VALUES


def project_key(identifier: str | None) -> str | None:
    """The awork `projectKey` for a MOCO project number: upper case, umlauts spelled out, every run of characters
    other than letters, digits, `-` and `_` turned into one `-`; None when nothing (or more than 32 characters)
    is left."""
    if not identifier:
        return None
    text = identifier.strip().upper().translate(_TRANSLITERATION)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    key = re.sub(r"[^A-Z0-9_-]+", "-", text).strip("-")
    return key if 0 < len(key) <= PROJECT_KEY_MAX else None


def parse_awork_link(value: object) -> str | None:
    """The awork project id in an `awork Projekt` link (`https://acme.awork.com/projects/<id>[/...]`), else None."""
    if not isinstance(value, str) or not value.strip().lower().startswith(("http://", "https://")):
        return None
    match = _AWORK_PROJECT_ID.search(value.strip())
    return match.group(1).lower() if match else None


def awork_project_url(app_url: str, project_id: str) -> str:
    """The link to an awork project that we write back to MOCO."""
    return f"{app_url.rstrip('/')}/projects/{project_id}"


def project_ref(project_id: int) -> str:
    return f"moco project {project_id}"


def customer_ref(customer_id: int) -> str:
    return f"moco customer {customer_id}"


def draft_project(project: MocoProject, templates: Mapping[str, str], names: ImportNames) -> ProjectDraft | IssueDraft:
    """The awork project a MOCO project should become, or the sync issue that keeps it from syncing.

    `templates` maps normalized awork template names to ids. A project that is already linked (pre-filled or
    written-back `awork Projekt`) does not need its template any more."""
    ref, label = project_ref(project.id), f"MOCO project {project.identifier or project.id} '{project.name}'"
    link_value = project.custom_properties.get(names.link_field) or None
    linked_id = parse_awork_link(link_value)
    if link_value and not linked_id:
        return IssueDraft(
            kind="malformed awork link",
            object_ref=ref,
            message=f"{label}: '{names.link_field}' is {link_value!r}, not a link to an awork project "
            f"(https://<workspace>.awork.com/projects/<id>); correct or clear the field",
        )
    key = project_key(project.identifier)
    if key is None:
        return IssueDraft(
            kind="invalid project key",
            object_ref=ref,
            message=f"{label}: the project number {project.identifier!r} cannot be an awork project key "
            f"(1-{PROJECT_KEY_MAX} letters, digits, '-' or '_'); shorten or change the number in MOCO",
        )
    if project.customer is None:
        return IssueDraft(
            kind="missing customer",
            object_ref=ref,
            message=f"{label} has no customer; set one in MOCO so the awork project gets its client",
        )
    template_name = str(project.custom_properties.get(names.template_field) or "").strip() or None
    template_id = templates.get(normalize_name(template_name)) if template_name else None
    if template_name and template_id is None and linked_id is None:
        return IssueDraft(
            kind="unknown template",
            object_ref=ref,
            message=f"{label}: there is no awork project template named '{template_name}'; the project waits "
            f"until '{names.template_field}' names an existing template",
        )
    return ProjectDraft(
        moco_id=project.id,
        identifier=project.identifier or "",
        project_key=key,
        name=project.name,
        start_date=project.start_date,
        due_date=project.finish_date,
        customer=CustomerRef(moco_id=project.customer.id, name=project.customer.name),
        template_id=template_id,
        template_name=template_name,
        linked_awork_id=linked_id,
        moco_link_value=str(link_value) if link_value else None,
        tasks=[
            TaskDraft(moco_id=task.id, name=task.name, active=task.active)
            for task in project.tasks
            if normalize_name(task.name) != normalize_name(names.unassigned_task)
        ],
        leader_id=project.leader.id if project.leader else None,
        staff_ids=project.staff,
    )


def closed_task_name(name: str) -> str:
    """The awork name of a task closed because its MOCO task is deactivated or deleted (people stop booking)."""
    return name if name.endswith(CLOSED_TASK_SUFFIX) else f"{name}{CLOSED_TASK_SUFFIX}"


def reopened_task_name(name: str) -> str:
    return name.removesuffix(CLOSED_TASK_SUFFIX)


def project_steps(
    draft: ProjectDraft,
    project_link: Link | None,
    task_links: Mapping[str, Link],
    has_task_list: bool,
    app_url: str,
    *,
    members_link: Link | None = None,
    closed: bool = False,
) -> ProjectSteps:
    """What must happen in awork and MOCO for one project, given what the store knows was done before.

    `task_links` are the links of the project's tasks (all of them: a linked task MOCO no longer lists was
    deleted there); `members_link` records the members last synced; `closed` says we closed its awork project."""
    stored_id = project_link.target_id if project_link else None
    awork_id = draft.linked_awork_id or stored_id
    steps = ProjectSteps(awork_project_id=awork_id)
    if awork_id is None:
        steps.create_project = True
    elif stored_id != awork_id:
        steps.link_existing = True
    elif project_link is not None and project_link.source_hash != draft.hash:
        steps.update_project = True
    steps.write_back_link = awork_id is None or draft.moco_link_value != awork_project_url(app_url, awork_id)
    steps.ensure_task_list = not has_task_list
    steps.sync_members = (
        awork_id is None or members_link is None or members_link.source_hash != draft.members_hash(awork_id)
    )
    steps.reopen_project = closed
    for task in draft.tasks:
        link = task_links.get(str(task.moco_id))
        if link is None:
            if task.active:  # a deactivated task never linked is not mirrored
                steps.create_tasks.append(task)
        elif link.source_hash != task.hash:
            (steps.rename_tasks if task.active else steps.close_tasks).append(task)
    listed = {str(task.moco_id) for task in draft.tasks}
    steps.close_deleted_tasks = sorted(
        int(moco_id)
        for moco_id, link in task_links.items()
        if moco_id not in listed and link.source_hash != DELETED_TASK_HASH
    )
    return steps


@dataclass(frozen=True)
class ImportLinks:
    """The store's links the import plans with, each kind by source id."""

    projects: Mapping[str, Link] = field(default_factory=dict)
    tasks: Mapping[str, Link] = field(default_factory=dict)
    task_lists: Mapping[str, Link] = field(default_factory=dict)
    members: Mapping[str, Link] = field(default_factory=dict)  # PROJECT_MEMBERS
    closed: Mapping[str, Link] = field(default_factory=dict)  # PROJECT_CLOSED
    companies: Mapping[str, Link] = field(default_factory=dict)

    def tasks_of(self, moco_project_id: int) -> dict[str, Link]:
        return {key: link for key, link in self.tasks.items() if link.parent_id == str(moco_project_id)}


def plan_import(
    projects: Iterable[MocoProject],
    templates: Mapping[str, str],
    links: ImportLinks,
    names: ImportNames,
    app_url: str,
) -> ImportPlan:
    """Compare MOCO's flagged projects with the store's links: what to create, link, update, close, or report.

    `projects` are all flagged, active MOCO projects: a linked project missing from them was archived, unflagged
    or deleted, and its awork project is closed (once)."""
    plan = ImportPlan()
    seen_keys: dict[str, int] = {}
    in_scope: set[str] = set()
    renamed: dict[int, CustomerRef] = {}
    for project in projects:
        if not is_in_scope(project, names):
            continue
        in_scope.add(str(project.id))
        plan.checked_refs.append(project_ref(project.id))
        draft = draft_project(project, templates, names)
        if isinstance(draft, IssueDraft):
            plan.issues.append(draft)
            continue
        if (other := seen_keys.setdefault(draft.project_key, draft.moco_id)) != draft.moco_id:
            plan.issues.append(duplicate_key_issue(draft, other))
            continue
        source = str(draft.moco_id)
        steps = project_steps(
            draft,
            links.projects.get(source),
            links.tasks_of(draft.moco_id),
            source in links.task_lists,
            app_url,
            members_link=links.members.get(source),
            closed=source in links.closed,
        )
        company = links.companies.get(str(draft.customer.moco_id))
        if company and company.source_hash is not None and company.source_hash != draft.customer.hash:
            renamed[draft.customer.moco_id] = draft.customer  # a company we created, for a renamed customer
        if steps.is_noop:
            plan.unchanged += 1
        else:
            plan.projects.append(PlannedProject(draft=draft, steps=steps))
    plan.close_projects = [
        ProjectClosure(moco_id=int(source), awork_project_id=link.target_id)
        for source, link in sorted(links.projects.items())
        if source not in in_scope and source not in links.closed
    ]
    plan.rename_companies = [renamed[key] for key in sorted(renamed)]
    return plan


def duplicate_key_issue(draft: ProjectDraft, other_moco_id: int) -> IssueDraft:
    return IssueDraft(
        kind="invalid project key",
        object_ref=project_ref(draft.moco_id),
        message=f"MOCO project {draft.identifier} '{draft.name}' would get the awork key {draft.project_key}, "
        f"which MOCO project {other_moco_id} already gets; give one of them a distinct number",
    )


def template_index(templates: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Template ids by normalized name (the first wins when two templates share a name)."""
    index: dict[str, str] = {}
    for template_id, name in templates:
        index.setdefault(normalize_name(name), template_id)
    return index


def batches(items: Sequence[PlannedProject], size: int) -> list[list[PlannedProject]]:
    """Consecutive slices of at most `size` projects (one Prefect task each)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass(frozen=True)
class MemberChanges:
    """How to bring an awork project's members in line with MOCO: users to add (and whether each is the responsible
    one), members whose responsible flag to set, and members we added who are to go. In this order: flags that
    are cleared first, then removals, then the rest (awork allows only one responsible member)."""

    add: dict[str, bool] = field(default_factory=dict)
    update: dict[str, bool] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.add or self.update or self.remove)


def wanted_members(
    draft: ProjectDraft, moco_emails: Mapping[int, str], awork_users: Mapping[str, str]
) -> tuple[dict[str, bool], list[int]]:
    """The awork users who should be members of a project (the leader responsible, the staff not), matched by
    e-mail (case-insensitive), and the MOCO users without an awork account. MOCO users not in `moco_emails`
    (deactivated, or without e-mail) are left out."""
    wanted: dict[str, bool] = {}
    missing: list[int] = []
    people = dict.fromkeys(draft.staff_ids, False)
    if draft.leader_id is not None:
        people[draft.leader_id] = True
    for moco_id, responsible in people.items():
        email = moco_emails.get(moco_id)
        if not email:
            continue
        awork_id = awork_users.get(email.strip().lower())
        if awork_id is None:
            missing.append(moco_id)
        else:
            wanted[awork_id] = wanted.get(awork_id, False) or responsible
    return wanted, sorted(missing)


def member_changes(wanted: Mapping[str, bool], current: Mapping[str, bool], ours: set[str]) -> MemberChanges:
    """Compare the wanted members (awork user id -> responsible) with the current ones: add the missing, set the
    responsible flag where it differs (a responsible member MOCO does not name loses the flag only when MOCO names
    another), and remove members we added who are no longer wanted. Members added by hand stay."""
    changes = MemberChanges()
    new_leader = any(wanted.values())
    for user_id, responsible in current.items():
        if user_id in wanted:
            if wanted[user_id] != responsible:
                changes.update[user_id] = wanted[user_id]
        elif user_id in ours:
            changes.remove.append(user_id)
        elif responsible and new_leader:
            changes.update[user_id] = False
    changes.add.update({user_id: responsible for user_id, responsible in wanted.items() if user_id not in current})
    changes.remove.sort()
    return changes
