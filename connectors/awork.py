"""awork API v1: typed models and the client. All HTTP concerns live in `connectors.http`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.http import Connector, RateLimit, build_client, paginate_page_size, retry_policy, url_path
from models.settings import Settings

PAGE_SIZE = 1000  # awork's maximum page size


class AworkModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AworkCompany(AworkModel):
    id: str
    name: str
    description: str | None = None
    industry: str | None = None


class AworkStatus(AworkModel):
    """A project or task status; its `type` is what the rules look at (project: 'not-started', 'progress',
    'stuck', 'closed'; task: 'todo', 'progress', 'review', 'stuck', 'done')."""

    id: str
    name: str | None = None
    type: str | None = None


class AworkProjectMember(AworkModel):
    user_id: str = Field(alias="userId")
    project_role_id: str | None = Field(default=None, alias="projectRoleId")
    is_responsible: bool = Field(default=False, alias="isResponsible")


class AworkProjectRole(AworkModel):
    id: str
    name: str
    is_default: bool | None = Field(default=None, alias="isDefault")


class AworkProjectTemplate(AworkModel):
    id: str
    name: str


# ProjectPutForm fields we do not own: a PUT replaces every field, so they are sent back as they are.
_KEPT_ON_UPDATE = (
    "isPrivate",
    "description",
    "timeBudget",
    "isBillableByDefault",
    "projectTypeId",
    "color",
    "deductNonBillableHours",
    "isProjectKeyVisible",
)


class AworkProject(AworkModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    name: str
    project_key: str | None = Field(default=None, alias="projectKey")
    start_date: datetime | None = Field(default=None, alias="startDate")
    due_date: datetime | None = Field(default=None, alias="dueDate")
    company_id: str | None = Field(default=None, alias="companyId")
    template_id: str | None = Field(default=None, alias="createdByProjectTemplateId")
    project_status: AworkStatus | None = Field(default=None, alias="projectStatus")

    def kept_fields(self) -> dict[str, Any]:
        """The project's own values of the PUT form's fields that we do not set."""
        extra = self.model_extra or {}
        return {name: extra[name] for name in _KEPT_ON_UPDATE if name in extra}


class AworkTaskList(AworkModel):
    id: str
    name: str


class AworkTaskListRef(AworkModel):
    id: str


class AworkTask(AworkModel):
    id: str
    name: str
    lists: list[AworkTaskListRef] = Field(default_factory=list)
    description: str | None = None
    is_prio: bool | None = Field(default=None, alias="isPrio")
    start_on: str | None = Field(default=None, alias="startOn")
    due_on: str | None = Field(default=None, alias="dueOn")
    lane_order: int | None = Field(default=None, alias="laneOrder")
    planned_duration: int | None = Field(default=None, alias="plannedDuration")
    task_status: AworkStatus | None = Field(default=None, alias="taskStatus")

    def form(self, **changes: Any) -> dict[str, Any]:
        """The task's GeneralTaskForm (PUT replaces every field, so unchanged ones are sent back as they are)."""
        fields = ("name", "description", "is_prio", "start_on", "due_on", "lane_order", "planned_duration")
        current = self.model_dump(include=set(fields), by_alias=True)
        return {**current, **{AworkTask.model_fields[k].alias or k: v for k, v in changes.items()}}


class AworkContactInfo(AworkModel):
    type: str | None = None
    value: str | None = None


class AworkUserStatus(AworkModel):
    invitation_accepted: bool = Field(default=True, alias="invitationAccepted")


class AworkUser(AworkModel):
    id: str
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    contact_infos: list[AworkContactInfo] | None = Field(default=None, alias="userContactInfos")
    status: AworkUserStatus = Field(default_factory=AworkUserStatus)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.id

    @property
    def email(self) -> str | None:
        """The user's first e-mail contact info (awork has no top-level e-mail field)."""
        emails = [c.value for c in self.contact_infos or [] if c.type == "email" and c.value]
        return emails[0] if emails else None


class AworkWorkspace(AworkModel):
    """The API key's workspace (`WorkspaceOfUser`): `url` is its default URL, the subdomain of awork.com."""

    id: str
    name: str | None = None
    url: str | None = None


class AworkMe(AworkModel):
    """The API key's user and workspace (`GET /users/me`, `UserAndWorkspace`)."""

    id: str
    workspace: AworkWorkspace


class AworkInvitation(AworkModel):
    """The answer to an invitation (`InvitationResponse`): the invitee is a user from now on."""

    user_id: str = Field(alias="userId")


class AworkNamedRef(AworkModel):
    id: str
    name: str | None = None


class AworkTimeEntry(AworkModel):
    """A time entry (`TimeTracking`): the start is split into a UTC midnight date and a time of day."""

    id: str
    user_id: str | None = Field(default=None, alias="userId")
    project_id: str | None = Field(default=None, alias="projectId")
    task_id: str | None = Field(default=None, alias="taskId")
    type_of_work_id: str | None = Field(default=None, alias="typeOfWorkId")
    type_of_work: AworkNamedRef | None = Field(default=None, alias="typeOfWork")
    task: AworkNamedRef | None = None
    note: str | None = None
    duration: int | None = None
    is_billable: bool = Field(default=True, alias="isBillable")
    is_billed: bool = Field(default=False, alias="isBilled")
    timezone: str = "Europe/Berlin"
    start_date_utc: datetime | None = Field(default=None, alias="startDateUtc")
    start_time_utc: str | None = Field(default=None, alias="startTimeUtc")
    updated_on: datetime | None = Field(default=None, alias="updatedOn")

    @property
    def start_utc(self) -> datetime | None:
        """The start as an aware UTC instant (date part + time-of-day part, fractions of a second dropped)."""
        if self.start_date_utc is None:
            return None
        day = self.start_date_utc.date()
        if not self.start_time_utc:
            return datetime.combine(day, time(), tzinfo=UTC)
        hours, minutes, seconds = (self.start_time_utc.split(".")[0].split(":") + ["0", "0"])[:3]
        return datetime.combine(day, time(int(hours), int(minutes), int(seconds)), tzinfo=UTC)


class AworkTimeEntryForm(AworkModel):
    """The fields of a time entry we write (`TimeEntryPostForm` / `TimeTrackingPutForm`), start in UTC."""

    user_id: str
    project_id: str
    task_id: str | None = None
    type_of_work_id: str
    note: str | None = None
    start: datetime
    duration: int
    timezone: str
    is_billable: bool | None = None  # None: the project's default
    is_billed: bool | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body: the start as a UTC midnight date and a time of day, as awork itself sends it."""
        start = self.start.astimezone(UTC)
        body = {
            "userId": self.user_id,
            "projectId": self.project_id,
            "taskId": self.task_id,
            "typeOfWorkId": self.type_of_work_id,
            "note": self.note,
            "startDateUtc": _midnight(start.date()),
            "startTimeUtc": start.strftime("%H:%M:%S"),
            "duration": self.duration,
            "timezone": self.timezone,
            "isBillable": self.is_billable,
            "isBilled": self.is_billed,
        }
        return {name: value for name, value in body.items() if value is not None}


class AworkProjectForm(AworkModel):
    """What we set on an awork project (ExtendedProjectForm / ProjectPutForm)."""

    name: str
    project_key: str | None = Field(default=None, alias="projectKey")
    start_date: date | None = Field(default=None, alias="startDate")
    due_date: date | None = Field(default=None, alias="dueDate")
    company_id: str | None = Field(default=None, alias="companyId")
    template_id: str | None = Field(default=None, alias="projectTemplateId")

    def body(self, *, for_update: bool = False) -> dict[str, Any]:
        """The JSON body: dates as UTC midnights; key and template only on create (the PUT form has neither)."""
        body: dict[str, Any] = {
            "name": self.name,
            "startDate": _midnight(self.start_date),
            "dueDate": _midnight(self.due_date),
            "companyId": self.company_id,
        }
        if not for_update:
            body["projectKey"] = self.project_key
            if self.template_id:
                body["projectTemplateId"] = self.template_id
        return body

    def is_set_on(self, project: AworkProject) -> bool:
        """Whether the project already has these values (so an update would change nothing)."""
        current = {
            "name": project.name,
            "startDate": _midnight(project.start_date.date()) if project.start_date else None,
            "dueDate": _midnight(project.due_date.date()) if project.due_date else None,
            "companyId": project.company_id,
        }
        return current == self.body(for_update=True)


class AworkAbsence(AworkModel):
    """An absence (`Absence`): whole days `startOn`..`endOn` (UTC midnights), the halves of its first and last day,
    and `externalProvider` when a tool manages it (then it is read-only for people in awork)."""

    id: str
    user_id: str | None = Field(default=None, alias="userId")
    start_on: datetime = Field(alias="startOn")
    end_on: datetime = Field(alias="endOn")
    description: str | None = None
    external_provider: str | None = Field(default=None, alias="externalProvider")
    is_half_day_on_start: bool = Field(default=False, alias="isHalfDayOnStart")
    is_half_day_on_end: bool = Field(default=False, alias="isHalfDayOnEnd")

    @property
    def first_day(self) -> date:
        return self.start_on.astimezone(UTC).date()

    @property
    def last_day(self) -> date:
        return self.end_on.astimezone(UTC).date()


class AworkAbsenceForm(AworkModel):
    """What we write on an absence (`AbsenceForm`; a PUT replaces it all). For one day, `is_half_day_on_start` is
    its morning and `is_half_day_on_end` its afternoon; for several, they mean the first day starts at noon and the
    last day ends at noon."""

    user_id: str
    first_day: date
    last_day: date
    description: str
    external_provider: str
    is_half_day_on_start: bool = False
    is_half_day_on_end: bool = False

    def body(self) -> dict[str, Any]:
        """The JSON body: the days as UTC midnights (awork ignores the time)."""
        return {
            "userId": self.user_id,
            "startOn": _midnight(self.first_day),
            "endOn": _midnight(self.last_day),
            "description": self.description,
            "externalProvider": self.external_provider,
            "isHalfDayOnStart": self.is_half_day_on_start,
            "isHalfDayOnEnd": self.is_half_day_on_end,
        }

    def is_set_on(self, absence: AworkAbsence) -> bool:
        """Whether the absence already says what this form says."""
        return (
            absence.user_id == self.user_id
            and (absence.first_day, absence.last_day) == (self.first_day, self.last_day)
            and (absence.description or "") == self.description
            and absence.external_provider == self.external_provider
            and (absence.is_half_day_on_start, absence.is_half_day_on_end)
            == (self.is_half_day_on_start, self.is_half_day_on_end)
        )


class AworkWebhook(AworkModel):
    """A webhook (`WebhookConfig`): where awork posts which events, with which authentication header."""

    id: str
    name: str
    uri: str
    events: str  # comma-separated event types
    is_active: bool = Field(alias="isActive")
    authentication_type: str = Field(default="none", alias="authenticationType")
    authentication: str | None = None  # "headername=headervalue"
    last_failure_reason: str | None = Field(default=None, alias="lastFailureReason")

    @property
    def event_types(self) -> list[str]:
        return [event.strip() for event in self.events.split(",") if event.strip()]


class AworkWebhookForm(AworkModel):
    """What we set on a webhook (`WebhookConfigForm`): a custom receiver authenticated by a header."""

    name: str
    uri: str
    events: list[str]
    header_name: str
    header_value: SecretStr

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uri": self.uri,
            "events": ",".join(self.events),
            "isActive": True,
            "authenticationType": "header",
            "authentication": f"{self.header_name}={self.header_value.get_secret_value()}",
        }

    def is_set_on(self, webhook: AworkWebhook) -> bool:
        """Whether the webhook already has these values (so an update would change nothing)."""
        body = self.body()
        current = {
            "name": webhook.name,
            "uri": webhook.uri,
            "events": ",".join(webhook.event_types),
            "isActive": webhook.is_active,
            "authenticationType": webhook.authentication_type,
            "authentication": webhook.authentication,
        }
        return current == body


def _midnight(day: date | None) -> str | None:
    return datetime.combine(day, time()).strftime("%Y-%m-%dT%H:%M:%SZ") if day else None


def odata_datetime(moment: datetime) -> str:
    """A date-time literal for a `filterby` expression (UTC)."""
    return f"datetime'{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')}'"


def odata_string(value: str) -> str:
    """A string literal for a `filterby` expression."""
    return "'" + value.replace("'", "''") + "'"


class AworkClient(Connector):
    """awork API v1. One instance per task; `http.requests` counts the HTTP requests sent."""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AworkClient:
        http = build_client(
            "awork",
            settings.awork_base_url,
            {"Authorization": SecretStr(f"Bearer {settings.awork_api_key.get_secret_value()}")},
            limits=[
                RateLimit(settings.awork_rate_limit_per_second, 1.0),
                RateLimit(settings.awork_rate_limit_per_minute, 60.0),
            ],
            limiter_key=settings.awork_api_key,
            timeout=settings.http_timeout_seconds,
            retry=retry_policy(settings),
            max_pages=settings.http_max_pages,
            shared_limits=settings.shared_rate_limits,
            **overrides,
        )
        return cls(http)

    def _list(self, path: str, filterby: str | None = None) -> Iterator[Any]:
        params = {"filterby": filterby} if filterby else {}
        return paginate_page_size(self.http, path, params, PAGE_SIZE)

    # templates and companies ---------------------------------------------------------------------------------
    def project_templates(self) -> list[AworkProjectTemplate]:
        return [AworkProjectTemplate.model_validate(item) for item in self._list("projecttemplates")]

    def companies(self) -> list[AworkCompany]:
        return [AworkCompany.model_validate(item) for item in self._list("companies")]

    def create_company(self, name: str) -> AworkCompany:
        return AworkCompany.model_validate(self.http.request("POST", "companies", json={"name": name}).json())

    def company(self, company_id: str) -> AworkCompany:
        return AworkCompany.model_validate(self.http.get(url_path("companies", company_id)))

    def rename_company(self, company: AworkCompany, name: str) -> AworkCompany:
        """Rename a company, keeping its description and industry (a PUT replaces the whole `CompanyForm`)."""
        body = {"name": name, "description": company.description, "industry": company.industry}
        response = self.http.request("PUT", url_path("companies", company.id), json=body)
        return AworkCompany.model_validate(response.json())

    def companies_named(self, name: str) -> list[AworkCompany]:
        """Companies whose name equals `name`, ignoring case."""
        expr = f"tolower(name) eq {odata_string(name.lower())}"
        return [AworkCompany.model_validate(item) for item in self._list("companies", expr)]

    # projects --------------------------------------------------------------------------------------------------
    def project(self, project_id: str) -> AworkProject:
        return AworkProject.model_validate(self.http.get(url_path("projects", project_id)))

    def projects(self) -> list[AworkProject]:
        return [AworkProject.model_validate(item) for item in self._list("projects")]

    def projects_with_key(self, project_key: str) -> list[AworkProject]:
        expr = f"projectKey eq {odata_string(project_key)}"
        return [AworkProject.model_validate(item) for item in self._list("projects", expr)]

    def create_project(self, form: AworkProjectForm) -> AworkProject:
        response = self.http.request("POST", "projects", json=form.body())
        return AworkProject.model_validate(response.json())

    def update_project(self, current: AworkProject, form: AworkProjectForm) -> AworkProject:
        """Set our fields on a project, keeping the values of the fields we do not own."""
        body = {**current.kept_fields(), **form.body(for_update=True)}
        response = self.http.request("PUT", url_path("projects", current.id), json=body)
        return AworkProject.model_validate(response.json())

    def project_statuses(self, project_id: str) -> list[AworkStatus]:
        items = self._list(url_path("projects", project_id, "projectstatuses"))
        return [AworkStatus.model_validate(item) for item in items]

    def change_project_status(self, project_id: str, status_id: str) -> None:
        """Set a project's status (awork does nothing when the project has it already)."""
        self.http.request(
            "POST",
            url_path("projects", project_id, "changestatus"),
            json={"projectStatusId": status_id},
            idempotent=True,
        )

    # project members -------------------------------------------------------------------------------------------
    def project_roles(self) -> list[AworkProjectRole]:
        return [AworkProjectRole.model_validate(item) for item in self._list("projectroles")]

    def project_members(self, project_id: str) -> list[AworkProjectMember]:
        """The project's members (one request: awork does not page this list)."""
        items = self.http.get(url_path("projects", project_id, "members"))
        return [AworkProjectMember.model_validate(item) for item in items]

    def add_project_member(self, project_id: str, user_id: str, role_id: str, responsible: bool) -> None:
        body = {"userId": user_id, "projectRoleId": role_id, "isResponsible": responsible}
        self.http.request("POST", url_path("projects", project_id, "addprojectmember"), json=body)

    def update_project_member(self, project_id: str, member: AworkProjectMember, responsible: bool) -> None:
        """Set whether a member is the project's responsible one, keeping their role."""
        body = {"userId": member.user_id, "projectRoleId": member.project_role_id, "isResponsible": responsible}
        self.http.request("POST", url_path("projects", project_id, "updateprojectmember"), json=body, idempotent=True)

    def remove_project_member(self, project_id: str, user_id: str) -> None:
        body = {"userId": user_id}
        self.http.request("POST", url_path("projects", project_id, "removeprojectmember"), json=body, idempotent=True)

    # task lists and tasks --------------------------------------------------------------------------------------
    def task_lists(self, project_id: str) -> list[AworkTaskList]:
        items = self._list(url_path("projects", project_id, "tasklists"))
        return [AworkTaskList.model_validate(item) for item in items]

    def create_task_list(self, project_id: str, name: str) -> AworkTaskList:
        response = self.http.request("POST", url_path("projects", project_id, "tasklists"), json={"name": name})
        return AworkTaskList.model_validate(response.json())

    def project_tasks(self, project_id: str) -> list[AworkTask]:
        return [AworkTask.model_validate(item) for item in self._list(url_path("projects", project_id, "projecttasks"))]

    def create_task(self, project_id: str, name: str, task_list_id: str, order: float) -> AworkTask:
        body = {
            "baseType": "projecttask",
            "entityId": project_id,
            "name": name,
            "lists": [{"id": task_list_id, "order": order}],
        }
        return AworkTask.model_validate(self.http.request("POST", "tasks", json=body).json())

    def rename_task(self, task: AworkTask, name: str) -> AworkTask:
        response = self.http.request("PUT", url_path("tasks", task.id), json=task.form(name=name))
        return AworkTask.model_validate(response.json())

    def task_statuses(self, project_id: str) -> list[AworkStatus]:
        return [
            AworkStatus.model_validate(item) for item in self._list(url_path("projects", project_id, "taskstatuses"))
        ]

    def change_task_statuses(self, changes: dict[str, str]) -> None:
        """Set the status of several tasks in one request (task id -> status id)."""
        body = [{"taskId": task_id, "statusId": status_id} for task_id, status_id in changes.items()]
        self.http.request("POST", "tasks/changestatuses", json=body, idempotent=True)

    # users, types of work, time entries ------------------------------------------------------------------------
    def me(self) -> AworkMe:
        """Who the API key acts as, and in which workspace (401 when awork does not know the key)."""
        return AworkMe.model_validate(self.http.get("users/me"))

    def users(self) -> list[AworkUser]:
        """Every user, with e-mail contact infos."""
        return [AworkUser.model_validate(item) for item in self._list("users")]

    def invite_user(self, email: str, first_name: str | None, last_name: str | None) -> AworkInvitation:
        """Invite someone into the API key's workspace (`POST /invitations`, as awork's docs show it; the body is
        the spec's `Invitation`). Not idempotent: look for a user with the e-mail before and after a lost answer."""
        workspace_id = self.http.get("users/me")["workspace"]["id"]
        body = {
            "workspaceId": workspace_id,
            "invitationFlow": "invite",
            "email": email,
            "firstName": first_name,
            "lastName": last_name,
        }
        return AworkInvitation.model_validate(self.http.request("POST", "invitations", json=body).json())

    def types_of_work(self) -> list[AworkNamedRef]:
        return [AworkNamedRef.model_validate(item) for item in self._list("typeofwork")]

    def time_entries(
        self, *, starting_from: datetime, starting_before: datetime, project_id: str | None = None
    ) -> list[AworkTimeEntry]:
        """Entries (of one project, if given) whose start lies in [starting_from, starting_before) (UTC), 1000 per
        page."""
        expr = (
            f"startDateUtc ge {odata_datetime(_day_start(starting_from))} "
            f"and startDateUtc lt {odata_datetime(starting_before)}"
        )
        path = url_path("projects", project_id, "timeentries") if project_id else "timeentries"
        entries = (AworkTimeEntry.model_validate(item) for item in self._list(path, expr))
        return [e for e in entries if e.start_utc and starting_from <= e.start_utc < starting_before]

    def time_entries_updated_since(self, moment: datetime) -> list[AworkTimeEntry]:
        """Entries created or changed at or after `moment` (deletions are not listed by awork)."""
        expr = f"updatedOn ge {odata_datetime(moment)}"
        return [AworkTimeEntry.model_validate(item) for item in self._list("timeentries", expr)]

    def time_entry(self, time_entry_id: str) -> AworkTimeEntry:
        return AworkTimeEntry.model_validate(self.http.get(url_path("timeentries", time_entry_id)))

    def create_time_entry(self, form: AworkTimeEntryForm) -> AworkTimeEntry:
        response = self.http.request("POST", "timeentries", json=form.body())
        return AworkTimeEntry.model_validate(response.json())

    def update_time_entry(self, time_entry_id: str, form: AworkTimeEntryForm) -> AworkTimeEntry:
        """Replace a time entry's form (awork resets what a PUT leaves out, so the form carries every field)."""
        response = self.http.request("PUT", url_path("timeentries", time_entry_id), json=form.body())
        return AworkTimeEntry.model_validate(response.json())

    def delete_time_entry(self, time_entry_id: str) -> None:
        self.http.request("DELETE", url_path("timeentries", time_entry_id))

    # absences ---------------------------------------------------------------------------------------------------
    def absences(self, *, external_provider: str | None = None) -> list[AworkAbsence]:
        """Absences of every user (the key's user is an admin), those of one external provider if given; 1000 per
        page."""
        expr = f"externalProvider eq {odata_string(external_provider)}" if external_provider else None
        return [AworkAbsence.model_validate(item) for item in self._list("absences", expr)]

    def create_absence(self, form: AworkAbsenceForm) -> AworkAbsence:
        return AworkAbsence.model_validate(self.http.request("POST", "absences", json=form.body()).json())

    def update_absence(self, absence_id: str, form: AworkAbsenceForm) -> AworkAbsence:
        response = self.http.request("PUT", url_path("absences", absence_id), json=form.body())
        return AworkAbsence.model_validate(response.json())

    def delete_absence(self, absence_id: str) -> None:
        self.http.request("DELETE", url_path("absences", absence_id))

    # webhooks --------------------------------------------------------------------------------------------------
    def webhooks(self) -> list[AworkWebhook]:
        """The workspace's webhooks, ours and others' (needs an admin key)."""
        return [AworkWebhook.model_validate(item) for item in self._list("webhooks")]

    def create_webhook(self, form: AworkWebhookForm) -> AworkWebhook:
        """Not idempotent: look for the webhook by name and URI before and after a lost answer."""
        return AworkWebhook.model_validate(self.http.request("POST", "webhooks", json=form.body()).json())

    def update_webhook(self, webhook_id: str, form: AworkWebhookForm) -> AworkWebhook:
        response = self.http.request("PUT", url_path("webhooks", webhook_id), json=form.body())
        return AworkWebhook.model_validate(response.json())

    def delete_webhook(self, webhook_id: str) -> None:
        self.http.request("DELETE", url_path("webhooks", webhook_id))


def _day_start(moment: datetime) -> datetime:
    """`startDateUtc` holds the UTC midnight of the start, so a range filter must start at a midnight."""
    utc = moment.astimezone(UTC)
    return datetime.combine(utc.date(), time(), tzinfo=UTC)
