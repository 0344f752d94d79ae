"""MOCO API v1: typed models and the client. All HTTP concerns live in `connectors.http`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.http import (
    AuthError,
    Connector,
    RateLimit,
    ValidationFailedError,
    build_client,
    paginate_link_header,
    retry_policy,
    url_path,
)
from models.settings import Settings

PER_PAGE = 100  # MOCO's maximum page size


class MocoModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MocoRef(MocoModel):
    """The `{id, name}` form in which MOCO embeds customers, projects and tasks."""

    id: int
    name: str


class MocoTask(MocoModel):
    """A project task ("Leistungsposition")."""

    id: int
    name: str
    active: bool = True
    billable: bool = True


class MocoContract(MocoModel):
    """A user's staffing on a project."""

    id: int
    user_id: int
    active: bool = True


class MocoUserRef(MocoModel):
    id: int


class MocoProject(MocoModel):
    id: int
    identifier: str | None = None
    name: str
    active: bool = True
    billable: bool = True
    start_date: date | None = None
    finish_date: date | None = None
    customer: MocoRef | None = None
    leader: MocoUserRef | None = None
    tags: list[str] = Field(default_factory=list)
    custom_properties: dict[str, Any] = Field(default_factory=dict)
    tasks: list[MocoTask] = Field(default_factory=list)
    contracts: list[MocoContract] = Field(default_factory=list)
    updated_at: datetime | None = None

    @property
    def staff(self) -> list[int]:
        """The users with an active contract (the embedded contracts are those `GET .../contracts` lists)."""
        return sorted({contract.user_id for contract in self.contracts if contract.active})


class MocoUser(MocoModel):
    id: int
    firstname: str = ""
    lastname: str = ""
    email: str | None = None
    active: bool = True


class MocoActivity(MocoModel):
    id: int
    date: date
    seconds: int = 0
    description: str | None = ""
    billable: bool = True
    billed: bool = False
    tag: str | None = ""
    remote_id: str | None = None
    remote_url: str | None = None
    project: MocoRef
    task: MocoRef
    user: MocoUserRef


class MocoCustomProperty(MocoModel):
    """A custom field definition (`GET /account/custom_properties`): `kind` is String, Textarea, Link, Boolean,
    Select, MultiSelect or Date; `defaults` are the options of Select and MultiSelect fields."""

    id: int
    name: str
    kind: str
    entity: str = "Project"
    defaults: list[str] = Field(default_factory=list)


class MocoKey(MocoModel):
    """What MOCO tells about the API key: the user it acts as (`GET /session`), and the account's limit of requests
    per 2 minutes when MOCO names it (`X-RateLimit-Limit`; not documented, so None when absent)."""

    user_id: int
    rate_limit: int | None = None


class MocoAbsenceKind(MocoModel):
    """The `assignment` of a schedule: the absence's kind (`code` 1-5: unplannable absence, public holiday, sick
    day, holiday, absence) with the account's name for it."""

    id: int
    name: str
    code: str | None = None


class MocoSchedule(MocoModel):
    """An absence of one user on one day ("Absenz"); `am`/`pm` say which halves of the day it covers."""

    id: int
    date: date
    comment: str | None = None
    am: bool = True
    pm: bool = True
    assignment: MocoAbsenceKind
    user: MocoUserRef | None = None
    updated_at: datetime | None = None


class MocoWebHook(MocoModel):
    """An account web hook: MOCO posts `event`s of `target` records to `hook`, signed with the account's key."""

    id: int
    target: str
    event: str
    hook: str
    disabled: bool = False


class ActivityFields(BaseModel):
    """What we write on an activity (ActivityUpsertRequest). No `remote_service`: MOCO accepts only its own list."""

    date: date
    project_id: int
    task_id: int
    seconds: int
    description: str
    billable: bool
    tag: str
    remote_id: str
    remote_url: str | None = None


class MocoClient(Connector):
    """MOCO API v1. One instance per task; `http.requests` counts the HTTP requests sent."""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MocoClient:
        http = build_client(
            "moco",
            settings.moco_base_url,
            {"Authorization": _token_header(settings)},
            limits=[RateLimit(settings.moco_rate_limit, settings.moco_rate_window_seconds)],
            limiter_key=settings.moco_api_key,
            timeout=settings.http_timeout_seconds,
            retry=retry_policy(settings),
            max_pages=settings.http_max_pages,
            shared_limits=settings.shared_rate_limits,
            **overrides,
        )
        return cls(http)

    # the key and the account ---------------------------------------------------------------------------------
    def key(self) -> MocoKey:
        """Check the API key (`GET /session`: 401 when MOCO does not know it) and read the account's rate limit."""
        response = self.http.request("GET", "session")
        limit = response.headers.get(RATE_LIMIT_HEADER, "")
        return MocoKey(user_id=response.json()["id"], rate_limit=int(limit) if limit.isdigit() else None)

    def can_write(self) -> bool:
        """Whether the key has full access rather than read-only access. MOCO offers no read of a key's access, so
        this sends a write that cannot succeed: `POST /activities` with an empty body. A key allowed to write gets
        as far as the validation (422, nothing is created); a read-only key is refused first (403)."""
        try:
            self.http.request("POST", "activities", json={}, idempotent=True)  # creates nothing, so safe to repeat
        except ValidationFailedError:
            return True
        except AuthError as error:
            if error.status == 403:
                return False
            raise
        raise RuntimeError("MOCO accepted an activity without date, project and task")

    def custom_properties(self, entity: str = "Project") -> list[MocoCustomProperty]:
        """The custom field definitions of an entity (Project, Company, ...)."""
        items = paginate_link_header(self.http, "account/custom_properties", {"entity": entity}, PER_PAGE)
        return [MocoCustomProperty.model_validate(item) for item in items]

    # projects ----------------------------------------------------------------------------------------------------
    def projects(
        self,
        *,
        tags: list[str] | None = None,
        custom_properties: Mapping[str, str] | None = None,
        updated_after: datetime | None = None,
    ) -> Iterator[MocoProject]:
        """Active projects visible to the key, filtered by tags and custom field values, tasks embedded."""
        params = _project_filters(tags, custom_properties)
        if updated_after:
            params["updated_after"] = updated_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        for item in paginate_link_header(self.http, "projects", params, PER_PAGE):
            yield MocoProject.model_validate(item)

    def count_projects(
        self, *, tags: list[str] | None = None, custom_properties: Mapping[str, str] | None = None
    ) -> int:
        """How many active projects match the filters, in one request (a page of one; MOCO's `X-Total`)."""
        params = _project_filters(tags, custom_properties) | {"per_page": 1}
        return int(self.http.request("GET", "projects", params=params).headers["X-Total"])

    def update_project_custom_properties(self, project_id: int, values: Mapping[str, str]) -> MocoProject:
        """Write custom field values; MOCO merges them with the project's other custom fields."""
        response = self.http.request("PUT", url_path("projects", project_id), json={"custom_properties": dict(values)})
        return MocoProject.model_validate(response.json())

    def project_tasks(self, project_id: int) -> Iterator[MocoTask]:
        for item in paginate_link_header(self.http, url_path("projects", project_id, "tasks"), {}, PER_PAGE):
            yield MocoTask.model_validate(item)

    # users, staffing, tasks, activities -------------------------------------------------------------------------
    def users(self) -> list[MocoUser]:
        """Active users (e-mails are stored lower-case by MOCO)."""
        return [MocoUser.model_validate(item) for item in paginate_link_header(self.http, "users", {}, PER_PAGE)]

    def projects_by_ids(self, project_ids: Sequence[int]) -> list[MocoProject]:
        """Projects (tasks and contracts embedded) by id, 100 ids per request."""
        projects: list[MocoProject] = []
        for chunk in chunks(list(project_ids), PER_PAGE):
            params = {"ids": ",".join(map(str, chunk)), "include_archived": "true"}
            projects += [
                MocoProject.model_validate(i) for i in paginate_link_header(self.http, "projects", params, PER_PAGE)
            ]
        return projects

    def create_contract(self, project_id: int, user_id: int) -> MocoContract:
        """Staff a user on a project (a project contract)."""
        response = self.http.request("POST", url_path("projects", project_id, "contracts"), json={"user_id": user_id})
        return MocoContract.model_validate(response.json())

    def create_task(self, project_id: int, name: str, *, billable: bool = True) -> MocoTask:
        body = {"name": name, "billable": billable}
        response = self.http.request("POST", url_path("projects", project_id, "tasks"), json=body)
        return MocoTask.model_validate(response.json())

    def activities(
        self,
        *,
        remote_ids: Sequence[str] = (),
        ids: Sequence[int] = (),
    ) -> list[MocoActivity]:
        """Activities by `remote_id` or by id (comma lists, 100 per request)."""
        found: list[MocoActivity] = []
        for name, values in (("remote_id", list(remote_ids)), ("ids", [str(i) for i in ids])):
            for chunk in chunks(values, PER_PAGE):
                items = paginate_link_header(self.http, "activities", {name: ",".join(chunk)}, PER_PAGE)
                found += [MocoActivity.model_validate(item) for item in items]
        return found

    def activities_between(
        self, first_day: date, last_day: date, *, tag: str | None = None, project_id: int | None = None
    ) -> list[MocoActivity]:
        """Activities on the days `first_day`..`last_day` (inclusive), of one tag or project if given; 100 per
        page."""
        params = {"from": first_day.isoformat(), "to": last_day.isoformat()}
        if tag is not None:
            params["tag"] = tag
        if project_id is not None:
            params["project_id"] = str(project_id)
        return [MocoActivity.model_validate(i) for i in paginate_link_header(self.http, "activities", params, PER_PAGE)]

    def schedules(
        self, first_day: date | None = None, last_day: date | None = None, *, updated_after: datetime | None = None
    ) -> list[MocoSchedule]:
        """Absences on the days `first_day`..`last_day` (inclusive; open ends: None) and, if given, created or
        changed after `updated_after`; 100 per page. Deletions are not listed (MOCO reports none)."""
        params: dict[str, str] = {}
        if first_day is not None:
            params["from"] = first_day.isoformat()
        if last_day is not None:
            params["to"] = last_day.isoformat()
        if updated_after is not None:
            params["updated_after"] = updated_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [MocoSchedule.model_validate(i) for i in paginate_link_header(self.http, "schedules", params, PER_PAGE)]

    def create_activities(self, user_id: int, activities: Sequence[ActivityFields]) -> list[MocoActivity]:
        """Create up to 100 activities for one user in one request (`POST /activities/bulk`, as that user)."""
        if len(activities) > BULK_MAX:
            raise ValueError(f"MOCO creates at most {BULK_MAX} activities per bulk request")
        body = {"activities": [a.model_dump(mode="json", exclude_none=True) for a in activities]}
        response = self.http.request("POST", "activities/bulk", json=body, headers=_as_user(user_id))
        return [MocoActivity.model_validate(item) for item in response.json()]

    def create_activity(self, user_id: int, activity: ActivityFields) -> MocoActivity:
        body = activity.model_dump(mode="json", exclude_none=True)
        response = self.http.request("POST", "activities", json=body, headers=_as_user(user_id))
        return MocoActivity.model_validate(response.json())

    def update_activity(self, user_id: int, activity_id: int, activity: ActivityFields) -> MocoActivity:
        body = activity.model_dump(mode="json", exclude_none=True)
        response = self.http.request("PUT", url_path("activities", activity_id), json=body, headers=_as_user(user_id))
        return MocoActivity.model_validate(response.json())

    def delete_activity(self, user_id: int, activity_id: int) -> None:
        self.http.request("DELETE", url_path("activities", activity_id), headers=_as_user(user_id))

    # web hooks ---------------------------------------------------------------------------------------------------
    def web_hooks(self) -> list[MocoWebHook]:
        """The account's web hooks, ours and others'."""
        items = paginate_link_header(self.http, "account/web_hooks", {}, PER_PAGE)
        return [MocoWebHook.model_validate(item) for item in items]

    def create_web_hook(self, target: str, event: str, hook: str) -> MocoWebHook:
        """Not idempotent: look for the web hook by target, event and URL before and after a lost answer."""
        body = {"target": target, "event": event, "hook": hook}
        return MocoWebHook.model_validate(self.http.request("POST", "account/web_hooks", json=body).json())

    def update_web_hook(self, web_hook_id: int, hook: str) -> MocoWebHook:
        """Point a web hook at another URL (only `hook` can change)."""
        response = self.http.request("PUT", url_path("account", "web_hooks", web_hook_id), json={"hook": hook})
        return MocoWebHook.model_validate(response.json())

    def enable_web_hook(self, web_hook_id: int) -> MocoWebHook:
        response = self.http.request("PUT", url_path("account", "web_hooks", web_hook_id, "enable"))
        return MocoWebHook.model_validate(response.json())

    def delete_web_hook(self, web_hook_id: int) -> None:
        self.http.request("DELETE", url_path("account", "web_hooks", web_hook_id))


BULK_MAX = 100
RATE_LIMIT_HEADER = "X-RateLimit-Limit"


def _project_filters(tags: list[str] | None, custom_properties: Mapping[str, str] | None) -> dict[str, Any]:
    """The query of a project list filtered by tags (all of them) and custom field values."""
    params: dict[str, Any] = {}
    if tags:
        params["tags"] = ",".join(tags)
    for name, value in (custom_properties or {}).items():
        params[f"custom_properties[{name}]"] = value
    return params


def _token_header(settings: Settings) -> SecretStr:
    return SecretStr(f"Token token={settings.moco_api_key.get_secret_value()}")


def _as_user(user_id: int) -> dict[str, str]:
    """Impersonation: activities belong to the user a request acts as."""
    return {"X-IMPERSONATE-USER-ID": str(user_id)}


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
