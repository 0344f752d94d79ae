"""The rules of "import MOCO projects", as pure functions: scope, keys, links, drafts, steps, the plan."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from connectors.moco import MocoProject
from models.plans import CustomerRef, ImportPlan, PlannedProject, ProjectDraft, ProjectSteps, TaskDraft
from models.store import IssueDraft, Link

PROJECT_KEY_MAX = 32
_TRANSLITERATION = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS"})
_AWORK_PROJECT_ID = re.compile(
    r"/projects/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:[/?#]|$)"
)
_TRUE_VALUES = {"1", "true", "yes", "ja"}


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
            TaskDraft(moco_id=task.id, name=task.name)
            for task in project.tasks
            if normalize_name(task.name) != normalize_name(names.unassigned_task)
        ],
    )


def project_steps(
    draft: ProjectDraft,
    project_link: Link | None,
    task_links: Mapping[str, Link],
    has_task_list: bool,
    app_url: str,
) -> ProjectSteps:
    """What must happen in awork and MOCO for one project, given what the store knows was done before."""
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
    for task in draft.tasks:
        link = task_links.get(str(task.moco_id))
        if link is None:
            steps.create_tasks.append(task)
        elif link.source_hash != task.hash:
            steps.rename_tasks.append(task)
    return steps


def plan_import(
    projects: Iterable[MocoProject],
    templates: Mapping[str, str],
    project_links: Mapping[str, Link],
    task_links: Mapping[str, Link],
    task_list_links: Mapping[str, Link],
    names: ImportNames,
    app_url: str,
) -> ImportPlan:
    """Compare MOCO's flagged projects with the store's links: what to create, link, update, or report."""
    plan = ImportPlan()
    seen_keys: dict[str, int] = {}
    for project in projects:
        if not is_in_scope(project, names):
            continue
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
            project_links.get(source),
            {str(t.moco_id): task_links[str(t.moco_id)] for t in draft.tasks if str(t.moco_id) in task_links},
            source in task_list_links,
            app_url,
        )
        if steps.is_noop:
            plan.unchanged += 1
        else:
            plan.projects.append(PlannedProject(draft=draft, steps=steps))
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
