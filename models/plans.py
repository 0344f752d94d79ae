"""Plans: data that says what a run will do and why (computed by pure functions, applied by tasks)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field

from models.store import IssueDraft
from models.upwork_store import UpworkTimeEntry

DIARY, DAILY_TOTAL = "diary", "daily total"  # where an Upwork interval comes from


def content_hash(*parts: Any) -> str:
    """A stable hash of the source fields we write (an unchanged hash means no write)."""
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


CLOSED = "closed in MOCO"  # marks the hashes of MOCO tasks that are deactivated or deleted


class CustomerRef(BaseModel):
    moco_id: int
    name: str

    @property
    def hash(self) -> str:
        """Hash of the name we gave the awork company we created (a renamed customer renames it)."""
        return content_hash(self.name)


class TaskDraft(BaseModel):
    """A MOCO task as it should be in awork; an inactive one is closed there."""

    moco_id: int
    name: str
    active: bool = True

    @property
    def hash(self) -> str:
        return content_hash(self.name) if self.active else content_hash(self.name, CLOSED)


DELETED_TASK_HASH = content_hash(CLOSED)  # the link of a task deleted in MOCO, once its awork task is closed


class ProjectDraft(BaseModel):
    """A MOCO project in scope, as it should be in awork."""

    moco_id: int
    identifier: str
    project_key: str
    name: str
    start_date: date | None = None
    due_date: date | None = None
    customer: CustomerRef
    template_id: str | None = None
    template_name: str | None = None
    linked_awork_id: str | None = None  # from the MOCO field `awork Projekt` (pre-filled or written back)
    moco_link_value: str | None = None  # the field's current value, to know whether to write it back
    tasks: list[TaskDraft] = Field(default_factory=list)
    leader_id: int | None = None  # the MOCO project leader: the responsible awork member
    staff_ids: list[int] = Field(default_factory=list)  # MOCO users with an active contract

    @property
    def hash(self) -> str:
        """Hash of the project-level fields (tasks have their own links and hashes)."""
        return content_hash(self.name, self.start_date, self.due_date, self.customer.moco_id)

    def members_hash(self, awork_project_id: str) -> str:
        """Hash of the people who should be members of the awork project (a change in MOCO re-syncs them)."""
        return content_hash(awork_project_id, self.leader_id, sorted(self.staff_ids))


class ProjectSteps(BaseModel):
    """What applying one project does, given the store's links."""

    awork_project_id: str | None = None  # known from the store or the MOCO field; None = create or adopt
    create_project: bool = False
    link_existing: bool = False  # a pre-filled `awork Projekt` link not yet in the store
    update_project: bool = False
    write_back_link: bool = False
    ensure_task_list: bool = False  # find or create the task list `MOCO`
    create_tasks: list[TaskDraft] = Field(default_factory=list)
    rename_tasks: list[TaskDraft] = Field(default_factory=list)  # renamed, or active again after being closed
    close_tasks: list[TaskDraft] = Field(default_factory=list)  # deactivated in MOCO
    close_deleted_tasks: list[int] = Field(default_factory=list)  # MOCO ids of linked tasks deleted in MOCO
    sync_members: bool = False  # the leader, the staff or the awork project changed since the last sync
    reopen_project: bool = False  # in scope again after its awork project was closed

    @property
    def is_noop(self) -> bool:
        return not (
            self.create_project
            or self.link_existing
            or self.update_project
            or self.write_back_link
            or self.ensure_task_list
            or self.create_tasks
            or self.rename_tasks
            or self.close_tasks
            or self.close_deleted_tasks
            or self.sync_members
            or self.reopen_project
        )

    @property
    def touches_tasks(self) -> bool:
        """Whether existing awork tasks are looked at (renamed, closed or adopted)."""
        return bool(self.create_tasks or self.rename_tasks or self.close_tasks or self.close_deleted_tasks)


class PlannedProject(BaseModel):
    draft: ProjectDraft
    steps: ProjectSteps


class People(BaseModel):
    """Who is who on both sides, for project members: MOCO users' e-mails and awork users by e-mail."""

    moco_emails: dict[int, str] = Field(default_factory=dict)  # active MOCO users
    awork_users: dict[str, str] = Field(default_factory=dict)  # lower-cased e-mail -> awork user id
    role_id: str | None = None  # the awork project role members get (the workspace's default role)


class ProjectClosure(BaseModel):
    """A linked MOCO project that left the scope (archived, unflagged or deleted): its awork project is closed."""

    moco_id: int
    awork_project_id: str


class ImportPlan(BaseModel):
    """The import run's plan: projects with work to do, how many are unchanged, and the skipped ones."""

    projects: list[PlannedProject] = Field(default_factory=list)
    close_projects: list[ProjectClosure] = Field(default_factory=list)
    rename_companies: list[CustomerRef] = Field(default_factory=list)  # customers renamed in MOCO
    unchanged: int = 0
    issues: list[IssueDraft] = Field(default_factory=list)
    checked_refs: list[str] = Field(default_factory=list)  # every object the plan looked at (issue resolution)

    def counts(self) -> dict[str, int]:
        steps = [p.steps for p in self.projects]
        return {
            "projects in scope": len(self.projects) + self.unchanged + len(self.issues),
            "projects to create": sum(s.create_project for s in steps),
            "projects to link": sum(s.link_existing for s in steps),
            "projects to update": sum(s.update_project for s in steps),
            "links to write back": sum(s.write_back_link for s in steps),
            "tasks to create": sum(len(s.create_tasks) for s in steps),
            "tasks to rename": sum(len(s.rename_tasks) for s in steps),
            "tasks to close": sum(len(s.close_tasks) + len(s.close_deleted_tasks) for s in steps),
            "projects whose members to sync": sum(s.sync_members for s in steps),
            "projects to close": len(self.close_projects),
            "projects to reopen": sum(s.reopen_project for s in steps),
            "companies to rename": len(self.rename_companies),
            "unchanged": self.unchanged,
            "sync issues": len(self.issues),
        }


class RunResult(BaseModel):
    """Counts and issues of applying a plan; results of batches add up with `merge`."""

    WRITES: ClassVar[tuple[str, ...]] = ()  # the counts that are changes made in the other system

    issues: list[IssueDraft] = Field(default_factory=list)

    def writes(self) -> int:
        """How many changes this made in the other system."""
        return sum(getattr(self, name) for name in self.WRITES)

    def merge(self, other: Self) -> Self:
        merged = self.model_dump()
        for key, value in other.model_dump().items():
            merged[key] = merged[key] + value
        return self.model_validate(merged)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.model_dump().items() if type(v) is int}


class ImportResult(RunResult):
    """What applying (part of) an import plan did."""

    WRITES = (
        "projects_created",
        "projects_updated",
        "links_written_back",
        "companies_created",
        "task_lists_created",
        "tasks_created",
        "tasks_renamed",
        "tasks_closed",
        "members_added",
        "members_updated",
        "members_removed",
        "projects_closed",
        "projects_reopened",
        "companies_renamed",
    )

    projects_created: int = 0
    projects_linked: int = 0
    projects_updated: int = 0
    links_written_back: int = 0
    companies_created: int = 0
    task_lists_created: int = 0
    tasks_created: int = 0
    tasks_renamed: int = 0
    tasks_closed: int = 0
    members_added: int = 0
    members_updated: int = 0
    members_removed: int = 0
    projects_closed: int = 0
    projects_reopened: int = 0
    companies_renamed: int = 0
    created: list[str] = Field(default_factory=list)  # human-readable lines of what was created


class SafetyNetFigure(BaseModel):
    """Part of a flow's summary: in a scheduled run (the safety net beside the webhooks' triggers), the writes it
    had to make, i.e. what the events missed (should be 0); None in other runs, and then not shown."""

    missed_by_events: int | None = None


class ActivityDraft(BaseModel):
    """An awork time entry as the MOCO activity it should be."""

    entry_id: str
    user_id: int  # the MOCO user the activity belongs to
    moco_project_id: int
    task_id: int | None  # None: the project's task for unassigned time (created when first needed)
    date: date
    seconds: int
    description: str
    billable: bool
    remote_url: str | None = None

    @property
    def remote_id(self) -> str:
        return remote_id(self.entry_id)

    @property
    def hash(self) -> str:
        return content_hash(
            self.user_id, self.moco_project_id, self.task_id, self.date, self.seconds, self.description, self.billable
        )


def remote_id(entry_id: str) -> str:
    """The key MOCO keeps for an activity we created: `awork:<time entry id>`."""
    return f"awork:{entry_id}"


class ActivityChange(BaseModel):
    """An existing activity of ours to bring in line with its entry (or just to link, when adopted unchanged)."""

    activity_id: int
    draft: ActivityDraft


class ActivityRemoval(BaseModel):
    activity_id: int
    user_id: int
    entry_id: str
    reason: str


class HeldEntry(BaseModel):
    """An awork time entry on a project whose MOCO project is archived or no longer flagged: not pushed for now."""

    entry_id: str
    awork_project_id: str
    day: date
    reported: bool = False  # held back (and reported) by an earlier run already


class Staffing(BaseModel):
    moco_project_id: int
    user_id: int


class TimePlan(BaseModel):
    """The push run's plan."""

    create: list[ActivityDraft] = Field(default_factory=list)
    adopt: list[ActivityChange] = Field(default_factory=list)  # ours in MOCO already (found by remote_id), unchanged
    update: list[ActivityChange] = Field(default_factory=list)
    delete: list[ActivityRemoval] = Field(default_factory=list)
    staff: list[Staffing] = Field(default_factory=list)
    unassigned_task_projects: list[int] = Field(default_factory=list)  # MOCO projects that need the task
    forget: list[str] = Field(default_factory=list)  # entries deleted on both sides: only their links go
    hold: list[HeldEntry] = Field(default_factory=list)  # on closed projects: pushed once they are open again
    unchanged: int = 0
    issues: list[IssueDraft] = Field(default_factory=list)
    checked_refs: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "activities to create": len(self.create),
            "activities to update": len(self.update),
            "activities to delete": len(self.delete),
            "activities found and linked": len(self.adopt),
            "users to staff": len(self.staff),
            "entries held back": len(self.hold),
            "unchanged": self.unchanged,
            "sync issues": len(self.issues),
        }


class PushResult(RunResult):
    """What applying (part of) a push plan did."""

    WRITES = ("activities_created", "activities_updated", "activities_deleted", "users_staffed", "tasks_created")

    activities_created: int = 0
    activities_updated: int = 0
    activities_deleted: int = 0
    activities_linked: int = 0
    users_staffed: int = 0
    tasks_created: int = 0


class PushTotals(BaseModel):
    """What the parts of a push planned and did, added up."""

    planned: dict[str, int] = Field(default_factory=dict)
    applied: PushResult = Field(default_factory=PushResult)
    issues: list[IssueDraft] = Field(default_factory=list)
    checked_refs: list[str] = Field(default_factory=list)
    held: list[HeldEntry] = Field(default_factory=list)

    def add_plan(self, plan: TimePlan) -> None:
        """Count a part's plan: what it would do, its issues, what it looked at and held back."""
        for name, count in plan.counts().items():
            self.planned[name] = self.planned.get(name, 0) + count
        self.issues += plan.issues
        self.checked_refs += plan.checked_refs
        self.held += plan.hold

    def add_result(self, result: PushResult) -> None:
        """Count what applying a part's plan did (its issues too)."""
        self.applied = self.applied.merge(result)
        self.issues += result.issues


# --- Upwork time in awork ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A stretch of work: its UTC start, length and note; `source` says whether it came from the work diary."""

    start: datetime
    seconds: int
    note: str | None
    source: str = DIARY

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


@dataclass
class DayChanges:
    """What a contract's day needs in awork and in the store. Updates keep the entry's awork user, project, task
    and type of work (a changed mapping affects new entries only)."""

    create: list[UpworkTimeEntry] = field(default_factory=list)
    resume: list[UpworkTimeEntry] = field(default_factory=list)  # a create whose outcome a crash left unknown
    update: list[UpworkTimeEntry] = field(default_factory=list)
    delete: list[UpworkTimeEntry] = field(default_factory=list)
    rates: list[UpworkTimeEntry] = field(default_factory=list)  # only the stored rates changed
    unchanged: int = 0

    @property
    def touches_awork_entries(self) -> bool:
        """Whether entries we wrote before get changed (then awork edits since are checked first)."""
        return any(e.awork_time_entry_id for e in self.update + self.delete)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.resume) + len(self.update) + len(self.delete)
