"""Simulator of the awork REST API v1 (`/api/v1`): users, project templates, companies, projects, task lists,
project tasks, types of work, time entries and absences, following `../shared/api/awork.md` and the official
OpenAPI spec.

Conventions of the real API kept here: `Authorization: Bearer <api key>` (else 401 `unauthorized`); every answer
carries a `Trace-Id` header; errors are `ErrorResponse` bodies with awork's codes; lists are bare JSON arrays paged
by `page`/`pageSize` with `aw-page`, `aw-pagesize`, `aw-items`, `aw-totalitems` headers and filtered and ordered
by `filterby`/`orderby` (see `sandbox.odata`); ids are lower-case GUIDs; timestamps are ISO-8601 UTC with `Z`;
`updatedOn` and `resourceVersion` (.NET ticks of `updatedOn`) grow on every change; 429 answers carry the
documented `ratelimit-*` and `x-ratelimit-*` headers.

Where the docs are silent we chose (each also noted where it is implemented):
- Default `pageSize` is 10 (the spec's default; the prose docs say 1000); values above 1000 are clamped to 1000,
  values below 1 to 1, a `page` below 1 means 1. Query-parameter names are case-insensitive (`filterBy` works).
- Request bodies: JSON property names are case-insensitive and unknown properties are ignored (ASP.NET
  defaults); a required string must not be empty. A reference to a missing entity inside a body (`companyId`,
  `projectTemplateId`, `entityId`, `lists[].id`, ...) is 400 `validation-failed` naming the property, because the
  spec declares no 404 for those operations; a missing entity in the path is 404 `not-found`.
- PUT replaces the whole form: a property left out is reset to its default (null, false or 0).
- Project keys: `POST /projects` accepts 1-32 letters, digits, `-`, `_` and upper-cases them; the spec's
  `POST /projects/{id}/setprojectkey` (the only way to change a key; `ProjectPutForm` has no `projectKey`)
  accepts only `A-Z`, `0-9`, `-`, as its description says. A key generated from a name is the initials of its
  first four words (the first four characters of a one-word name), with `-2`, `-3`, ... appended when taken.
- A new project is in the workspace's "In progress" status; without a template or an explicit value,
  `isBillableByDefault` follows the template rule 'auto' (true when the project has a company); an explicit
  value wins over the template's. Every project gets the task statuses "To do", "In progress" and "Done".
- Task lists nested in a task (`TaskOrderList`) carry null planned durations; `GET` on a task list sums them.
- A filter or order path through an optional nested object the JSON leaves out (a project's `company`, a time
  entry's `task` or `project`) sees null there, as it would in awork's database, instead of an unknown property.
- No project types, workflows or public templates are simulated; ids of those are rejected as unknown references.
- Project members: a new project has none (UNCONFIRMED whether awork adds the creator); the workspace has the
  project roles "Project Manager" and "Member" (the default). `addprojectmember` refuses (400) an unknown user or
  role, a user who is a member already ("only once") and a second responsible member ("only if no other member of
  this project is responsible"); `updateprojectmember` and `removeprojectmember` refuse a user who is no member
  (400). A member's `isDeactivated` is the user's.
- Statuses: every project may take any of the workspace's project statuses (no project types are simulated, so
  `GET /projects/{id}/projectstatuses` lists them all); a status of type 'closed' sets `closedOn`/`closedBy`,
  another clears them. `POST /tasks/changestatuses` takes statuses of each task's project only, all or nothing
  (400 naming the first bad item); a 'done' status sets the task's `closedOn`/`closedBy`.

Time entries (`TimeTracking`), where the docs are silent:
- Stored as a UTC start instant, a duration in whole seconds and the entry's IANA `timezone`; every date/time field
  is derived from those. `*DateUtc` is the UTC date at midnight with `Z` (as in the real fixture), `*TimeUtc` and
  `*TimeLocal` the time of day as a .NET TimeSpan (`HH:MM:SS`, with seven fractional digits only when the start
  has fractions of a second). The end is start + duration.
- `*DateLocal` is the local date at local midnight. The real API sends it without an offset
  (`2022-09-21T00:00:00`), which the spec's `date-time` format (RFC 3339, checked by our contract tests) does not
  allow, so the simulator adds the zone's offset at that midnight (`2022-09-21T00:00:00+02:00`): the same local
  date and the correct instant. Clients must read only its date part. `filterby`/`orderby` see the real,
  offset-less value (so `startDateLocal ge datetime'2022-09-21T00:00:00'` compares local dates, as awork would).
- A write gives the start either as UTC fields or as local fields (`TimeEntryPostForm`: "Do not mix"); mixing the
  two groups is 400. A date field with a time of day and no `*Time*` field means that moment (the docs' simplest
  form, `"startDateUtc":"2024-05-14T10:00:00Z"` + `duration`); with a `*Time*` field only its date counts (the
  UTC date of a `*DateUtc`, the written date of a `*DateLocal`, whose offset is ignored). An end time without an
  end date is on the start's date. Start and end win over `duration` (as the PUT description says); end and
  duration give the start; a start with neither end nor duration is 400 (running timers are not simulated).
  Negative durations are 400. `breakDuration` ("cannot be set via API") is ignored; `breaks` is always [] and
  `breakDuration` 0.
- References in the body (`userId`, `typeOfWorkId`, `projectId`, `taskId`) must exist (else 400
  `validation-failed` naming the property); an invalid `timezone` is 400 too. A task must belong to the entry's
  project; an entry with a task and no `projectId` gets the task's project.
- `isBillable` left out (or null) follows the project's `isBillableByDefault` (false without a project); an
  explicit value wins. PUT replaces the form (`note`, `taskId`, `projectId`, `isBilled` reset when left out;
  `isBillable` falls back to the project default), except that a left-out `userId` keeps the user and a PUT
  without any start/end field keeps the start (and the duration, unless one is given).
- Billed entries can be changed and deleted (our API key is an admin). `DELETE` removes an entry for good: lists
  never show it again (awork cannot list deletions). Deleting a project with `deleteTimeTrackings: true` deletes
  its entries; otherwise their project and task are cleared and their `updatedOn` bumped.
- A project's and a task's `trackedDuration` (and a task's `totalTrackedDuration`) sum their entries' durations.
- Lists are in creation order unless `orderby` says otherwise.

Webhooks (`/webhooks`, `WebhookConfig`), where the docs are silent:
- `events` must name event types of `GET /webhooks/eventtypes` (the documented list), else 400; `authenticationType`
  'header' needs `authentication` as `name=value`. Only custom receivers are simulated (`receiverType` 'custom').
- Every change of a time entry or project, through the API or the Python API (a user in awork's UI), is posted to
  each active webhook subscribed to its event type, from a background thread (`deliveries`, a `WebhookSender`):
  the documented payload (`timestamp`, `eventType`, `entity` = the entity as the API returns it, `entityId`,
  `entityType` `timetracking` or `project`, `entityLink`, `traceId`, `triggeredBy`, `changes` always []), the
  configured header. A deleted entity carries `deletedOn` and `deletedBy`. The receiver has 30 s; a failure is
  retried with exponential backoff, up to 10 times, and recorded in `lastFailureReason` and the webhook's logs; a
  webhook that failed more than 10 times in a row is paused (`isActive` false). Entries deleted or unlinked
  together with their project send no time entry events.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import count
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.core import (
    Delivery,
    DeliveryAttempt,
    SimError,
    SimRequest,
    SimResponse,
    Simulator,
    SlidingWindowLimit,
    WebhookSender,
    paginate,
    route,
)
from sandbox.odata import ODataError, compile_filter, compile_order

Row = dict[str, Any]  # a stored entity: its JSON fields, plus internal fields whose names start with "_"
View = Callable[[dict[str, Any]], dict[str, Any]]  # what filterby/orderby see of a JSON item

DOCS_LINK = "https://developers.awork.com/#response-types"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
CREATE_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")
SET_KEY = re.compile(r"[A-Z0-9-]{1,32}")
TIMESPAN = re.compile(r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?:\.(?P<f>\d{1,7}))?)?")
INT32_MAX = 2**31 - 1
_TICKS_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_NO_LISTS: Mapping[str, Sequence[str]] = MappingProxyType({})
_ERROR_CODES = {
    400: "invalid-model",
    401: "unauthorized",
    404: "not-found",
    409: "concurrency-violation",
    413: "request-body-too-large",
    429: "too-many-requests",  # not in awork's list of codes; the docs show no 429 body
}


# --- errors -------------------------------------------------------------------------------------------------------
def error(status: int, code: str, description: str, *, details: Sequence[str] = (), **extra: Any) -> SimError:
    """An awork `ErrorResponse` answer with a fresh trace id."""
    body = {"code": code, "description": description, "link": DOCS_LINK, "traceId": uuid.uuid4().hex, **extra}
    if details:
        body["details"] = list(details)
    return SimError(status, body)


def validation_failed(*problems: tuple[str, str]) -> SimError:
    """400 `validation-failed` with one `{property, message}` per problem."""
    return error(
        400,
        "validation-failed",
        "The model sent in the request is invalid. See the validation errors for details.",
        validationErrors=[{"property": prop, "message": message} for prop, message in problems],
    )


def not_found(what: str, entity_id: str) -> SimError:
    return error(
        404, "not-found", f"The {what} was not found.", details=[f"No {what} with the id '{entity_id}' exists."]
    )


# --- request forms ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One property of a request form: its JSON type (the spec's type or format), constraints and default."""

    kind: str  # string | uuid | date-time | date | boolean | integer | number | array
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    default: Any = None

    def problem(self, label: str, value: Any) -> str | None:
        """Why `value` does not fit, as an awork-style validation message; None if it fits."""
        if value is None or (self.required and isinstance(value, str) and not value.strip()):
            return f"'{label}' must not be empty." if self.required else None
        if not _KINDS[self.kind](value):
            return f"'{label}' is not a valid {self.kind}."
        if self.max_length is not None and len(value) > self.max_length:
            return f"The length of '{label}' must be {self.max_length} characters or fewer. You entered {len(value)}."
        if self.choices and value not in self.choices:
            return f"'{label}' must be one of: {', '.join(self.choices)}."
        return None

    def normalize(self, value: Any) -> Any:
        """The stored form of a valid value: GUIDs lower-cased, date-times as UTC with `Z`, null as the default."""
        if value is None:
            return self.default
        if self.kind == "uuid":
            return str(uuid.UUID(value))
        if self.kind == "date-time":
            return _iso(_parse_instant(value))
        return value


def _parse_instant(text: str) -> datetime:
    """A UTC instant from ISO-8601 text; text without an offset is taken as UTC."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_timespan(text: str) -> time:
    """A time of day from a .NET TimeSpan text (`HH:mm`, `HH:mm:ss`, `HH:mm:ss.fffffff`)."""
    match = TIMESPAN.fullmatch(text)
    if match is None:
        raise ValueError(f"not a time of day: {text!r}")
    micros = int((match["f"] or "0").ljust(7, "0")) // 10
    return time(int(match["h"]), int(match["m"]), int(match["s"] or 0), micros)


def _parses(parse: Callable[[str], Any]) -> Callable[[Any], bool]:
    def fits(value: Any) -> bool:
        try:
            parse(value)
        except (TypeError, ValueError, AttributeError):
            return False
        return isinstance(value, str)

    return fits


_KINDS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "uuid": _parses(uuid.UUID),
    "date-time": _parses(_parse_instant),
    "date": _parses(date.fromisoformat),
    "local-date-time": _parses(datetime.fromisoformat),  # a wall-clock date-time; an offset is ignored
    "time": _parses(_parse_timespan),
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
}

Form = Mapping[str, Field]


def validate(body: Any, form: Form) -> dict[str, Any]:
    """Every property of `form` read from a JSON object body (names matched ignoring case, unknown ones ignored,
    missing ones set to their default); 400 `validation-failed` listing every problem."""
    if not isinstance(body, dict):
        raise validation_failed(("", "A non-empty request body is required."))
    given = {key.casefold(): value for key, value in body.items()}
    values, problems = {}, []
    for name, field in form.items():
        label = name[0].upper() + name[1:]
        value = given.get(name.casefold())
        if message := field.problem(label, value):
            problems.append((label, message))
        else:
            values[name] = field.normalize(value)
    if problems:
        raise validation_failed(*problems)
    return values


COMPANY_FORM: Form = {
    "name": Field("string", required=True, max_length=1000),
    "description": Field("string", max_length=25000),
    "industry": Field("string", max_length=1000),
}
INVITATION_FORM: Form = {  # Invitation (the part we simulate)
    "workspaceId": Field("uuid", required=True),
    "email": Field("string", required=True, max_length=300),
    "firstName": Field("string", max_length=200),
    "lastName": Field("string", max_length=200),
    "invitationFlow": Field("string", choices=("invite",)),
}
ACCEPT_INVITATION_FORM: Form = {"invitationCode": Field("string", required=True)}  # AcceptInvitation
PROJECT_FORM: Form = {  # ProjectPutForm, the editable part of a project
    "name": Field("string", required=True, max_length=1000),
    "isPrivate": Field("boolean", default=False),
    "description": Field("string", max_length=25000),
    "startDate": Field("date-time"),
    "dueDate": Field("date-time"),
    "companyId": Field("uuid"),
    "timeBudget": Field("integer"),
    "isBillableByDefault": Field("boolean"),
    "projectTypeId": Field("uuid"),
    "color": Field("string", max_length=14),
    "deductNonBillableHours": Field("boolean", default=False),
    "isProjectKeyVisible": Field("boolean"),
}
NEW_PROJECT_FORM: Form = {  # ExtendedProjectForm
    **PROJECT_FORM,
    "projectKey": Field("string"),
    "projectStatusId": Field("uuid"),
    "projectTemplateId": Field("uuid"),
    "publicProjectTemplateId": Field("uuid"),
    "workflowId": Field("uuid"),
    "referenceDateType": Field("string", choices=("today", "start", "end", "custom")),
    "referenceDateAnchor": Field("string", choices=("starts_on_reference_date", "ends_on_reference_date")),
    "customReferenceDate": Field("date"),
}
PROJECT_KEY_FORM: Form = {"projectKey": Field("string", required=True)}
PROJECT_MEMBER_FORM: Form = {  # ProjectMemberForm
    "userId": Field("uuid", required=True),
    "projectRoleId": Field("uuid", required=True),
    "isResponsible": Field("boolean", default=False),
}
PROJECT_MEMBER_REMOVE_FORM: Form = {"userId": Field("uuid", required=True)}  # ProjectMemberRemoveForm
PROJECT_STATUS_CHANGE_FORM: Form = {"projectStatusId": Field("uuid", required=True)}  # ChangeProjectStatusForm
TASK_STATUS_CHANGE_FORM: Form = {  # ChangeStatusForm
    "taskId": Field("uuid", required=True),
    "statusId": Field("uuid", required=True),
    "order": Field("number"),
}
PROJECT_DELETE_FORM: Form = {"deleteTimeTrackings": Field("boolean", default=False)}
TASK_LIST_PUT_FORM: Form = {
    "name": Field("string", required=True, max_length=1000),
    "isHiddenForConnectUsers": Field("boolean", default=False),
}
TASK_LIST_FORM: Form = {**TASK_LIST_PUT_FORM, "order": Field("number")}
TASK_PUT_FORM: Form = {  # GeneralTaskForm
    "name": Field("string", required=True, max_length=1000),
    "description": Field("string", max_length=25000),
    "isPrio": Field("boolean", default=False),
    "startOn": Field("date-time"),
    "dueOn": Field("date-time"),
    "laneOrder": Field("integer", default=0),
    "plannedDuration": Field("integer", default=0),
}
TASK_FORM: Form = {  # GeneralTaskPostForm
    **TASK_PUT_FORM,
    "baseType": Field("string", required=True, choices=("projecttask", "private")),
    "typeOfWorkId": Field("uuid"),
    "taskStatusId": Field("uuid"),
    "order": Field("number"),
    "subtaskOrder": Field("number"),
    "entityId": Field("uuid"),
    "parentId": Field("uuid"),
    "lists": Field("array", default=()),
}
LIST_ASSIGNMENT_FORM: Form = {"id": Field("uuid", required=True), "order": Field("number")}
TASK_TO_LIST_FORM: Form = {"taskId": Field("uuid", required=True), "order": Field("number")}
TYPE_OF_WORK_FORM: Form = {
    "name": Field("string", required=True),
    "description": Field("string"),
    "icon": Field("string"),
}
TIME_ENTRY_PUT_FORM: Form = {  # TimeTrackingPutForm
    "isBillable": Field("boolean"),  # None: the project's default
    "isBilled": Field("boolean", default=False),
    "taskId": Field("uuid"),
    "projectId": Field("uuid"),
    "note": Field("string"),
    "startDateUtc": Field("date-time"),
    "startTimeUtc": Field("time"),
    "endDateUtc": Field("date-time"),
    "endTimeUtc": Field("time"),
    "startDateLocal": Field("local-date-time"),
    "startTimeLocal": Field("time"),
    "endDateLocal": Field("local-date-time"),
    "endTimeLocal": Field("time"),
    "timezone": Field("string", required=True),
    "duration": Field("integer"),
    "breakDuration": Field("integer"),  # "Cannot be set via API": accepted and ignored
    "typeOfWorkId": Field("uuid", required=True),
    "userId": Field("uuid"),  # None: keep the entry's user
}
TIME_ENTRY_POST_FORM: Form = {**TIME_ENTRY_PUT_FORM, "userId": Field("uuid", required=True)}  # TimeEntryPostForm
ABSENCE_FORM: Form = {  # AbsenceForm; the spec requires only userId, an absence without its days makes no sense
    "userId": Field("uuid", required=True),
    "startOn": Field("date-time", required=True),
    "endOn": Field("date-time", required=True),
    "description": Field("string", max_length=1000),
    "externalProvider": Field("string", max_length=100),
    "isHalfDayOnStart": Field("boolean", default=False),
    "isHalfDayOnEnd": Field("boolean", default=False),
}
WEBHOOK_EVENT_TYPES = (  # GET /webhooks/eventtypes: the documented list
    *("absence_added", "absence_deleted", "absence_updated"),
    *("company_added", "company_deleted", "company_type_changed", "company_updated"),
    *("project_added", "project_comment_added", "project_deleted", "projectmember_added", "projectmember_deleted"),
    *("project_status_changed", "project_type_changed", "project_updated"),
    *("task_added", "taskassignment_added", "taskassignment_deleted", "task_comment_added", "task_deleted"),
    *("tasklist_added", "tasklist_deleted", "tasklist_updated", "task_status_changed", "task_type_changed"),
    *("task_updated", "timetracking_added", "timetracking_updated", "timetracking_deleted"),
    *("timetracking_type_changed", "user_activation_changed", "user_added", "user_deleted"),
    *("user_status_changed", "user_updated"),
)
WEBHOOK_FORM: Form = {  # WebhookConfigForm
    "name": Field("string", required=True),
    "uri": Field("string", required=True),
    "language": Field("string"),
    "events": Field("string", required=True),
    "isActive": Field("boolean", required=True),
    "onlyTriggerForMainEntityChanges": Field("boolean", default=False),
    "authenticationType": Field("string", required=True, choices=("none", "header")),
    "authentication": Field("string"),
}
WEBHOOK_MAX_FAILURES = 10  # "fails more than 10 times without a successful response" -> paused
# the stored fields of a time entry, besides its start instant `_start`
TIME_ENTRY_FIELDS = (
    "isBillable",
    "isBilled",
    "taskId",
    "projectId",
    "note",
    "timezone",
    "duration",
    "typeOfWorkId",
    "userId",
)


# --- small helpers --------------------------------------------------------------------------------------------------
def _guid() -> str:
    return str(uuid.uuid4())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ticks(moment: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01 UTC), awork's `resourceVersion`."""
    return (moment - _TICKS_EPOCH) // timedelta(microseconds=1) * 10


def _public(row: Row) -> dict[str, Any]:
    """The JSON fields of a stored row (a deep copy, safe to hand out and to log)."""
    return copy.deepcopy({key: value for key, value in row.items() if not key.startswith("_")})


def _pick(row: Row, *keys: str) -> dict[str, Any]:
    return {key: row[key] for key in keys}


def _form_value(value: Any) -> Any:
    """A Python value as JSON for a form: dates become midnight UTC date-times."""
    return f"{value.isoformat()}T00:00:00Z" if isinstance(value, date) else value


def _query(request: SimRequest, name: str) -> str | None:
    """A query parameter by name, ignoring the name's case (`filterBy` and `filterby` both work)."""
    for key, values in request.query.items():
        if key.casefold() == name.casefold() and values:
            return values[0]
    return None


def _int_query(request: SimRequest, name: str, default: int) -> int:
    text = _query(request, name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise validation_failed((name, f"The value '{text}' is not valid.")) from exc


def _generated_key_stem(name: str) -> str:
    """A project key from a name: the initials of its first four words, or the first four characters of a
    one-word name; letters folded to ASCII and upper-cased; "P" when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_name)
    stem = "".join(word[0] for word in words[:4]) if len(words) > 1 else "".join(words)[:4]
    return stem.upper() or "P"


# --- time entries: times --------------------------------------------------------------------------------------------
def _zone(name: str) -> tzinfo:
    """The IANA time zone `name`, else 400 `validation-failed` naming `Timezone`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise validation_failed(("Timezone", f"'{name}' is not an IANA time zone.")) from exc


def _timespan(moment: datetime) -> str:
    """The time of day as a .NET TimeSpan: `HH:MM:SS`, plus seven fractional digits when there are fractions."""
    text = f"{moment.hour:02}:{moment.minute:02}:{moment.second:02}"
    return f"{text}.{moment.microsecond * 10:07}" if moment.microsecond else text


def _date_time_fields(moment: datetime, zone: tzinfo, which: str) -> dict[str, str]:
    """`{which}DateUtc`, `{which}TimeUtc`, `{which}DateLocal`, `{which}TimeLocal` of an instant; the local date is
    local midnight with its offset (see the module docstring)."""
    utc, local = moment.astimezone(UTC), moment.astimezone(zone)
    return {
        f"{which}DateUtc": f"{utc.date().isoformat()}T00:00:00Z",
        f"{which}TimeUtc": _timespan(utc),
        f"{which}DateLocal": datetime.combine(local.date(), time(), zone).isoformat(),
        f"{which}TimeLocal": _timespan(local),
    }


def _time_point(values: Mapping[str, Any], which: str, kind: str, zone: tzinfo, day: date | None) -> datetime | None:
    """The instant given by `{which}Date{kind}` and `{which}Time{kind}` (kind Utc or Local), None if neither is
    set. A date-time without a time field is that moment; a time without a date is on `day`."""
    date_name, time_name = f"{which}Date{kind}", f"{which}Time{kind}"
    date_text, time_text = values[date_name], values[time_name]
    if date_text is None and time_text is None:
        return None
    if date_text is None:
        if day is None:
            label = date_name[0].upper() + date_name[1:]
            raise validation_failed((label, f"'{label}' must not be empty when a time of day is given."))
        wall = datetime.combine(day, _parse_timespan(time_text))
    else:
        written = _parse_instant(date_text) if kind == "Utc" else datetime.fromisoformat(date_text)
        clock = written.time() if time_text is None else _parse_timespan(time_text)
        wall = datetime.combine(written.date(), clock)
    return wall.replace(tzinfo=UTC if kind == "Utc" else zone).astimezone(UTC)


def _time_span(
    values: Mapping[str, Any], zone: tzinfo, keep: tuple[datetime, int] | None = None
) -> tuple[datetime, int]:
    """The UTC start and the duration (seconds) of a time entry form: start and end (the end wins over
    `duration`), start and duration, or end and duration; `keep` (start, duration) when a PUT gives no times."""
    given = [name for name in values if name.startswith(("start", "end")) and values[name] is not None]
    kind = "Local" if any(name.endswith("Local") for name in given) else "Utc"
    if kind == "Local" and any(name.endswith("Utc") for name in given):
        message = "Set either the UTC or the local date and time fields, not both."
        raise validation_failed(("StartDateLocal", message))
    duration = values["duration"]
    if duration is not None and not 0 <= duration <= INT32_MAX:
        raise validation_failed(("Duration", f"'Duration' must be between 0 and {INT32_MAX}."))
    start = _time_point(values, "start", kind, zone, None)
    start_day = None if start is None else (start if kind == "Utc" else start.astimezone(zone)).date()
    end = _time_point(values, "end", kind, zone, start_day)
    if start is None and end is None and keep is not None:
        return keep[0], keep[1] if duration is None else duration
    if start is not None and end is not None:
        if end < start:
            raise validation_failed((f"EndDate{kind}", "The end must not be before the start."))
        duration = (end - start) // timedelta(seconds=1)
    elif duration is None:
        raise validation_failed(("Duration", "'Duration' or an end is required for a completed time entry."))
    elif start is None:
        if end is None:
            raise validation_failed((f"StartDate{kind}", f"'StartDate{kind}' must not be empty."))
        start = end - timedelta(seconds=duration)
    if duration > INT32_MAX:
        raise validation_failed(("Duration", f"'Duration' must be between 0 and {INT32_MAX}."))
    return start, duration


def _time_entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    """What `filterby`/`orderby` see of a `TimeTracking`: local dates without an offset, as awork stores them, and
    null for a nested task or project the JSON leaves out."""
    local_dates = {name: entry[name][:19] for name in ("startDateLocal", "endDateLocal")}
    return {"task": None, "project": None} | entry | local_dates


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a direct-API method under the simulator's lock (it may be served on another thread)."""

    @functools.wraps(method)
    def run(self: AworkSimulator, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return run


class _Window(SlidingWindowLimit):
    """A sliding-window rate limit that remembers whether it refused the latest request it counted."""

    refused = False

    def hit(self) -> float | None:
        wait = super().hit()
        self.refused = wait is not None
        return wait


class AworkSimulator(Simulator):
    """In-memory awork workspace served as an ASGI app under `/api/v1`, with a direct Python API for seeding.

    Starts with the API user (`GET /users/me`), the type of work "Projektarbeit", the project statuses
    "Not started", "In progress", "Closed" and the statuses of private tasks ("To do", "Done").
    """

    base_path = "/api/v1"

    def __init__(
        self,
        api_keys: Iterable[str] = ("awork-sandbox-key",),
        per_second: int | None = 50,
        per_minute: int | None = 1000,
        *,
        deliver_webhooks: bool = True,
    ) -> None:
        super().__init__()
        self.deliveries = WebhookSender(timeout=30.0, max_attempts=1 + WEBHOOK_MAX_FAILURES)
        self.deliveries.enabled = deliver_webhooks
        self._webhooks: dict[str, Row] = {}
        self.api_keys = frozenset(api_keys)
        self._windows = {
            label: _Window(limit, seconds)
            for label, limit, seconds in (("second", per_second, 1.0), ("minute", per_minute, 60.0))
            if limit
        }
        self.limits.extend(self._windows.values())
        self._last_moment = datetime.now(UTC)
        self._users: dict[str, Row] = {}
        self._types_of_work: dict[str, Row] = {}
        self._templates: dict[str, Row] = {}
        self._companies: dict[str, Row] = {}
        self._projects: dict[str, Row] = {}
        self._project_statuses: dict[str, Row] = {}
        self._project_roles: dict[str, Row] = {}
        self._task_statuses: dict[str, Row] = {}
        self._task_lists: dict[str, dict[str, Row]] = {}  # by project id
        self._tasks: dict[str, Row] = {}
        self._task_ids: dict[str | None, list[str]] = {None: []}  # by project id; None: private tasks
        self._task_numbers: dict[str, count[int]] = {}  # by project id, never reused
        self._time_entries: dict[str, Row] = {}
        self._absences: dict[str, Row] = {}
        self.me = _guid()
        self.account_id = _guid()
        self.workspace = {"id": _guid(), "name": "Sandbox Agency", "url": "sandbox"}
        self._add_user(self.me, "awork", "API", email=None)
        self.add_type_of_work("Projektarbeit")
        for type_order, (name, status_type) in enumerate(
            (("Not started", "not-started"), ("In progress", "progress"), ("Closed", "closed"))
        ):
            status = self._new({"name": name, "description": None, "type": status_type, "isArchived": False})
            status |= {"typeOrder": type_order, "order": type_order + 1, "isExternal": False}
            self._project_statuses[status["id"]] = status
        for name, is_default in (("Project Manager", False), ("Member", True)):
            role = self._new({"name": name, "isDefault": is_default, "allowOnlyProjectMasterDataRead": False})
            self._project_roles[role["id"]] = role
        self._add_task_statuses(None, (("To do", "todo"), ("Done", "done")))

    # --- core hooks -------------------------------------------------------------------------------------------
    def authenticate(self, request: SimRequest) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.api_keys:
            raise error(401, "unauthorized", "The request is not authorized. Send 'Authorization: Bearer <api key>'.")

    def rate_limited(self, retry_after: float) -> SimError:
        """429 with the documented headers: `ratelimit-*` for the window that refused the request (reset in whole
        seconds, at least 1), `x-ratelimit-*-second|minute` for each configured window. Only 429s carry them."""
        window = next(window for window in self._windows.values() if window.refused)
        refusal = error(429, "too-many-requests", "The rate limit of the workspace was exceeded.")
        refusal.headers = {
            "ratelimit-limit": str(window.limit),
            "ratelimit-remaining": str(window.remaining()),
            "ratelimit-reset": str(max(1, math.ceil(retry_after))),
        }
        for label, each in self._windows.items():
            refusal.headers[f"x-ratelimit-limit-{label}"] = str(each.limit)
            refusal.headers[f"x-ratelimit-remaining-{label}"] = str(each.remaining())
        return refusal

    def error_body(self, status: int) -> dict[str, Any]:
        """The ErrorResponse of an injected fault: `server-error` for 5xx, else the usual code of the status."""
        code = "server-error" if status >= 500 else _ERROR_CODES.get(status, "invalid-operation")
        return error(status, code, f"Simulated error {status}.").body

    def not_found(self) -> SimError:
        return error(404, "not-found", "There is no matching path for this URL.")

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
    ) -> tuple[SimResponse, SimRequest | None, float]:
        """Every answer carries a `Trace-Id` header, equal to the error body's `traceId` when there is one."""
        response, request, delay = super().handle(method, path, query, headers, raw)
        body = response.body
        trace_id = body.get("traceId") if isinstance(body, dict) else None
        response.headers["Trace-Id"] = trace_id or uuid.uuid4().hex
        return response, request, delay

    # --- rows and time --------------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        """The current time, strictly later than the previous call's, so every change moves `updatedOn`."""
        self._last_moment = max(datetime.now(UTC), self._last_moment + timedelta(microseconds=1))
        return self._last_moment

    def _new(self, fields: Mapping[str, Any], *, versioned: bool = False) -> Row:
        """A row with a new id, creation and update stamps, and a `resourceVersion` if the entity has one."""
        now = self._now()
        row = {"id": _guid(), **fields, "createdOn": _iso(now), "createdBy": self.me}
        row |= {"updatedOn": _iso(now), "updatedBy": self.me}
        if versioned:
            row["resourceVersion"] = _ticks(now)
        return row

    def _touch(self, row: Row) -> None:
        """Record a change: `updatedOn`/`updatedBy` and, where the entity has one, `resourceVersion`."""
        now = self._now()
        row |= {"updatedOn": _iso(now), "updatedBy": self.me}
        if "resourceVersion" in row:
            row["resourceVersion"] = _ticks(now)

    # --- paging ---------------------------------------------------------------------------------------------------
    def _page(
        self,
        request: SimRequest,
        items: list[Any],
        view: View | None = None,
        render: Callable[[Row], dict[str, Any]] | None = None,
    ) -> SimResponse:
        """One page of `items` (in creation order unless `orderby` says otherwise), after `filterby`; `view` gives
        what the expressions see of an item, when that differs from its JSON. With `render`, `items` are stored
        rows turned into JSON by it: only those of the page when nothing is filtered or ordered."""
        if render and (_query(request, "filterby") or _query(request, "orderby")):
            items, render = [render(row) for row in items], None
        items = self._filtered(request, items, view)
        page = max(1, _int_query(request, "page", 1))
        size = min(MAX_PAGE_SIZE, max(1, _int_query(request, "pageSize", DEFAULT_PAGE_SIZE)))
        body = paginate(items, page, size)
        if render:
            body = [render(row) for row in body]
        headers = {"aw-page": str(page), "aw-pagesize": str(size), "aw-items": str(len(body))}
        return SimResponse(200, body, headers | {"aw-totalitems": str(len(items))})

    @staticmethod
    def _filtered(request: SimRequest, items: list[dict[str, Any]], view: View | None) -> list[dict[str, Any]]:
        filter_expr, order_expr = _query(request, "filterby"), _query(request, "orderby")
        if not filter_expr and not order_expr:
            return items
        views = [view(item) for item in items] if view else items
        item_of = {id(seen): item for seen, item in zip(views, items, strict=True)}
        try:
            if filter_expr:
                keep = compile_filter(filter_expr)
                views = [seen for seen in views if keep(seen)]
            if order_expr:
                views = compile_order(order_expr)(views)
        except ODataError as exc:
            description = "The filter or order expression is invalid."
            raise error(400, "invalid-filter-or-order", description, details=[str(exc)]) from exc
        return [item_of[id(seen)] for seen in views]

    # --- lookups ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _found(rows: Mapping[str, Row], entity_id: str, what: str) -> Row:
        """The row with `entity_id` (from a path; GUIDs match ignoring case), else 404 `not-found`."""
        row = rows.get(entity_id.lower())
        if row is None:
            raise not_found(what, entity_id)
        return row

    @staticmethod
    def _referenced(rows: Mapping[str, Row], entity_id: str, prop: str, what: str) -> Row:
        """The row a body property refers to, else 400 `validation-failed` naming the property."""
        row = rows.get(entity_id)
        if row is None:
            raise validation_failed((prop[0].upper() + prop[1:], f"There is no {what} with the id '{entity_id}'."))
        return row

    def _check_references(self, values: Mapping[str, Any], references: Mapping[str, tuple[str, Mapping]]) -> None:
        """Every set id property of `values` names an existing entity (`references`: property -> (what, rows))."""
        for prop, (what, rows) in references.items():
            if values.get(prop) is not None:
                self._referenced(rows, values[prop], prop, what)

    def _project_references(self) -> dict[str, tuple[str, Mapping]]:
        return {
            "companyId": ("company", self._companies),
            "projectTypeId": ("project type", {}),
            "projectStatusId": ("project status", self._project_statuses),
            "projectTemplateId": ("project template", self._templates),
            "publicProjectTemplateId": ("public project template", {}),
            "workflowId": ("workflow", {}),
        }

    def _task_list(self, project_id: str, list_id: str) -> Row:
        return self._found(self._task_lists[project_id], list_id, "task list")

    # --- users ----------------------------------------------------------------------------------------------------
    def _add_user(self, user_id: str, first_name: str, last_name: str, email: str | None) -> Row:
        contact_infos = [] if email is None else [self._email_contact_info(email)]
        user = self._new(
            {
                "id": user_id,
                "firstName": first_name,
                "lastName": last_name,
                "birthDate": None,
                "gender": None,
                "title": None,
                "position": None,
                "language": "de",
                "status": {"invitationAccepted": True, "isDeactivated": False},
                "isArchived": False,
                "isDeactivated": False,
                "isAgent": False,
                "deactivatedOn": None,
                "deletedOn": None,
                "hasImage": False,
                "shouldMigrateToConnect": False,
                "userContactInfos": contact_infos,
                "tags": [],
                "teams": [],
                "isExternal": False,
            },
            versioned=True,
        )
        self._users[user_id] = user
        return user

    def _email_contact_info(self, email: str) -> Row:
        return self._new({"label": None, "value": email, "type": "email", "subType": "work", "isAddress": False})

    @route("GET", "/users/me")
    def get_me(self, request: SimRequest) -> dict[str, Any]:
        """The API user with its workspace (`UserAndWorkspace`)."""
        me = _public(self._users[self.me])
        return me | {"accountId": self.account_id, "workspace": dict(self.workspace)}

    @route("GET", "/users")
    def list_users(self, request: SimRequest) -> SimResponse:
        """All users with their `userContactInfos`, the API user included (as the spec warns); `showArchived` is
        ignored (none are archived)."""
        return self._page(request, [_public(user) for user in self._users.values()])

    @route("GET", "/users/{userId}")
    def get_user(self, request: SimRequest) -> dict[str, Any]:
        return _public(self._found(self._users, request.path_params["userId"], "user"))

    @route("GET", "/users/{userId}/contactinfo")
    def list_user_contact_infos(self, request: SimRequest) -> SimResponse:
        user = self._found(self._users, request.path_params["userId"], "user")
        return self._page(request, copy.deepcopy(user["userContactInfos"]))

    # --- invitations ----------------------------------------------------------------------------------------------
    def _user_with_email(self, email: str) -> Row | None:
        wanted = email.strip().casefold()
        return next(
            (
                user
                for user in self._users.values()
                if any(info["value"].strip().casefold() == wanted for info in user["userContactInfos"])
            ),
            None,
        )

    def _accept(self, user: Row) -> None:
        user["status"]["invitationAccepted"] = True
        user.pop("_invitationCode", None)
        self._touch(user)

    @route("POST", "/invitations")
    def post_invitation(self, request: SimRequest) -> dict[str, Any]:
        """Invite someone to this workspace. The docs show this route, the spec leaves it out but has its body
        (`Invitation`) and answer (`InvitationResponse`). Where the docs are silent: `workspaceId` must be this
        workspace (creating a workspace is not simulated) and `email` is required; the invitee is a user at once,
        with `status.invitationAccepted` false, until they accept (`POST /invitations/accept` with the code, or
        `accept_invitation`); an e-mail a user already has is 400 `duplication-violation`."""
        form = validate(request.body, INVITATION_FORM)
        if form["workspaceId"] != self.workspace["id"]:
            raise validation_failed(("WorkspaceId", "Only invitations to this workspace are simulated."))
        if self._user_with_email(form["email"]) is not None:
            raise error(400, "duplication-violation", f"A user with the e-mail '{form['email']}' exists already.")
        user = self._add_user(_guid(), form["firstName"] or "", form["lastName"] or "", form["email"])
        user["status"]["invitationAccepted"] = False
        user["_invitationCode"] = uuid.uuid4().hex
        return {"invitationCode": user["_invitationCode"], "userId": user["id"]}

    @route("POST", "/invitations/accept")
    def post_accept_invitation(self, request: SimRequest) -> SimResponse:
        """The invitee accepts with the code of the invitation (an unknown or used code is 400)."""
        code = validate(request.body, ACCEPT_INVITATION_FORM)["invitationCode"]
        user = next((u for u in self._users.values() if u.get("_invitationCode") == code), None)
        if user is None:
            raise validation_failed(("InvitationCode", "The invitation code is invalid or was used already."))
        self._accept(user)
        return SimResponse(empty=True)

    # --- types of work --------------------------------------------------------------------------------------------
    def _create_type_of_work(self, values: Mapping[str, Any]) -> Row:
        type_of_work = self._new({**values, "isArchived": False})
        self._types_of_work[type_of_work["id"]] = type_of_work
        return type_of_work

    @route("GET", "/typeofwork")
    def list_types_of_work(self, request: SimRequest) -> SimResponse:
        return self._page(request, [_public(row) for row in self._types_of_work.values()])

    @route("POST", "/typeofwork")
    def post_type_of_work(self, request: SimRequest) -> dict[str, Any]:
        return _public(self._create_type_of_work(validate(request.body, TYPE_OF_WORK_FORM)))

    # --- project templates ----------------------------------------------------------------------------------------
    @route("GET", "/projecttemplates")
    def list_templates(self, request: SimRequest) -> SimResponse:
        return self._page(request, [_public(row) for row in self._templates.values()])

    @route("GET", "/projecttemplates/{projectTemplateId}")
    def get_template(self, request: SimRequest) -> dict[str, Any]:
        template = self._found(self._templates, request.path_params["projectTemplateId"], "project template")
        return _public(template)

    # --- companies ------------------------------------------------------------------------------------------------
    def _closing_stamps(self, closed: bool) -> dict[str, Any]:
        """`closedOn`/`closedBy` of a project or task that is (now) closed, else nulls."""
        return {"closedOn": _iso(self._now()), "closedBy": self.me} if closed else {"closedOn": None, "closedBy": None}

    def _company_json(self, company: Row) -> dict[str, Any]:
        """A `Company` with its project counts ('in progress': projects whose status type is 'progress')."""
        projects = [project for project in self._projects.values() if project["companyId"] == company["id"]]
        in_progress = [p for p in projects if self._project_statuses[p["projectStatusId"]]["type"] == "progress"]
        return _public(company) | {"projectsCount": len(projects), "projectsInProgressCount": len(in_progress)}

    def _create_company(self, values: Mapping[str, Any]) -> Row:
        fields = {**values, "hasImage": False, "companyContactInfos": [], "tags": [], "isExternal": False}
        company = self._new(fields, versioned=True)
        self._companies[company["id"]] = company
        return company

    @route("GET", "/companies")
    def list_companies(self, request: SimRequest) -> SimResponse:
        return self._page(request, [self._company_json(row) for row in self._companies.values()])

    @route("POST", "/companies")
    def post_company(self, request: SimRequest) -> dict[str, Any]:
        return self._company_json(self._create_company(validate(request.body, COMPANY_FORM)))

    @route("GET", "/companies/{companyId}")
    def get_company(self, request: SimRequest) -> dict[str, Any]:
        return self._company_json(self._found(self._companies, request.path_params["companyId"], "company"))

    @route("PUT", "/companies/{companyId}")
    def put_company(self, request: SimRequest) -> dict[str, Any]:
        company = self._found(self._companies, request.path_params["companyId"], "company")
        company |= validate(request.body, COMPANY_FORM)
        self._touch(company)
        return self._company_json(company)

    # --- projects -------------------------------------------------------------------------------------------------
    def _project_json(self, project: Row) -> dict[str, Any]:
        """A `Project`: stored fields plus its status, company (only when set) and task figures."""
        status = self._project_statuses[project["projectStatusId"]]
        tasks = [self._tasks[task_id] for task_id in self._task_ids[project["id"]]]
        done = [task for task in tasks if self._task_statuses[task["taskStatusId"]]["type"] == "done"]
        planned = sum(task["plannedDuration"] for task in tasks)
        figures = {
            "projectStatus": _nested_status(status),
            "members": [self._member_json(member) for member in project["_members"]],
            "plannedDuration": planned,
            "totalPlannedDurationWithHierarchy": planned,
            "tasksCount": len(tasks),
            "tasksDoneCount": len(done),
        }
        if project["companyId"]:
            company = self._companies[project["companyId"]]
            figures["company"] = _pick(company, "id", "name", "hasImage", "description") | {"tags": []}
        return _public(project) | figures

    def _key_owner(self, key: str) -> str | None:
        return next((p["id"] for p in self._projects.values() if p["projectKey"] == key), None)

    def _claimed_key(self, requested: str, rule: re.Pattern[str], owner: str | None = None) -> str:
        """`requested` upper-cased if it fits `rule` and no other project has it; 400 otherwise
        (`validation-failed` for a malformed key, `duplication-violation` for a taken one)."""
        if not rule.fullmatch(requested):
            allowed = "letters, digits, '-' and '_'" if rule is CREATE_KEY else "A-Z, 0-9 and '-'"
            raise validation_failed(("ProjectKey", f"'ProjectKey' must be 1-32 characters of {allowed}."))
        key = requested.upper()
        if self._key_owner(key) not in (None, owner):
            raise error(400, "duplication-violation", f"The project key '{key}' is already used by another project.")
        return key

    def _generated_key(self, name: str) -> str:
        stem = _generated_key_stem(name)
        candidates = (stem if n == 1 else f"{stem}-{n}" for n in count(1))
        return next(key for key in candidates if self._key_owner(key) is None)

    def _create_project(self, values: Mapping[str, Any]) -> Row:
        """A project from a validated `ExtendedProjectForm`, with its task statuses and, when created from a
        template, copies of the template's task lists and tasks. `referenceDate*` values are accepted and unused."""
        if values["workflowId"] and values["projectTemplateId"]:
            raise validation_failed(("WorkflowId", "'WorkflowId' cannot be specified if 'ProjectTemplateId' is set."))
        self._check_references(values, self._project_references())
        template = self._templates.get(values["projectTemplateId"] or "")
        requested = values["projectKey"]
        key = self._generated_key(values["name"]) if requested is None else self._claimed_key(requested, CREATE_KEY)
        in_progress = next(s for s in self._project_statuses.values() if s["type"] == "progress")
        fields = {name: values[name] for name in PROJECT_FORM}
        project = self._new(
            fields
            | {
                "projectKey": key,
                "isBillableByDefault": _billable_by_default(values, template),
                "projectStatusId": values["projectStatusId"] or in_progress["id"],
                "projectTemplateId": values["projectTemplateId"],
                "publicProjectTemplateId": None,
                "workflowId": None,
                "hasImage": False,
                "closedOn": None,
                "closedBy": None,
                "createdByProjectTemplateId": values["projectTemplateId"],
                "tags": [],
                "trackedDuration": 0,
                "_members": [],
                "customFields": [],
                "teams": [],
                "isExternal": False,
                "isRetainer": False,
                "isMultiAssignmentAllowed": False,
            },
            versioned=True,
        )
        self._projects[project["id"]] = project
        self._task_lists[project["id"]] = {}
        self._task_ids[project["id"]] = []
        self._task_numbers[project["id"]] = count(1)
        self._add_task_statuses(project["id"], (("To do", "todo"), ("In progress", "progress"), ("Done", "done")))
        if template:
            self._copy_template(project["id"], template)
        self._notify("project_added", lambda: self._project_json(project))
        return project

    def _copy_template(self, project_id: str, template: Row) -> None:
        for list_name, task_names in template["_taskLists"].items():
            task_list = self._create_task_list(project_id, validate({"name": list_name}, TASK_LIST_FORM))
            for task_name in task_names:
                body = {"baseType": "projecttask", "entityId": project_id, "name": task_name}
                self._create_task(validate(body | {"lists": [{"id": task_list["id"]}]}, TASK_FORM))

    def _update_project(self, project: Row, values: Mapping[str, Any]) -> None:
        self._check_references(values, self._project_references())
        project |= values
        self._touch(project)
        self._notify("project_updated", lambda: self._project_json(project))

    def _delete_project(self, project_id: str, delete_time_entries: bool) -> None:
        """Remove a project with its task lists, tasks and task statuses; its time entries are deleted too, or
        kept without project and task (a change: `updatedOn` moves)."""
        self._notify("project_deleted", lambda: self._project_json(self._projects[project_id]) | self._deletion())
        for entry in [e for e in self._time_entries.values() if e["projectId"] == project_id]:
            if delete_time_entries:
                del self._time_entries[entry["id"]]
            else:
                entry |= {"projectId": None, "taskId": None}
                self._touch(entry)
        del self._projects[project_id], self._task_lists[project_id], self._task_numbers[project_id]
        for task_id in self._task_ids.pop(project_id):
            del self._tasks[task_id]
        for status_id in [s["id"] for s in self._task_statuses.values() if s["projectId"] == project_id]:
            del self._task_statuses[status_id]

    @route("GET", "/projects")
    def list_projects(self, request: SimRequest) -> SimResponse:
        projects = [self._project_json(row) for row in self._projects.values()]
        return self._page(request, projects, lambda project: {"company": None} | project)

    @route("POST", "/projects")
    def post_project(self, request: SimRequest) -> dict[str, Any]:
        return self._project_json(self._create_project(validate(request.body, NEW_PROJECT_FORM)))

    @route("GET", "/projects/{projectId}")
    def get_project(self, request: SimRequest) -> dict[str, Any]:
        return self._project_json(self._found(self._projects, request.path_params["projectId"], "project"))

    @route("PUT", "/projects/{projectId}")
    def put_project(self, request: SimRequest) -> dict[str, Any]:
        """Replace the `ProjectPutForm` fields (a left-out field is reset); the key changes via setprojectkey."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        self._update_project(project, validate(request.body, PROJECT_FORM))
        return self._project_json(project)

    @route("POST", "/projects/{projectId}/setprojectkey")
    def set_project_key(self, request: SimRequest) -> dict[str, Any]:
        """Change a project's key (A-Z, 0-9, '-'; unique); task identifiers follow at once."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        requested = validate(request.body, PROJECT_KEY_FORM)["projectKey"]
        project["projectKey"] = self._claimed_key(requested, SET_KEY, owner=project["id"])
        self._touch(project)
        self._notify("project_updated", lambda: self._project_json(project))
        return self._project_json(project)

    @route("POST", "/projects/{projectId}/delete")
    def delete_project(self, request: SimRequest) -> SimResponse:
        """204; without a body (or `deleteTimeTrackings: false`) the project's time entries are kept."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        values = validate(request.body, PROJECT_DELETE_FORM) if request.body is not None else {}
        self._delete_project(project["id"], bool(values.get("deleteTimeTrackings")))
        return SimResponse(204, empty=True)

    @route("GET", "/projectstatuses")
    def list_project_statuses(self, request: SimRequest) -> SimResponse:
        """The workspace's project statuses; `showArchived` is ignored (none are archived)."""
        return self._page(request, [_status_json(status) for status in self._project_statuses.values()])

    @route("GET", "/projects/{projectId}/projectstatuses")
    def list_statuses_of_project(self, request: SimRequest) -> SimResponse:
        """The statuses a project may take: all of the workspace's (no project types or workflows here)."""
        self._found(self._projects, request.path_params["projectId"], "project")
        return self.list_project_statuses(request)

    @route("POST", "/projects/{projectId}/changestatus")
    def change_project_status(self, request: SimRequest) -> SimResponse:
        """204; a status of type 'closed' closes the project (`closedOn`), another reopens it; the same status
        again changes nothing ("If the project is already in the specified status, nothing happens")."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        status_id = validate(request.body, PROJECT_STATUS_CHANGE_FORM)["projectStatusId"]
        status = self._referenced(self._project_statuses, status_id, "projectStatusId", "project status")
        if project["projectStatusId"] != status["id"]:
            project |= {"projectStatusId": status["id"]} | self._closing_stamps(status["type"] == "closed")
            self._touch(project)
        return SimResponse(204, empty=True)

    # --- project roles and members ------------------------------------------------------------------------------
    def _role_json(self, role: Row) -> dict[str, Any]:
        members = [m for p in self._projects.values() for m in p["_members"] if m["projectRoleId"] == role["id"]]
        return _public(role) | {"defaultProjectRoleId": None, "memberCount": len(members), "members": None}

    def _member_json(self, member: Row) -> dict[str, Any]:
        """A `ProjectMember`: the stored member with its user's names and its role's name."""
        user = self._users[member["userId"]]
        role = self._project_roles[member["projectRoleId"]]
        return _public(member) | {
            "firstName": user["firstName"],
            "lastName": user["lastName"],
            "hasImage": user["hasImage"],
            "projectRoleName": role["name"],
            "isDeactivated": user["isDeactivated"],
            "isExternal": False,
        }

    def _member(self, project: Row, user_id: str) -> Row:
        """The project's member of this user, else 400 `validation-failed` (the spec declares no 404 for it)."""
        member = next((m for m in project["_members"] if m["userId"] == user_id), None)
        if member is None:
            raise validation_failed(("UserId", f"The user '{user_id}' is not a member of this project."))
        return member

    def _set_member(self, project: Row, values: Mapping[str, Any], member: Row | None) -> Row:
        """Add (`member` None) or update a member by a validated `ProjectMemberForm`, under awork's rules."""
        self._referenced(self._users, values["userId"], "userId", "user")
        self._referenced(self._project_roles, values["projectRoleId"], "projectRoleId", "project role")
        others = [m for m in project["_members"] if m is not member]
        if member is None and any(m["userId"] == values["userId"] for m in others):
            raise error(400, "duplication-violation", "The user is already a member of this project.")
        if values["isResponsible"] and any(m["isResponsible"] for m in others):
            raise validation_failed(("IsResponsible", "Another member of this project is responsible already."))
        if member is None:
            member = {"id": _guid(), "userId": values["userId"]}
            project["_members"].append(member)
        member |= {"projectRoleId": values["projectRoleId"], "isResponsible": values["isResponsible"]}
        self._touch(project)
        return member

    @route("GET", "/projectroles")
    def list_project_roles(self, request: SimRequest) -> SimResponse:
        """The workspace's project roles; `includeMembers` is ignored (`members` is always null)."""
        return self._page(request, [self._role_json(role) for role in self._project_roles.values()])

    @route("GET", "/projects/{projectId}/members")
    def list_project_members(self, request: SimRequest) -> list[dict[str, Any]]:
        """Every member, in the order they were added (the spec declares no paging for this list)."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        return [self._member_json(member) for member in project["_members"]]

    @route("POST", "/projects/{projectId}/addprojectmember")
    def add_project_member_endpoint(self, request: SimRequest) -> dict[str, Any]:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        return self._member_json(self._set_member(project, validate(request.body, PROJECT_MEMBER_FORM), None))

    @route("POST", "/projects/{projectId}/updateprojectmember")
    def update_project_member(self, request: SimRequest) -> dict[str, Any]:
        """Change a member's role and whether they are responsible."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        values = validate(request.body, PROJECT_MEMBER_FORM)
        return self._member_json(self._set_member(project, values, self._member(project, values["userId"])))

    @route("POST", "/projects/{projectId}/removeprojectmember")
    def remove_project_member(self, request: SimRequest) -> SimResponse:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        member = self._member(project, validate(request.body, PROJECT_MEMBER_REMOVE_FORM)["userId"])
        project["_members"].remove(member)
        self._touch(project)
        return SimResponse(204, empty=True)

    # --- task statuses ----------------------------------------------------------------------------------------------
    def _add_task_statuses(self, project_id: str | None, statuses: Sequence[tuple[str, str]]) -> None:
        """Task statuses of a project (None: of private tasks), in order."""
        for order, (name, status_type) in enumerate(statuses, start=1):
            status = self._new({"name": name, "type": status_type, "order": float(order), "icon": None})
            status |= {"projectId": project_id, "projectTypeId": None, "workflowId": None, "isExternal": False}
            self._task_statuses[status["id"]] = status

    def _task_status(self, project_id: str | None, status_id: str | None) -> Row:
        """The given status, which must belong to the task's project, else the project's first 'todo' status."""
        statuses = [s for s in self._task_statuses.values() if s["projectId"] == project_id]
        if status_id is None:
            return next(s for s in statuses if s["type"] == "todo")
        valid = {s["id"]: s for s in statuses}
        return self._referenced(valid, status_id, "taskStatusId", "task status of this project")

    @route("GET", "/projects/{projectId}/taskstatuses")
    def list_task_statuses(self, request: SimRequest) -> SimResponse:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        statuses = [s for s in self._task_statuses.values() if s["projectId"] == project["id"]]
        return self._page(request, [_public(status) for status in statuses])

    @route("POST", "/tasks/changestatuses")
    def change_task_statuses(self, request: SimRequest) -> SimResponse:
        """204 once every task has its new status; each status must belong to its task's project."""
        if not isinstance(request.body, list):
            raise validation_failed(("", "A list of status changes is required."))
        changes = [validate(item, TASK_STATUS_CHANGE_FORM) for item in request.body]
        found = []
        for change in changes:
            task = self._referenced(self._tasks, change["taskId"], "taskId", "task")
            found.append((task, self._task_status(task["projectId"], change["statusId"])))
        for task, status in found:
            if task["taskStatusId"] != status["id"]:
                task |= {"taskStatusId": status["id"]} | self._closing_stamps(status["type"] == "done")
                self._touch(task)
        return SimResponse(204, empty=True)

    # --- task lists -----------------------------------------------------------------------------------------------
    def _task_list_json(self, project_id: str, task_list: Row) -> dict[str, Any]:
        """A `TaskList` with the planned durations of its tasks summed."""
        tasks = [self._tasks[task_id] for task_id in self._task_ids[project_id]]
        planned = sum(task["plannedDuration"] for task in tasks if task_list["id"] in task["_lists"])
        sums = {
            "plannedDuration": planned,
            "totalPlannedDuration": planned,
            "totalPlannedDurationWithHierarchy": planned,
        }
        return _public(task_list) | sums

    def _create_task_list(self, project_id: str, values: Mapping[str, Any]) -> Row:
        """A task list; without an `order` it goes after the project's last list."""
        lists = self._task_lists[project_id]
        order = values["order"]
        if order is None:
            order = max((each["order"] for each in lists.values()), default=0) + 1
        fields = {"name": values["name"], "order": order, "isArchived": False}
        task_list = self._new(
            fields | {"isHiddenForConnectUsers": values["isHiddenForConnectUsers"], "trackedDuration": 0}
        )
        lists[task_list["id"]] = task_list
        return task_list

    @route("GET", "/projects/{projectId}/tasklists")
    def list_task_lists(self, request: SimRequest) -> SimResponse:
        """The project's task lists; `showArchived` is ignored (lists cannot be archived here)."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        lists = self._task_lists[project["id"]].values()
        return self._page(request, [self._task_list_json(project["id"], row) for row in lists])

    @route("POST", "/projects/{projectId}/tasklists")
    def post_task_list(self, request: SimRequest) -> dict[str, Any]:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        task_list = self._create_task_list(project["id"], validate(request.body, TASK_LIST_FORM))
        return self._task_list_json(project["id"], task_list)

    @route("GET", "/projects/{projectId}/tasklists/{taskListId}")
    def get_task_list(self, request: SimRequest) -> dict[str, Any]:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        task_list = self._task_list(project["id"], request.path_params["taskListId"])
        return self._task_list_json(project["id"], task_list)

    @route("PUT", "/projects/{projectId}/tasklists/{taskListId}")
    def put_task_list(self, request: SimRequest) -> dict[str, Any]:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        task_list = self._task_list(project["id"], request.path_params["taskListId"])
        task_list |= validate(request.body, TASK_LIST_PUT_FORM)
        self._touch(task_list)
        return self._task_list_json(project["id"], task_list)

    @route("POST", "/projects/{projectId}/tasklists/{taskListId}/addtasks")
    def add_tasks_to_list(self, request: SimRequest) -> list[dict[str, Any]]:
        """Put tasks of the project into the list (a task already there is moved to the given order); answers one
        `{id: list id, order: order of the task}` per task. A task of another project is 400."""
        project = self._found(self._projects, request.path_params["projectId"], "project")
        task_list = self._task_list(project["id"], request.path_params["taskListId"])
        if not isinstance(request.body, list):
            raise validation_failed(("", "A list of tasks is required."))
        entries = [validate(entry, TASK_TO_LIST_FORM) for entry in request.body]
        tasks = [self._sibling(project["id"], entry["taskId"], "taskId") for entry in entries]
        results = []
        for task, entry in zip(tasks, entries, strict=True):
            order = self._place_in_list(project["id"], task, task_list["id"], entry["order"])
            self._touch(task)
            results.append({"id": task_list["id"], "order": order})
        return results

    def _place_in_list(self, project_id: str, task: Row, list_id: str, order: float | None) -> float:
        """Put `task` into a list at `order`, or after the list's last task; returns the order used."""
        if order is None:
            orders = [self._tasks[t]["_lists"].get(list_id) for t in self._task_ids[project_id] if t != task["id"]]
            order = max((o for o in orders if o is not None), default=0) + 1
        task["_lists"][list_id] = order
        return order

    # --- tasks ------------------------------------------------------------------------------------------------------
    def _task_json(self, task: Row) -> dict[str, Any]:
        """A `TaskModel`: stored fields plus identifier, status, type of work, project and lists."""
        project = self._projects.get(task["projectId"] or "")
        type_of_work = self._types_of_work[task["typeOfWorkId"]]
        computed = {
            "taskIdentifier": f"{project['projectKey']}-{task['taskNumber']}" if project else None,
            "taskStatus": _public(self._task_statuses[task["taskStatusId"]]),
            "typeOfWork": _pick(type_of_work, "id", "name", "icon", "isArchived"),
            "isSubtask": task["parentId"] is not None,
            "totalPlannedDuration": task["plannedDuration"],
            "lists": [self._task_order_list(task, list_id, order) for list_id, order in task["_lists"].items()],
        }
        if project:
            computed["project"] = self._nested_project(project)
        return _public(task) | computed

    def _task_order_list(self, task: Row, list_id: str, order: float) -> dict[str, Any]:
        task_list = self._task_lists[task["projectId"]][list_id]
        nested = {key: value for key, value in _public(task_list).items() if key != "trackedDuration"}
        empty_sums = dict.fromkeys(("plannedDuration", "totalPlannedDuration", "totalPlannedDurationWithHierarchy"))
        return nested | empty_sums | {"orderOfTask": order}

    def _nested_project(self, project: Row) -> dict[str, Any]:
        """`NestedProjectModelForTasks`."""
        status = self._project_statuses[project["projectStatusId"]]
        nested = _pick(project, "id", "name", "projectKey", "companyId", "hasImage", "isPrivate", "color", "createdBy")
        nested |= _pick(project, "isBillableByDefault", "isExternal")
        nested |= {"members": [], "teams": [], "customFields": []}
        nested["projectStatus"] = _pick(status, "id", "name", "description", "type", "isArchived")
        if project["companyId"]:
            nested["company"] = _pick(self._companies[project["companyId"]], "id", "name", "hasImage", "description")
        return nested

    def _task_owner(self, values: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(project id, user id) of a new task: a project task's entityId must be an existing project; a private
        task's entityId is a user (default: the API user) and it cannot be put into task lists."""
        if values["baseType"] == "projecttask":
            if values["entityId"] is None:
                raise validation_failed(("EntityId", "'EntityId' must be the project id of a project task."))
            return self._referenced(self._projects, values["entityId"], "entityId", "project")["id"], None
        if values["lists"]:
            raise validation_failed(("Lists", "A private task cannot be added to task lists."))
        return None, self._referenced(self._users, values["entityId"] or self.me, "entityId", "user")["id"]

    def _sibling(self, project_id: str | None, task_id: str, prop: str) -> Row:
        """A task of the same project (or, for private tasks, another private task), else 400 naming `prop`."""
        siblings = {each: self._tasks[each] for each in self._task_ids[project_id]}
        return self._referenced(siblings, task_id, prop, "task in the same project")

    def _list_assignments(self, project_id: str | None, entries: Sequence[Any]) -> list[dict[str, Any]]:
        """The validated `lists` of a new task; each must be a task list of its project."""
        assignments = [validate(entry, LIST_ASSIGNMENT_FORM) for entry in entries]
        for assignment in assignments:
            self._referenced(self._task_lists[project_id], assignment["id"], "lists", "task list of the project")
        return assignments

    def _create_task(self, values: Mapping[str, Any]) -> Row:
        """A task from a validated `GeneralTaskPostForm`. Defaults: the first type of work, the project's first
        'todo' status, `order` after the project's (or the private) tasks, each list's `order` after its tasks."""
        project_id, user_id = self._task_owner(values)
        parent = self._sibling(project_id, values["parentId"], "parentId") if values["parentId"] else None
        assignments = self._list_assignments(project_id, values["lists"])
        type_of_work_id = values["typeOfWorkId"] or next(iter(self._types_of_work))
        self._referenced(self._types_of_work, type_of_work_id, "typeOfWorkId", "type of work")
        editable = {name: values[name] for name in TASK_PUT_FORM}
        task = self._new(
            editable
            | {
                "taskNumber": next(self._task_numbers[project_id]) if project_id else None,
                "isExternal": False,
                "createdVia": None,
                "isHiddenForConnectUsers": False,
                "baseType": values["baseType"],
                "taskStatusId": self._task_status(project_id, values["taskStatusId"])["id"],
                "typeOfWorkId": type_of_work_id,
                "assignees": [],
                "projectId": project_id,
                "parentId": values["parentId"],
                "numberOfSubtasks": 0,
                "hasAttachment": False,
                "entityId": project_id or user_id,
                "userId": user_id,
                "tags": [],
                "closedOn": None,
                "closedBy": None,
                "order": values["order"] if values["order"] is not None else len(self._task_ids[project_id]) + 1.0,
                "subtaskOrder": values["subtaskOrder"],
                "createdFromTaskId": None,
                "isRecurring": False,
                "customFields": [],
                "trackedDuration": 0,
                "totalTrackedDuration": 0,
                "checklistItemsDoneCount": 0,
                "checklistItemsCount": 0,
                "taskSchedulesCount": 0,
                "isCompletelyScheduled": False,
                "commentCount": 0,
                "_lists": {},
            },
            versioned=True,
        )
        task["correlationId"] = values["parentId"] or task["id"]
        if parent:
            parent["numberOfSubtasks"] += 1
        self._tasks[task["id"]] = task
        self._task_ids[project_id].append(task["id"])
        for assignment in assignments:
            self._place_in_list(project_id, task, assignment["id"], assignment["order"])
        return task

    @route("GET", "/projects/{projectId}/projecttasks")
    def list_project_tasks(self, request: SimRequest) -> SimResponse:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        return self._page(request, [self._task_json(self._tasks[t]) for t in self._task_ids[project["id"]]])

    @route("POST", "/tasks")
    def post_task(self, request: SimRequest) -> dict[str, Any]:
        return self._task_json(self._create_task(validate(request.body, TASK_FORM)))

    @route("GET", "/tasks/{taskId}")
    def get_task(self, request: SimRequest) -> dict[str, Any]:
        return self._task_json(self._found(self._tasks, request.path_params["taskId"], "task"))

    @route("PUT", "/tasks/{taskId}")
    def put_task(self, request: SimRequest) -> dict[str, Any]:
        """Replace the `GeneralTaskForm` fields (name, description, isPrio, startOn, dueOn, laneOrder,
        plannedDuration); a left-out field is reset."""
        task = self._found(self._tasks, request.path_params["taskId"], "task")
        task |= validate(request.body, TASK_PUT_FORM)
        self._touch(task)
        return self._task_json(task)

    # --- time entries -----------------------------------------------------------------------------------------------
    def _time_entry_json(self, entry: Row) -> dict[str, Any]:
        """A `TimeTracking`: the stored fields, the date/time split of start and end in UTC and in the entry's
        time zone, and the nested type of work, user, task and project (the last two only when set)."""
        start = entry["_start"]
        zone = _zone(entry["timezone"])
        type_of_work = self._types_of_work[entry["typeOfWorkId"]]
        body = _pick(entry, "isBillable", "isBilled", "taskId", "projectId", "note")
        body |= _date_time_fields(start, zone, "start")
        body |= _date_time_fields(start + timedelta(seconds=entry["duration"]), zone, "end")
        body |= _pick(entry, "timezone", "duration") | {"breakDuration": 0}
        body |= _pick(entry, "typeOfWorkId", "userId", "id", "createdBy", "createdOn", "updatedBy", "updatedOn")
        body["typeOfWork"] = _pick(type_of_work, "id", "name", "icon", "isArchived")
        user = self._users.get(entry["userId"] or "")
        if user:
            body["user"] = _pick(user, "id", "firstName", "lastName", "hasImage", "isExternal")
        if entry["taskId"]:
            body["task"] = self._task_for_time_tracking(self._tasks[entry["taskId"]])
        if entry["projectId"]:
            body["project"] = self._project_for_time_tracking(self._projects[entry["projectId"]])
        return body | {"breaks": [], "resourceVersion": entry["resourceVersion"], "isExternal": entry["isExternal"]}

    def _task_for_time_tracking(self, task: Row) -> dict[str, Any]:
        """`TaskModelForTimeTrackings`."""
        project = self._projects.get(task["projectId"] or "")
        status = self._task_statuses[task["taskStatusId"]]
        nested = _pick(task, "id", "name", "baseType")
        nested["taskIdentifier"] = f"{project['projectKey']}-{task['taskNumber']}" if project else None
        nested |= _pick(task, "taskStatusId", "typeOfWorkId", "projectId", "plannedDuration", "closedOn")
        nested |= _pick(task, "createdBy", "correlationId", "parentId")
        nested["taskStatus"] = _pick(status, "id", "name", "type", "order", "icon")
        if project:
            nested["project"] = self._project_for_time_tracking(project)
        if task["parentId"]:
            nested["parentTask"] = _pick(self._tasks[task["parentId"]], "id", "name")
        return nested

    def _project_for_time_tracking(self, project: Row) -> dict[str, Any]:
        """`ProjectModelForTimeTrackings` (no `projectType`: project types are not simulated)."""
        status = self._project_statuses[project["projectStatusId"]]
        nested = _pick(project, "id", "name", "projectKey", "isPrivate", "hasImage", "isExternal")
        nested |= _pick(project, "isBillableByDefault", "createdBy")
        nested["projectStatus"] = _pick(status, "id", "name", "description", "type", "isArchived")
        if project["companyId"]:
            nested["company"] = _pick(self._companies[project["companyId"]], "id", "name", "hasImage", "description")
        return nested

    def _checked_time_entry(self, values: Mapping[str, Any], start: datetime, duration: int) -> dict[str, Any]:
        """The stored fields of a time entry from a validated form: references checked, the project taken from
        the task when not given, `isBillable` defaulted from the project."""
        self._referenced(self._types_of_work, values["typeOfWorkId"], "typeOfWorkId", "type of work")
        self._referenced(self._users, values["userId"], "userId", "user")
        project = None
        if values["projectId"] is not None:
            project = self._referenced(self._projects, values["projectId"], "projectId", "project")
        if values["taskId"] is not None:
            task = self._referenced(self._tasks, values["taskId"], "taskId", "task")
            if project is None and task["projectId"] is not None:
                project = self._projects[task["projectId"]]
            if task["projectId"] != (project["id"] if project else None):
                raise validation_failed(("TaskId", "The task does not belong to the project of the time entry."))
        billable = values["isBillable"]
        if billable is None:
            billable = bool(project and project["isBillableByDefault"])
        fields = {name: values[name] for name in TIME_ENTRY_FIELDS}
        fields |= {"projectId": project["id"] if project else None, "isBillable": billable, "duration": duration}
        return fields | {"_start": start}

    def _track(self, entry: Row, sign: int) -> None:
        """Add (`sign` 1) or remove (-1) an entry's duration to the tracked durations of its project and task."""
        seconds = sign * entry["duration"]
        if entry["projectId"] in self._projects:
            self._projects[entry["projectId"]]["trackedDuration"] += seconds
        if entry["taskId"] in self._tasks:
            task = self._tasks[entry["taskId"]]
            task["trackedDuration"] += seconds
            task["totalTrackedDuration"] += seconds

    def _create_time_entry(self, values: Mapping[str, Any]) -> Row:
        """A time entry from a validated `TimeEntryPostForm`."""
        start, duration = _time_span(values, _zone(values["timezone"]))
        entry = self._new(self._checked_time_entry(values, start, duration) | {"isExternal": False}, versioned=True)
        self._time_entries[entry["id"]] = entry
        self._track(entry, 1)
        self._notify("timetracking_added", lambda: self._time_entry_json(entry))
        return entry

    def _update_time_entry(self, entry: Row, values: Mapping[str, Any]) -> None:
        """Replace a time entry's fields from a validated `TimeTrackingPutForm` (see the module docstring)."""
        start, duration = _time_span(values, _zone(values["timezone"]), keep=(entry["_start"], entry["duration"]))
        values = {**values, "userId": values["userId"] or entry["userId"]}
        fields = self._checked_time_entry(values, start, duration)
        self._track(entry, -1)
        entry |= fields
        self._track(entry, 1)
        self._touch(entry)
        self._notify("timetracking_updated", lambda: self._time_entry_json(entry))

    def _delete_time_entry(self, entry: Row) -> None:
        self._notify("timetracking_deleted", lambda: self._time_entry_json(entry) | self._deletion())
        self._track(entry, -1)
        del self._time_entries[entry["id"]]

    def _time_entry_page(self, request: SimRequest, entries: Iterable[Row]) -> SimResponse:
        return self._page(request, list(entries), _time_entry_view, self._time_entry_json)

    @route("GET", "/timeentries")
    def list_time_entries(self, request: SimRequest) -> SimResponse:
        """All time entries (`searchReindex` is ignored)."""
        return self._time_entry_page(request, self._time_entries.values())

    @route("POST", "/timeentries")
    def post_time_entry(self, request: SimRequest) -> dict[str, Any]:
        return self._time_entry_json(self._create_time_entry(validate(request.body, TIME_ENTRY_POST_FORM)))

    @route("GET", "/timeentries/{timeEntryId}")
    def get_time_entry(self, request: SimRequest) -> dict[str, Any]:
        entry = self._found(self._time_entries, request.path_params["timeEntryId"], "time entry")
        return self._time_entry_json(entry)

    @route("PUT", "/timeentries/{timeEntryId}")
    def put_time_entry(self, request: SimRequest) -> dict[str, Any]:
        entry = self._found(self._time_entries, request.path_params["timeEntryId"], "time entry")
        self._update_time_entry(entry, validate(request.body, TIME_ENTRY_PUT_FORM))
        return self._time_entry_json(entry)

    @route("DELETE", "/timeentries/{timeEntryId}")
    def delete_time_entry_endpoint(self, request: SimRequest) -> SimResponse:
        """204; billed entries too (the API key has admin rights)."""
        self._delete_time_entry(self._found(self._time_entries, request.path_params["timeEntryId"], "time entry"))
        return SimResponse(204, empty=True)

    @route("GET", "/projects/{projectId}/timeentries")
    def list_project_time_entries(self, request: SimRequest) -> SimResponse:
        project = self._found(self._projects, request.path_params["projectId"], "project")
        entries = (entry for entry in self._time_entries.values() if entry["projectId"] == project["id"])
        return self._time_entry_page(request, entries)

    # --- absences -------------------------------------------------------------------------------------------------
    def _absence_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The stored fields of an absence from a validated `AbsenceForm`: whole days (the time of `startOn` and
        `endOn` is ignored, as the spec says: the UTC date counts), the end not before the start, an existing user.
        `isReadOnly` follows `externalProvider` (people cannot change an externally managed absence; the API key
        can)."""
        self._referenced(self._users, values["userId"], "userId", "user")
        first, last = (_parse_instant(values[name]).date() for name in ("startOn", "endOn"))
        if last < first:
            raise validation_failed(("EndOn", "'EndOn' must not be before 'StartOn'."))
        fields = dict(values) | {"startOn": _form_value(first), "endOn": _form_value(last)}
        return fields | {"deletedOn": None, "deletedBy": None, "isReadOnly": values["externalProvider"] is not None}

    def _create_absence(self, values: Mapping[str, Any]) -> Row:
        absence = self._new(self._absence_fields(values))
        self._absences[absence["id"]] = absence
        self._notify("absence_added", lambda: _public(absence))
        return absence

    @route("GET", "/absences")
    def list_absences(self, request: SimRequest) -> SimResponse:
        """Every user's absences (the API key is an admin), in creation order unless `orderby` says otherwise; a
        deleted absence is gone (lists never show it again)."""
        return self._page(request, [_public(row) for row in self._absences.values()])

    @route("POST", "/absences")
    def post_absence(self, request: SimRequest) -> dict[str, Any]:
        return _public(self._create_absence(validate(request.body, ABSENCE_FORM)))

    @route("GET", "/absences/{absenceId}")
    def get_absence(self, request: SimRequest) -> dict[str, Any]:
        return _public(self._found(self._absences, request.path_params["absenceId"], "absence"))

    @route("PUT", "/absences/{absenceId}")
    def put_absence(self, request: SimRequest) -> dict[str, Any]:
        """Replace the `AbsenceForm` (a left-out field is reset)."""
        absence = self._found(self._absences, request.path_params["absenceId"], "absence")
        absence |= self._absence_fields(validate(request.body, ABSENCE_FORM))
        self._touch(absence)
        self._notify("absence_updated", lambda: _public(absence))
        return _public(absence)

    @route("DELETE", "/absences/{absenceId}")
    def delete_absence_endpoint(self, request: SimRequest) -> SimResponse:
        absence = self._absences.pop(self._found(self._absences, request.path_params["absenceId"], "absence")["id"])
        self._notify("absence_deleted", lambda: _public(absence) | self._deletion())
        return SimResponse(204, empty=True)

    # --- webhooks -------------------------------------------------------------------------------------------------
    def _webhook_json(self, webhook: Row) -> dict[str, Any]:
        return _public(webhook)

    def _webhook_values(self, request: SimRequest) -> dict[str, Any]:
        """A validated `WebhookConfigForm`: known event types, and `name=value` for header authentication."""
        values = validate(request.body, WEBHOOK_FORM)
        unknown = [event for event in values["events"].split(",") if event.strip() not in WEBHOOK_EVENT_TYPES]
        if unknown:
            raise validation_failed(("Events", f"Unknown event types: {', '.join(unknown)}."))
        name, equals, _ = (values["authentication"] or "").partition("=")
        if values["authenticationType"] == "header" and not (name.strip() and equals):
            raise validation_failed(("Authentication", "'Authentication' must be 'headername=headervalue'."))
        return values

    @route("GET", "/webhooks")
    def list_webhooks(self, request: SimRequest) -> SimResponse:
        return self._page(request, [self._webhook_json(webhook) for webhook in self._webhooks.values()])

    @route("POST", "/webhooks")
    def post_webhook(self, request: SimRequest) -> dict[str, Any]:
        webhook = self._new(self._webhook_values(request) | {"receiverType": "custom", "lastFailureReason": None})
        self._webhooks[webhook["id"]] = webhook | {"_logs": [], "_failures": 0}
        return self._webhook_json(webhook)

    @route("GET", "/webhooks/eventtypes")
    def list_webhook_event_types(self, request: SimRequest) -> list[str]:
        return list(WEBHOOK_EVENT_TYPES)

    @route("GET", "/webhooks/{webhookId}")
    def get_webhook(self, request: SimRequest) -> dict[str, Any]:
        return self._webhook_json(self._found(self._webhooks, request.path_params["webhookId"], "webhook"))

    @route("PUT", "/webhooks/{webhookId}")
    def put_webhook(self, request: SimRequest) -> dict[str, Any]:
        """Replace the form; re-activating a paused webhook starts its failure count anew."""
        webhook = self._found(self._webhooks, request.path_params["webhookId"], "webhook")
        webhook |= self._webhook_values(request) | {"_failures": 0}
        self._touch(webhook)
        return self._webhook_json(webhook)

    @route("DELETE", "/webhooks/{webhookId}")
    def delete_webhook(self, request: SimRequest) -> SimResponse:
        del self._webhooks[self._found(self._webhooks, request.path_params["webhookId"], "webhook")["id"]]
        return SimResponse(204, empty=True)

    @route("GET", "/webhooks/{webhookId}/logs")
    def list_webhook_logs(self, request: SimRequest) -> SimResponse:
        webhook = self._found(self._webhooks, request.path_params["webhookId"], "webhook")
        return self._page(request, list(webhook["_logs"]))

    def _deletion(self) -> dict[str, Any]:
        """The deletion metadata a deleted entity carries in its webhook payload."""
        return {"deletedOn": _iso(self._now()), "deletedBy": self.me}

    def _notify(self, event_type: str, render: Callable[[], dict[str, Any]]) -> None:
        """Post `event_type` of an entity (`render` gives its JSON) to every active webhook subscribed to it."""
        webhooks = [
            webhook
            for webhook in self._webhooks.values()
            if webhook["isActive"] and event_type in {e.strip() for e in webhook["events"].split(",")}
        ]
        if not webhooks:
            return
        entity = render()
        entity_type = event_type.rsplit("_", 1)[0]
        link = f"https://{self.workspace['url']}.awork.com/{entity_type}s/{entity['id']}"
        me = self._users[self.me]
        payload = {
            "timestamp": _iso(self._now()),
            "eventType": event_type,
            "entity": entity,
            "entityId": entity["id"],
            "entityType": entity_type,
            "entityLink": link,
            "traceId": uuid.uuid4().hex,
            "triggeredBy": _pick(me, "id", "firstName", "lastName"),
            "changes": [],
        }
        body = json.dumps(payload).encode()
        for webhook in webhooks:
            headers = {"Content-Type": "application/json; charset=utf-8"}
            if webhook["authenticationType"] == "header":
                name, _, value = webhook["authentication"].partition("=")
                headers[name.strip()] = value
            on_attempt = functools.partial(self._delivered, webhook["id"])
            self.deliveries.send(Delivery(webhook["uri"], lambda h=headers: (body, h), on_attempt))

    def _delivered(self, webhook_id: str, attempt: DeliveryAttempt) -> None:
        """Log an attempt on its webhook; a failure is its `lastFailureReason`, too many in a row pause it."""
        with self.lock:
            webhook = self._webhooks.get(webhook_id)
            if webhook is None:
                return
            log = {"message": attempt.body.decode(), "webhookId": webhook_id, "responseCode": attempt.status or 0}
            log |= {"createdOn": _iso(self._now()), "reason": None if attempt.succeeded else attempt.reason}
            webhook["_logs"].append(log | {"isSuccessful": attempt.succeeded})
            webhook["_failures"] = 0 if attempt.succeeded else webhook["_failures"] + 1
            if not attempt.succeeded:
                webhook["lastFailureReason"] = attempt.reason
            if webhook["_failures"] > WEBHOOK_MAX_FAILURES:
                webhook["isActive"] = False

    # --- direct Python API (tests, demo seeding; not logged) -------------------------------------------------------
    @_locked
    def add_template(self, name: str, *, task_lists: Mapping[str, Sequence[str]] = _NO_LISTS) -> dict[str, Any]:
        """A project template (`isBillableByDefault` 'auto') whose projects get these task lists and tasks."""
        template = self._new(
            {
                "name": name,
                "description": None,
                "isBillableByDefault": "auto",
                "defaultTaskListIdForEmails": None,
                "hasImage": False,
                "copyImageToProjectOnCreation": False,
                "projectTypeId": None,
                "workflowId": None,
                "timeBudget": 0,
                "hasRelativeTasks": False,
                "_taskLists": {list_name: list(tasks) for list_name, tasks in task_lists.items()},
            }
        )
        self._templates[template["id"]] = template
        return _public(template)

    @_locked
    def add_company(self, name: str) -> dict[str, Any]:
        return self._company_json(self._create_company(validate({"name": name}, COMPANY_FORM)))

    @_locked
    def add_project(
        self,
        name: str,
        *,
        project_key: str | None = None,
        company_id: str | None = None,
        start_date: date | None = None,
        due_date: date | None = None,
    ) -> dict[str, Any]:
        """A project, by the rules of `POST /projects` (raises SimError like the endpoint answers)."""
        body = {"name": name, "projectKey": project_key, "companyId": company_id}
        body |= {"startDate": _form_value(start_date), "dueDate": _form_value(due_date)}
        return self._project_json(self._create_project(validate(body, NEW_PROJECT_FORM)))

    @_locked
    def add_type_of_work(self, name: str) -> dict[str, Any]:
        return _public(self._create_type_of_work(validate({"name": name}, TYPE_OF_WORK_FORM)))

    @_locked
    def add_user(self, first_name: str, last_name: str, email: str | None) -> dict[str, Any]:
        """An active workspace member with a work e-mail in `userContactInfos` (none when `email` is None)."""
        return _public(self._add_user(_guid(), first_name, last_name, email))

    @_locked
    def accept_invitation(self, email: str) -> dict[str, Any]:
        """The invitee of `email` accepts the invitation (as the link in awork's e-mail would); returns the user."""
        user = self._user_with_email(email)
        if user is None or "_invitationCode" not in user:
            raise error(404, "not-found", f"There is no open invitation for {email}.")
        self._accept(user)
        return _public(user)

    @_locked
    def users(self) -> list[dict[str, Any]]:
        return [_public(user) for user in self._users.values()]

    @_locked
    def types_of_work(self) -> list[dict[str, Any]]:
        return [_public(row) for row in self._types_of_work.values()]

    @_locked
    def add_time_entry(
        self,
        *,
        user_id: str,
        start: datetime,
        duration: int,
        project_id: str | None = None,
        task_id: str | None = None,
        type_of_work_id: str | None = None,
        note: str | None = None,
        is_billable: bool | None = None,
        timezone: str = "Europe/Berlin",
    ) -> dict[str, Any]:
        """A time entry as a user would track it, by the rules of `POST /timeentries` (raises SimError like the
        endpoint answers): `start` is an aware datetime in any zone, the type of work defaults to the first one,
        `is_billable` None follows the project. Returns the `TimeTracking` JSON."""
        body = {"userId": user_id, "projectId": project_id, "taskId": task_id, "note": note, "timezone": timezone}
        body |= {"typeOfWorkId": type_of_work_id or next(iter(self._types_of_work)), "isBillable": is_billable}
        body |= {"startDateUtc": _iso(_aware(start)), "duration": duration}
        return self._time_entry_json(self._create_time_entry(validate(body, TIME_ENTRY_POST_FORM)))

    @_locked
    def update_time_entry(self, time_entry_id: str, **fields: Any) -> dict[str, Any]:
        """Change some fields of a time entry as a user would in awork: JSON names (`duration`, `note`,
        `isBillable`, `isBilled`, `projectId`, `taskId`, `typeOfWorkId`, `userId`, `timezone`) and `start` (an
        aware datetime); the others keep their values. A new project without a `taskId` drops a task of the old
        project. Raises SimError on invalid values. Returns the `TimeTracking` JSON."""
        entry = self._found(self._time_entries, time_entry_id, "time entry")
        unknown = set(fields) - set(TIME_ENTRY_FIELDS) - {"start"}
        if unknown:
            raise TypeError(f"update_time_entry() got fields a time entry does not have: {sorted(unknown)}")
        start = _aware(fields.pop("start", entry["_start"]))
        body = {name: entry[name] for name in TIME_ENTRY_FIELDS} | fields | {"startDateUtc": _iso(start)}
        task = self._tasks.get(body["taskId"] or "")
        if "projectId" in fields and "taskId" not in fields and task and task["projectId"] != body["projectId"]:
            body["taskId"] = None
        self._update_time_entry(entry, validate(body, TIME_ENTRY_PUT_FORM))
        return self._time_entry_json(entry)

    @_locked
    def delete_time_entry(self, time_entry_id: str) -> None:
        self._delete_time_entry(self._found(self._time_entries, time_entry_id, "time entry"))

    @_locked
    def add_absence(
        self,
        *,
        user_id: str,
        first_day: date,
        last_day: date,
        description: str | None = None,
        external_provider: str | None = None,
        half_day_on_start: bool = False,
        half_day_on_end: bool = False,
    ) -> dict[str, Any]:
        """An absence as a person enters it in awork (no `external_provider`) or a tool writes it, by the rules of
        `POST /absences` (raises SimError like the endpoint answers). Returns the `Absence` JSON."""
        body = {"userId": user_id, "startOn": _form_value(first_day), "endOn": _form_value(last_day)}
        body |= {"description": description, "externalProvider": external_provider}
        body |= {"isHalfDayOnStart": half_day_on_start, "isHalfDayOnEnd": half_day_on_end}
        return _public(self._create_absence(validate(body, ABSENCE_FORM)))

    @_locked
    def absences(self) -> list[dict[str, Any]]:
        return [_public(row) for row in self._absences.values()]

    @_locked
    def time_entries(self) -> list[dict[str, Any]]:
        return [self._time_entry_json(entry) for entry in self._time_entries.values()]

    @_locked
    def projects(self) -> list[dict[str, Any]]:
        return [self._project_json(project) for project in self._projects.values()]

    @_locked
    def project(self, project_id: str) -> dict[str, Any]:
        return self._project_json(self._found(self._projects, project_id, "project"))

    @_locked
    def companies(self) -> list[dict[str, Any]]:
        return [self._company_json(company) for company in self._companies.values()]

    @_locked
    def templates(self) -> list[dict[str, Any]]:
        return [_public(template) for template in self._templates.values()]

    @_locked
    def task_lists(self, project_id: str) -> list[dict[str, Any]]:
        project = self._found(self._projects, project_id, "project")
        return [self._task_list_json(project["id"], row) for row in self._task_lists[project["id"]].values()]

    @_locked
    def project_tasks(self, project_id: str) -> list[dict[str, Any]]:
        project = self._found(self._projects, project_id, "project")
        return [self._task_json(self._tasks[task_id]) for task_id in self._task_ids[project["id"]]]

    @_locked
    def project_members(self, project_id: str) -> list[dict[str, Any]]:
        return [self._member_json(member) for member in self._found(self._projects, project_id, "project")["_members"]]

    @_locked
    def add_project_member(self, project_id: str, user_id: str, *, responsible: bool = False) -> dict[str, Any]:
        """Add a member by hand, in the default role (by the rules of `addprojectmember`)."""
        project = self._found(self._projects, project_id, "project")
        role = next(role for role in self._project_roles.values() if role["isDefault"])
        values = {"userId": user_id, "projectRoleId": role["id"], "isResponsible": responsible}
        return self._member_json(self._set_member(project, values, None))

    @_locked
    def task(self, task_id: str) -> dict[str, Any]:
        return self._task_json(self._found(self._tasks, task_id, "task"))

    @_locked
    def update_project(self, project_id: str, **fields: Any) -> dict[str, Any]:
        """Change some fields of a project as a user would in awork (JSON names, e.g. `name=`, `startDate=` as a
        date or date-time text, `projectKey=`); the others keep their values. Raises SimError on invalid values."""
        project = self._found(self._projects, project_id, "project")
        unknown = set(fields) - set(PROJECT_FORM) - {"projectKey"}
        if unknown:
            raise TypeError(f"update_project() got fields a project form does not have: {sorted(unknown)}")
        key = project["projectKey"]
        if "projectKey" in fields:
            key = self._claimed_key(fields.pop("projectKey"), CREATE_KEY, owner=project["id"])
        changes = {name: _form_value(value) for name, value in fields.items()}
        current = {name: project[name] for name in PROJECT_FORM}
        self._update_project(project, validate(current | changes, PROJECT_FORM) | {"projectKey": key})
        return self._project_json(project)


def _nested_status(status: Row) -> dict[str, Any]:
    """A project status as nested in a project (`ExtendedProjectStatusModel`)."""
    return _pick(status, "id", "name", "description", "type", "isArchived", "typeOrder", "isExternal")


def _status_json(status: Row) -> dict[str, Any]:
    """A workspace project status (`ProjectStatus`)."""
    fields = _pick(status, "id", "name", "type", "order", "createdOn", "createdBy", "updatedOn", "updatedBy")
    return fields | {"projectTemplateId": None, "projectId": None, "workflowId": None, "isExternal": False}


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got {moment!r}")
    return moment


def _billable_by_default(values: Mapping[str, Any], template: Row | None) -> bool:
    """An explicit `isBillableByDefault` wins; else the template's rule ('on', 'off', 'auto'; 'auto' without a
    template): 'auto' means billable when the project has a company."""
    if values["isBillableByDefault"] is not None:
        return values["isBillableByDefault"]
    rule = template["isBillableByDefault"] if template else "auto"
    return rule == "on" or (rule == "auto" and values["companyId"] is not None)
