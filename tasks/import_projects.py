"""Prefect tasks of "import MOCO projects": read both sides, ensure companies, apply a batch of projects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from connectors.awork import AworkClient, AworkCompany, AworkProject, AworkProjectForm, AworkTask, AworkTaskList
from connectors.http import ClientError, NotFoundError
from connectors.moco import MocoClient, MocoProject
from models.plans import CustomerRef, ImportResult, PlannedProject, ProjectDraft, ProjectSteps, TaskDraft
from models.settings import Settings, get_settings
from models.store import IssueDraft, Link, LinkRecord, Store, open_store
from tasks.idempotent import create_once
from tasks.project_rules import (
    ImportNames,
    awork_project_url,
    customer_ref,
    normalize_name,
    project_ref,
    project_steps,
    template_index,
)
from tasks.shared import RETRY


def import_names(settings: Settings) -> ImportNames:
    return ImportNames(
        sync_tag=settings.moco_sync_tag,
        sync_field=settings.moco_sync_field,
        link_field=settings.moco_awork_link_field,
        template_field=settings.moco_template_field,
        unassigned_task=settings.moco_unassigned_task_name,
    )


@task(name="read-moco-projects", cache_policy=NO_CACHE, **RETRY)
def read_moco_projects() -> list[MocoProject]:
    """MOCO projects flagged for sync, by tag or by the Yes/No field (two filtered lists, 100 per page)."""
    settings = get_settings()
    with MocoClient.from_settings(settings) as moco:
        by_id = {p.id: p for p in moco.projects(tags=[settings.moco_sync_tag])}
        by_id.update({p.id: p for p in moco.projects(custom_properties={settings.moco_sync_field: "true"})})
    get_run_logger().info("read %d flagged MOCO projects", len(by_id))
    return [by_id[key] for key in sorted(by_id)]


@task(name="read-awork-templates", cache_policy=NO_CACHE, **RETRY)
def read_awork_templates() -> dict[str, str]:
    """awork project template ids by normalized name (read once per run)."""
    with AworkClient.from_settings(get_settings()) as awork:
        return template_index((t.id, t.name) for t in awork.project_templates())


@task(name="read-awork-project-keys", cache_policy=NO_CACHE, **RETRY)
def read_awork_project_keys() -> dict[str, AworkProject]:
    """Every awork project by key, to adopt projects a crashed run created (read once, only when creating)."""
    with AworkClient.from_settings(get_settings()) as awork:
        projects = awork.projects()
    return {p.project_key: p for p in projects if p.project_key}


def first_company_named(awork: AworkClient, name: str) -> AworkCompany | None:
    return next(iter(awork.companies_named(name)), None)


def company_index(awork: AworkClient) -> dict[str, AworkCompany]:
    """awork's companies by normalized name (the first of equal names), read once."""
    by_name: dict[str, AworkCompany] = {}
    for existing in awork.companies():
        by_name.setdefault(normalize_name(existing.name), existing)
    return by_name


def company_for(awork: AworkClient, name: str, by_name: dict[str, AworkCompany]) -> tuple[AworkCompany, bool]:
    """The awork company called `name` (case, spacing and Unicode form ignored), else a new one, created once even
    when the answer is lost; `by_name` (`company_index`) learns it. Returns it and whether it was created."""
    known = by_name.get(normalize_name(name))
    if known is not None:
        return known, False
    company, created = create_once(partial(awork.create_company, name), partial(first_company_named, awork, name))
    by_name[normalize_name(name)] = company
    return company, created


@task(name="ensure-awork-companies", cache_policy=NO_CACHE, **RETRY)
def ensure_companies(customers: Sequence[CustomerRef]) -> tuple[dict[int, str], ImportResult]:
    """awork company ids for MOCO customers: by our link, else by name (case-insensitive), else created."""
    settings = get_settings()
    store = open_store(settings.database_url)
    links = store.links("company", source_ids=[str(c.moco_id) for c in customers])
    ids = {c.moco_id: links[str(c.moco_id)].target_id for c in customers if str(c.moco_id) in links}
    missing = [c for c in customers if c.moco_id not in ids]
    result = ImportResult()
    if not missing:
        return ids, result
    with AworkClient.from_settings(settings) as awork:
        by_name = company_index(awork)
        for customer in missing:
            try:
                company, created = company_for(awork, customer.name, by_name)
            except ClientError as error:
                result.issues.append(
                    IssueDraft(
                        kind="awork rejected company",
                        object_ref=customer_ref(customer.moco_id),
                        message=f"awork refused to create the company '{customer.name}': {error.message}",
                    )
                )
                continue
            result.companies_created += created
            result.created += [f"company {company.name}"] if created else []
            ids[customer.moco_id] = company.id
            store.save_links([LinkRecord(kind="company", source_id=str(customer.moco_id), target_id=company.id)])
    return ids, result


@dataclass
class ProjectApplier:
    """Applies planned projects one by one with the clients of one batch."""

    moco: MocoClient
    awork: AworkClient
    store: Store
    settings: Settings
    company_ids: dict[int, str]
    awork_by_key: dict[str, AworkProject]
    project_links: dict[str, Link]  # read at the start of the batch, so a retried batch sees its own work
    task_links: dict[str, Link]
    list_links: dict[str, Link]

    def apply(self, planned: PlannedProject) -> ImportResult:
        """Bring one project to its planned state; an API refusal becomes a sync issue for this project only."""
        draft = planned.draft
        try:
            return self._apply(draft)
        except NotFoundError as error:
            kind = "awork project not found"
            message = f"the awork project linked from MOCO project {draft.identifier} does not exist ({error.message})"
        except KeyTakenError as error:
            kind, message = "invalid project key", str(error)
        except MissingCompanyError as error:
            kind, message = "missing awork company", str(error)
        except ClientError as error:
            kind = f"{error.api} rejected"
            message = f"MOCO project {draft.identifier} '{draft.name}' could not be synced: {error}"
        return ImportResult(issues=[IssueDraft(kind=kind, object_ref=project_ref(draft.moco_id), message=message)])

    def _apply(self, draft: ProjectDraft) -> ImportResult:
        source = str(draft.moco_id)
        project_link = self.project_links.get(source)
        task_links = {k: v for k, v in self.task_links.items() if v.parent_id == source}
        list_link = self.list_links.get(source)
        steps = project_steps(draft, project_link, task_links, list_link is not None, self.settings.awork_app_url)
        result = ImportResult()
        company_id = self.company_ids.get(draft.customer.moco_id)
        if company_id is None:
            raise MissingCompanyError(draft)
        form = AworkProjectForm(
            name=draft.name,
            projectKey=draft.project_key,
            startDate=draft.start_date,
            dueDate=draft.due_date,
            companyId=company_id,
            projectTemplateId=draft.template_id,
        )
        fresh = False
        if steps.create_project:
            project, fresh = self._create_project(form)
            self.store.save_links([LinkRecord(kind="project", source_id=source, target_id=project.id)])
            result.projects_created += fresh
            result.projects_linked += not fresh
            if fresh:
                result.created.append(f"project {project.project_key} {project.name}")
            awork_id = project.id
        else:
            awork_id = steps.awork_project_id or ""
            if steps.link_existing or steps.update_project:
                current = self.awork.project(awork_id)
                if not form.is_set_on(current):
                    self.awork.update_project(current, form)
                result.projects_linked += steps.link_existing
                result.projects_updated += steps.update_project
        url = awork_project_url(self.settings.awork_app_url, awork_id)
        if draft.moco_link_value != url:
            self.moco.update_project_custom_properties(draft.moco_id, {self.settings.moco_awork_link_field: url})
            result.links_written_back += 1
        empty_project = fresh and not draft.template_id  # nothing in it yet: no need to look before creating
        task_list, new_list = self._task_list(awork_id, list_link.target_id if list_link else None, empty_project)
        result.task_lists_created += new_list
        needs_tasks = (steps.create_tasks or steps.rename_tasks) and not new_list  # a new list holds no tasks
        existing = self.awork.project_tasks(awork_id) if needs_tasks else []
        links = [LinkRecord(kind="project", source_id=source, target_id=awork_id, source_hash=draft.hash)]
        links.append(LinkRecord(kind="task_list", source_id=source, target_id=task_list.id))
        links += self._tasks(awork_id, draft, steps, task_links, task_list, existing, result)
        self.store.save_links(links)
        return result

    def _create_project(self, form: AworkProjectForm) -> tuple[AworkProject, bool]:
        """Create the awork project, or adopt the one a crashed run created (same key and name)."""
        key = form.project_key or ""
        existing = self.awork_by_key.get(key)
        if existing is None:
            return create_once(lambda: self.awork.create_project(form), lambda: self._adoptable(key, form.name))
        if normalize_name(existing.name) != normalize_name(form.name):
            raise KeyTakenError(key, existing)
        return existing, False

    def _adoptable(self, key: str, name: str) -> AworkProject | None:
        for project in self.awork.projects_with_key(key):
            if normalize_name(project.name) == normalize_name(name):
                return project
            raise KeyTakenError(key, project)
        return None

    def _task_list(self, awork_id: str, linked_id: str | None, empty_project: bool) -> tuple[AworkTaskList, bool]:
        """The project's task list `MOCO`: by link, else by name, else created (then also returns True)."""
        name = self.settings.awork_task_list_name
        if linked_id:
            return AworkTaskList(id=linked_id, name=name), False

        def find() -> AworkTaskList | None:
            return next(
                (tl for tl in self.awork.task_lists(awork_id) if normalize_name(tl.name) == normalize_name(name)), None
            )

        found = None if empty_project else find()
        if found:
            return found, False
        return create_once(lambda: self.awork.create_task_list(awork_id, name), find)

    def _tasks(
        self,
        awork_id: str,
        draft: ProjectDraft,
        steps: ProjectSteps,
        task_links: dict[str, Link],
        task_list: AworkTaskList,
        existing: list[AworkTask],
        result: ImportResult,
    ) -> list[LinkRecord]:
        """Create missing tasks in the list (adopting same-named ones a crashed run left), rename changed ones."""
        linked_ids = {link.target_id for link in task_links.values()}
        unlinked_in_list: dict[str, AworkTask] = {}
        for awork_task in existing:
            if awork_task.id not in linked_ids and any(ref.id == task_list.id for ref in awork_task.lists):
                unlinked_in_list.setdefault(normalize_name(awork_task.name), awork_task)
        by_id = {awork_task.id: awork_task for awork_task in existing}
        order = {task.moco_id: index + 1 for index, task in enumerate(draft.tasks)}

        def create(moco_task: TaskDraft) -> AworkTask:
            adopted = unlinked_in_list.pop(normalize_name(moco_task.name), None)
            if adopted:
                return adopted
            created, _ = create_once(
                lambda: self.awork.create_task(awork_id, moco_task.name, task_list.id, order[moco_task.moco_id]),
                lambda: self._find_task(awork_id, moco_task.name, task_list.id, linked_ids),
            )
            result.tasks_created += 1
            result.created.append(f"task {draft.project_key} / {moco_task.name}")
            return created

        links: list[LinkRecord] = []
        for moco_task in steps.create_tasks:
            links.append(self._task_link(draft, moco_task, create(moco_task)))
        for moco_task in steps.rename_tasks:
            current = by_id.get(task_links[str(moco_task.moco_id)].target_id)
            if current is None:  # deleted in awork meanwhile: MOCO still has it, so it comes back
                awork_task = create(moco_task)
            else:
                awork_task = self.awork.rename_task(current, moco_task.name)
                result.tasks_renamed += 1
            links.append(self._task_link(draft, moco_task, awork_task))
        return links

    def _find_task(self, awork_id: str, name: str, task_list_id: str, linked_ids: set[str]) -> AworkTask | None:
        for candidate in self.awork.project_tasks(awork_id):
            in_list = any(ref.id == task_list_id for ref in candidate.lists)
            if in_list and candidate.id not in linked_ids and normalize_name(candidate.name) == normalize_name(name):
                return candidate
        return None

    @staticmethod
    def _task_link(draft: ProjectDraft, task: TaskDraft, awork_task: AworkTask) -> LinkRecord:
        return LinkRecord(
            kind="task",
            source_id=str(task.moco_id),
            target_id=awork_task.id,
            parent_id=str(draft.moco_id),
            source_hash=task.hash,
        )


class KeyTakenError(Exception):
    """The project key is used by an awork project that is not this MOCO project's."""

    def __init__(self, key: str, project: AworkProject) -> None:
        super().__init__(
            f"the awork key {key} is already used by the awork project '{project.name}'; link that project by "
            f"filling 'awork Projekt' in MOCO, or change the MOCO project number"
        )


class MissingCompanyError(Exception):
    """The project's customer has no awork company (creating it was refused earlier in the run)."""

    def __init__(self, draft: ProjectDraft) -> None:
        super().__init__(
            f"MOCO project {draft.identifier} '{draft.name}' waits for an awork company for its customer "
            f"'{draft.customer.name}' (see the issue 'awork rejected company')"
        )


@task(name="apply-project-batch", cache_policy=NO_CACHE, **RETRY)
def apply_project_batch(
    batch: list[PlannedProject], company_ids: dict[int, str], awork_by_key: dict[str, AworkProject]
) -> ImportResult:
    """Apply a batch of planned projects (creates, links, updates, write-backs, task lists and tasks)."""
    settings = get_settings()
    store = open_store(settings.database_url)
    sources = [str(p.draft.moco_id) for p in batch]
    with MocoClient.from_settings(settings) as moco, AworkClient.from_settings(settings) as awork:
        applier = ProjectApplier(
            moco=moco,
            awork=awork,
            store=store,
            settings=settings,
            company_ids=company_ids,
            awork_by_key=awork_by_key,
            project_links=store.links("project", source_ids=sources),
            task_links=store.links("task", parent_ids=sources),
            list_links=store.links("task_list", source_ids=sources),
        )
        result = ImportResult()
        for planned in batch:
            result = result.merge(applier.apply(planned))
    get_run_logger().info(
        "batch of %d projects: %d awork requests, %d MOCO requests", len(batch), awork.http.requests, moco.http.requests
    )
    return result
