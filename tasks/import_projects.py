"""Prefect tasks of "import MOCO projects": read both sides, ensure companies, apply a batch of projects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from connectors.awork import (
    AworkClient,
    AworkCompany,
    AworkProject,
    AworkProjectForm,
    AworkStatus,
    AworkTask,
    AworkTaskList,
)
from connectors.http import ClientError, NotFoundError
from connectors.moco import MocoClient, MocoProject
from models.plans import (
    DELETED_TASK_HASH,
    CustomerRef,
    ImportResult,
    People,
    PlannedProject,
    ProjectClosure,
    ProjectDraft,
    ProjectSteps,
    TaskDraft,
)
from models.settings import Settings, get_settings
from models.store import IssueDraft, Link, LinkRecord, Store, open_store
from tasks.idempotent import create_once
from tasks.project_rules import (
    PROJECT_CLOSED,
    PROJECT_MEMBER,
    PROJECT_MEMBERS,
    ImportNames,
    awork_project_url,
    closed_task_name,
    customer_ref,
    member_changes,
    normalize_name,
    project_ref,
    project_steps,
    reopened_task_name,
    template_index,
    wanted_members,
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


def company_refused(customer: CustomerRef, refused: str, error: ClientError) -> IssueDraft:
    return IssueDraft(
        kind="awork rejected company",
        object_ref=customer_ref(customer.moco_id),
        message=f"awork refused to {refused}: {error.message}",
    )


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
                result.issues.append(company_refused(customer, f"create the company '{customer.name}'", error))
                continue
            result.companies_created += created
            result.created += [f"company {company.name}"] if created else []
            ids[customer.moco_id] = company.id
            ours = customer.hash if created else None  # only companies we created follow renames
            record = LinkRecord(kind="company", source_id=str(customer.moco_id), target_id=company.id, source_hash=ours)
            store.save_links([record])
    return ids, result


@task(name="read-people", cache_policy=NO_CACHE, **RETRY)
def read_people() -> People:
    """MOCO users' e-mails, awork users by e-mail and awork's default project role (only read when members of
    some project need a sync)."""
    settings = get_settings()
    with MocoClient.from_settings(settings) as moco, AworkClient.from_settings(settings) as awork:
        moco_users = moco.users()
        awork_users = awork.users()
        roles = awork.project_roles()
    role = next((r for r in roles if r.is_default), roles[0] if roles else None)
    return People(
        moco_emails={u.id: u.email for u in moco_users if u.email and u.active},
        awork_users={u.email.strip().lower(): u.id for u in awork_users if u.email},
        role_id=role.id if role else None,
    )


def status_of_type(statuses: Sequence[AworkStatus], kind: str) -> AworkStatus | None:
    """The first status of this type (awork lists them in their order)."""
    return next((status for status in statuses if status.type == kind), None)


@task(name="close-awork-projects", cache_policy=NO_CACHE, **RETRY)
def close_projects(closures: Sequence[ProjectClosure]) -> ImportResult:
    """Close the awork projects of MOCO projects that left the scope (a status of type 'closed'), once each; an
    awork project that is gone meanwhile needs nothing."""
    settings = get_settings()
    store = open_store(settings.database_url)
    result = ImportResult()
    with AworkClient.from_settings(settings) as awork:
        for closure in closures:
            try:
                closed = status_of_type(awork.project_statuses(closure.awork_project_id), "closed")
                if closed is None:
                    result.issues.append(no_status_issue(closure.moco_id, "closed"))
                    continue
                awork.change_project_status(closure.awork_project_id, closed.id)
                result.projects_closed += 1
            except NotFoundError:
                pass
            source = str(closure.moco_id)
            store.save_links([LinkRecord(kind=PROJECT_CLOSED, source_id=source, target_id=closure.awork_project_id)])
    return result


def no_status_issue(moco_id: int, kind: str) -> IssueDraft:
    return IssueDraft(
        kind="missing awork status",
        object_ref=project_ref(moco_id),
        message=f"the awork project of MOCO project {moco_id} has no project status of type '{kind}'; add one to "
        f"its project type in awork",
    )


@task(name="rename-awork-companies", cache_policy=NO_CACHE, **RETRY)
def rename_companies(customers: Sequence[CustomerRef]) -> ImportResult:
    """Rename the awork companies we created for MOCO customers renamed since (companies found by name are the
    workspace's own and keep their names)."""
    settings = get_settings()
    store = open_store(settings.database_url)
    links = store.links("company", source_ids=[str(c.moco_id) for c in customers])
    result = ImportResult()
    with AworkClient.from_settings(settings) as awork:
        for customer in customers:
            link = links[str(customer.moco_id)]
            try:
                company = awork.company(link.target_id)
                if company.name != customer.name:
                    awork.rename_company(company, customer.name)
                    result.companies_renamed += 1
            except NotFoundError:
                pass  # deleted in awork: the next project of the customer finds or creates it again
            except ClientError as error:
                result.issues.append(company_refused(customer, f"rename the company to '{customer.name}'", error))
                continue
            renamed = LinkRecord(
                kind="company", source_id=link.source_id, target_id=link.target_id, source_hash=customer.hash
            )
            store.save_links([renamed])
    return result


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
    member_links: dict[str, Link]  # PROJECT_MEMBERS: the members last synced
    our_members: dict[str, Link]  # PROJECT_MEMBER: the members we added
    closed_links: dict[str, Link]  # PROJECT_CLOSED
    people: People | None  # read when some project's members need a sync

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
        steps = project_steps(
            draft,
            project_link,
            task_links,
            list_link is not None,
            self.settings.awork_app_url,
            members_link=self.member_links.get(source),
            closed=source in self.closed_links,
        )
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
        closing = steps.close_tasks or steps.close_deleted_tasks
        needs_tasks = (steps.create_tasks or steps.rename_tasks) and not new_list  # a new list holds no tasks
        existing = self.awork.project_tasks(awork_id) if needs_tasks or closing else []
        links = [LinkRecord(kind="project", source_id=source, target_id=awork_id, source_hash=draft.hash)]
        links.append(LinkRecord(kind="task_list", source_id=source, target_id=task_list.id))
        links += self._tasks(awork_id, draft, steps, task_links, task_list, existing, result)
        links += self._close_tasks(awork_id, draft, steps, task_links, existing, result)
        self.store.save_links(links)
        if steps.reopen_project:
            self._reopen(draft, awork_id, result)
        if steps.sync_members:
            self._sync_members(draft, awork_id, result)
        return result

    def _reopen(self, draft: ProjectDraft, awork_id: str, result: ImportResult) -> None:
        """Put a project we closed back in progress (its MOCO project is flagged and active again)."""
        in_progress = status_of_type(self.awork.project_statuses(awork_id), "progress")
        if in_progress is None:
            result.issues.append(no_status_issue(draft.moco_id, "progress"))
            return
        self.awork.change_project_status(awork_id, in_progress.id)
        self.store.delete_links(PROJECT_CLOSED, [str(draft.moco_id)])
        result.projects_reopened += 1

    def _sync_members(self, draft: ProjectDraft, awork_id: str, result: ImportResult) -> None:
        """Make the MOCO leader (responsible) and staff members of the awork project; remove members we added who
        left the MOCO project; leave members added in awork alone. A MOCO user without an awork account is a sync
        issue, and the project's members are looked at again on every run until it is solved."""
        people = self.people or People()
        source = str(draft.moco_id)
        wanted, missing = wanted_members(draft, people.moco_emails, people.awork_users)
        members = {m.user_id: m for m in self.awork.project_members(awork_id)}
        ours = {link.target_id for link in self.our_members.values() if link.parent_id == source}
        changes = member_changes(wanted, {u: m.is_responsible for u, m in members.items()}, ours)
        role_id = people.role_id
        if changes.add and not role_id:
            result.issues.append(
                IssueDraft(
                    kind="missing awork project role",
                    object_ref=project_ref(draft.moco_id),
                    message="awork has no project role, so nobody can become a member of its projects; add one",
                )
            )
            return
        for user_id in [u for u, responsible in changes.update.items() if not responsible]:
            self.awork.update_project_member(awork_id, members[user_id], False)
        for user_id in changes.remove:
            self.awork.remove_project_member(awork_id, user_id)
        self.store.delete_links(PROJECT_MEMBER, [member_key(source, user_id) for user_id in changes.remove])
        for user_id in [u for u, responsible in changes.update.items() if responsible]:
            self.awork.update_project_member(awork_id, members[user_id], True)
        # recorded before they are added: a member we add is ours even if the run dies before it learns so
        self.store.save_links(
            [
                LinkRecord(kind=PROJECT_MEMBER, source_id=member_key(source, u), target_id=u, parent_id=source)
                for u in changes.add
            ]
        )
        for user_id, responsible in sorted(changes.add.items(), key=lambda item: item[1]):  # responsible last
            self.awork.add_project_member(awork_id, user_id, role_id or "", responsible)
        result.members_added += len(changes.add)
        result.members_updated += len(changes.update)
        result.members_removed += len(changes.remove)
        if missing:
            result.issues.append(unknown_members_issue(draft, missing, people))
        else:  # synced: unchanged staffing needs no reads from now on
            members_hash = draft.members_hash(awork_id)
            record = LinkRecord(kind=PROJECT_MEMBERS, source_id=source, target_id=awork_id, source_hash=members_hash)
            self.store.save_links([record])

    def _close_tasks(
        self,
        awork_id: str,
        draft: ProjectDraft,
        steps: ProjectSteps,
        task_links: dict[str, Link],
        existing: list[AworkTask],
        result: ImportResult,
    ) -> list[LinkRecord]:
        """Close the awork tasks of MOCO tasks deactivated or deleted: renamed with a suffix and set to a status of
        type 'done', so people stop booking on them. An awork task deleted meanwhile needs nothing."""
        by_id = {awork_task.id: awork_task for awork_task in existing}
        closing: list[tuple[AworkTask, LinkRecord]] = []
        for moco_task in steps.close_tasks:
            if awork_task := by_id.get(task_links[str(moco_task.moco_id)].target_id):
                closing.append((awork_task, self._task_link(draft, moco_task, awork_task)))
        for moco_id in steps.close_deleted_tasks:
            link = task_links[str(moco_id)]
            if awork_task := by_id.get(link.target_id):
                record = LinkRecord(
                    kind="task", source_id=link.source_id, target_id=link.target_id, parent_id=link.parent_id
                )
                closing.append((awork_task, record.model_copy(update={"source_hash": DELETED_TASK_HASH})))
        if not closing:
            return []
        done = status_of_type(self.awork.task_statuses(awork_id), "done")
        for awork_task, _ in closing:
            if awork_task.name != closed_task_name(awork_task.name):
                self.awork.rename_task(awork_task, closed_task_name(awork_task.name))
        if done:
            changes = {t.id: done.id for t, _ in closing if not (t.task_status and t.task_status.type == "done")}
            if changes:
                self.awork.change_task_statuses(changes)
        result.tasks_closed += len(closing)
        return [record for _, record in closing]

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
                if current.name != reopened_task_name(current.name):  # we closed it: MOCO has it active again
                    self._reopen_task(awork_id, awork_task)
            links.append(self._task_link(draft, moco_task, awork_task))
        return links

    def _reopen_task(self, awork_id: str, awork_task: AworkTask) -> None:
        todo = status_of_type(self.awork.task_statuses(awork_id), "todo")
        if todo is not None:
            self.awork.change_task_statuses({awork_task.id: todo.id})

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


def member_key(moco_project_id: str, awork_user_id: str) -> str:
    return f"{moco_project_id}:{awork_user_id}"


def unknown_members_issue(draft: ProjectDraft, missing: list[int], people: People) -> IssueDraft:
    who = ", ".join(people.moco_emails[moco_id] for moco_id in missing)
    return IssueDraft(
        kind="unknown awork user",
        object_ref=project_ref(draft.moco_id),
        message=f"MOCO project {draft.identifier} '{draft.name}': {who} (leader or staff) have no awork account "
        f"with that e-mail, so they are not members of its awork project; invite them in awork or correct the "
        f"e-mail",
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
    batch: list[PlannedProject],
    company_ids: dict[int, str],
    awork_by_key: dict[str, AworkProject],
    people: People | None = None,
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
            member_links=store.links(PROJECT_MEMBERS, source_ids=sources),
            our_members=store.links(PROJECT_MEMBER, parent_ids=sources),
            closed_links=store.links(PROJECT_CLOSED, source_ids=sources),
            people=people,
        )
        result = ImportResult()
        for planned in batch:
            result = result.merge(applier.apply(planned))
    get_run_logger().info(
        "batch of %d projects: %d awork requests, %d MOCO requests", len(batch), awork.http.requests, moco.http.requests
    )
    return result
