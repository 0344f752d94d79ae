"""MOCO API v1 simulator: session, profile, projects with embedded tasks and contracts, project tasks, project
contracts (staffing), activities (time entries, single and bulk), absences (schedules), companies, users and custom
property definitions.

Follows `../shared/api/moco.md` (the fact sheet), the official OpenAPI spec and the real responses recorded in
`moco-recorded-responses.json`: Rails-style optional `.json` suffix, `Token token=` and `Bearer` auth, 100 per page
with `X-Page`/`X-Per-Page`/`X-Total` and a `Link: rel="next"` only when a next page exists, amounts as floats,
creates answering 200, `DELETE /projects/{id}` answering 200 with an empty body, DELETE of a task, contract or
activity answering 204, tags returned sorted, activities created for the `X-IMPERSONATE-USER-ID` user.
Choices where the docs are silent are marked UNCONFIRMED where they are implemented.

Web hooks (`/account/web_hooks`): every create, update and delete of a project, task, contract, activity, company
or user, through the API or the Python API (a user in MOCO's web UI), is posted to each enabled web hook of its
target and event from a background thread (`deliveries`, a `WebhookSender`), with the documented headers
(`X-Moco-Target`, `X-Moco-Event`, `X-Moco-Timestamp` in ms, `X-Moco-Signature` = hex HMAC-SHA256 of the raw body
keyed with `webhook_secret`, `X-Moco-User-Id`, `X-Moco-Account-Url`, `X-Moco-Origin` `api` or empty). UNCONFIRMED:
one signing key per account (`webhook_secret`; MOCO shows "the" key in its web hook overview); the body is the
record as the API returns it, rendered when the delivery is first sent (a moment after the change); a `delete`
carries only the id. The receiver has 10 s; failures are retried with exponential backoff (8 attempts here), and a
web hook that failed 500 times in a row is disabled. Schedules are not simulated, so their web hooks never fire.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from http import HTTPStatus
from itertools import count
from typing import Any
from urllib.parse import urlencode, urlparse

from sandbox.core import (
    JSON,
    Delivery,
    DeliveryAttempt,
    FaultRule,
    SimError,
    SimRequest,
    SimResponse,
    Simulator,
    SlidingWindowLimit,
    WebhookSender,
    paginate,
    route,
)

MAX_PER_PAGE = 100
CUSTOM_PROPERTIES_MAX_BYTES = 12 * 1024  # "limited to 12 kB"; UNCONFIRMED whether kB means 1000 or 1024 bytes
CUSTOM_PROPERTY_KINDS = frozenset({"String", "Textarea", "Link", "Boolean", "Select", "MultiSelect", "Date"})
COMPANY_TYPES = ("customer", "supplier", "organization")
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
INTERNAL_COMPANY_NAME = "Sandbox Agency GmbH"
MAX_BULK_ACTIVITIES = 100  # "Creates up to 100 activities in one request" (spec: maxItems 100)
# The only `remote_service` values MOCO accepts ("" = none), as documented and enumerated in the spec.
REMOTE_SERVICES = frozenset(
    {
        "",
        "trello",
        "jira",
        "asana",
        "basecamp",
        "wunderlist",
        "basecamp2",
        "basecamp3",
        "toggl",
        "mite",
        "github",
        "youtrack",
    }
)
IMPERSONATE_HEADER = "x-impersonate-user-id"
WEB_HOOK_TARGETS = frozenset(  # the spec's `WebHookTarget`
    {
        *("Activity", "Comment", "Company", "Contact", "Contract", "Deal", "Expense", "Invoice", "Invoice::Approval"),
        *("Invoice::BookkeepingExport", "Invoice::Payment", "InvoiceDraft", "InvoiceReminder", "Offer"),
        *("PlanningEntry", "Presence", "Project", "Project::PaymentSchedule", "ProjectGroup", "Purchase"),
        *("Purchase::Approval", "Purchase::BookkeepingExport", "Purchase::Draft", "Purchase::Order"),
        *("Purchase::Payment", "RecurringExpense", "Schedule", "Task", "User", "User::HolidayRequest"),
        *("User::AbsenceRequest", "User::PeriodLockOverride", "User::WorkTimeAdjustment"),
    }
)
WEB_HOOK_EVENTS = ("create", "update", "delete")
WEB_HOOK_MAX_FAILURES = 500  # then MOCO disables the web hook
# the web hook target of each simulated record kind
_TARGETS = {
    "project": "Project",
    "task": "Task",
    "contract": "Contract",
    "activity": "Activity",
    "company": "Company",
    "user": "User",
    "schedule": "Schedule",
}
ACCESS_DENIED = {"errors": ["Access denied"]}
RATE_LIMIT_HEADER = "X-RateLimit-Limit"
NOT_STAFFED = "the user is not assigned to the project"

Predicate = Callable[[JSON], bool]
Errors = dict[str, list[str]]

_AUTHORIZATION = re.compile(r'^(?:Token token=|Bearer )"?([^"\s]+)"?$')
_CUSTOM_PROPERTY_PARAM = re.compile(r"^custom_properties\[(?P<name>[^\]]+)\](?:\[\])?$")
_STRICT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOLEAN_VALUES = {True: "1", False: "0", "1": "1", "0": "0", "true": "1", "false": "0"}
_BOOLEAN_FILTERS = {"true": "1", "false": "0"}
# Deprecated request names MOCO still accepts, and the names they stand for.
_ALIASES = {"customer_id": "company_id", "labels": "tags", "invoice_due_days": "default_invoice_due_days"}


@dataclass
class _Record:
    """A stored entity: its id, its attributes (API field names, plus `*_id` references) and its timestamps."""

    id: int
    attrs: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    kind: str = ""  # project, task, ... (`_ids`): which web hooks hear of its changes

    def json(self) -> JSON:
        """The attributes as the API returns them, with id and timestamps."""
        return {"id": self.id, **copy.deepcopy(self.attrs), **_timestamps(self)}


# --- value coercion (one function per field type; ValueError carries MOCO's field error message) -----------------


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ValueError("is not a boolean")


def _amount(value: Any) -> float | None:
    """A nullable amount, returned as float like MOCO does (`100` in, `100.0` out)."""
    if value is None:
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        amount = math.nan
    if isinstance(value, bool) or not math.isfinite(amount):
        raise ValueError("is not a number")
    return amount


def _rate(value: Any) -> float:
    """An hourly rate; null means 0.0 (the spec does not allow null rates). UNCONFIRMED."""
    return _amount(value) or 0.0


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError("is not a number")
    return int(value)


def _day(value: Any) -> str | None:
    """A date in the strict `YYYY-MM-DD` form; `date` objects are accepted for seeding, "" clears."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        if _STRICT_DATE.match(str(value)):
            return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        pass
    raise ValueError("is not a valid date")


def _tags(value: Any) -> list[str]:
    """Tag names, unique and sorted: MOCO returns `["low risk", "low income"]` as `["low income", "low risk"]`."""
    if not isinstance(value, list):
        raise ValueError("must be an array of tag names")
    return sorted({str(tag) for tag in value})


def _one_of(*choices: str) -> Callable[[Any], str]:
    def coerce(value: Any) -> str:
        if value not in choices:
            raise ValueError("is not included in the list")
        return str(value)

    return coerce


def _plain_text(value: Any) -> str:
    """A text field MOCO returns as "" when unset (activity `description`, `tag`)."""
    return "" if value is None else str(value)


def _reference(value: Any) -> int | None:
    """An id sent in a payload: None when absent, 0 (no record has it) when it is not an integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        return 0
    return int(value)


def _seconds(value: Any) -> int:
    """A duration in whole seconds, at least 0."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise ValueError("is not a number")
    if int(value) < 0:
        raise ValueError("must be greater than or equal to 0")
    return int(value)


def _hours_as_seconds(value: Any) -> int:
    """The deprecated `hours` (decimal hours), "converted to seconds" (rounded to whole seconds)."""
    hours = _amount(value)
    if hours is None:
        raise ValueError("is not a number")
    if hours < 0:
        raise ValueError("must be greater than or equal to 0")
    return round(hours * 3600)


def _remote_service(value: Any) -> str:
    """One of MOCO's `remote_service` values; null reads as "" (none)."""
    if value is None:
        return ""
    if not isinstance(value, str) or value not in REMOTE_SERVICES:
        raise ValueError("is not included in the list")
    return str(value)


_PROJECT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": _text,
    "identifier": _text,
    "fixed_price": _flag,
    "retainer": _flag,
    "start_date": _day,
    "finish_date": _day,
    "billing_variant": _one_of("project", "task", "user"),
    "billing_address": _text,
    "billing_email_to": _text,
    "billing_email_cc": _text,
    "billing_notes": _text,
    "setting_include_time_report": _flag,
    "budget": _amount,
    "budget_monthly": _amount,
    "budget_expenses": _amount,
    "hourly_rate": _rate,
    "info": _text,
    "color": _text,
    "tags": _tags,
}
_PROJECT_CREATE_FIELDS = {**_PROJECT_FIELDS, "currency": _text}  # currency "cannot be modified after creation"
_PROJECT_DEFAULTS: dict[str, Any] = {  # as real 2022 creates answered
    "identifier": None,
    "name": "",
    "active": True,
    "billable": True,
    "fixed_price": False,
    "retainer": False,
    "start_date": None,
    "finish_date": None,
    "currency": "EUR",
    "billing_variant": "project",
    "billing_address": "",
    "billing_email_to": None,
    "billing_email_cc": None,
    "billing_notes": None,
    "setting_include_time_report": False,
    "budget": None,
    "budget_monthly": None,
    "budget_expenses": 0.0,
    "hourly_rate": 0.0,
    "info": "",
    "color": "#ff26a8",
    "tags": [],
    "custom_properties": {},
    "customer_id": None,
    "leader_id": None,
    "co_leader_id": None,
}
_PROJECT_REFERENCES = ("customer_id", "leader_id", "co_leader_id")

_TASK_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": _text,
    "billable": _flag,
    "active": _flag,
    "budget": _amount,
    "hourly_rate": _rate,
    "description": _text,
}
_TASK_DEFAULTS: dict[str, Any] = {
    "name": "",
    "billable": True,
    "active": True,
    "budget": None,
    "hourly_rate": 0.0,
    "description": None,
}

_CONTRACT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "billable": _flag,
    "active": _flag,
    "budget": _amount,
    "hourly_rate": _rate,
}
_CONTRACT_DEFAULTS: dict[str, Any] = {"billable": True, "active": True, "budget": None, "hourly_rate": 0.0}

_ACTIVITY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "date": _day,
    "seconds": _seconds,
    "description": _plain_text,
    "billable": _flag,
    "tag": _plain_text,
    "remote_service": _remote_service,
    "remote_id": _text,
    "remote_url": _text,
}
_ACTIVITY_DEFAULTS: dict[str, Any] = {
    "date": None,
    "seconds": 0,
    "description": "",
    "billable": True,
    "tag": "",
    "remote_service": "",
    "remote_id": None,
    "remote_url": None,
    "billed": False,
    "invoice_id": None,
    "timer_started_at": None,
    "project_id": None,
    "task_id": None,
    "user_id": None,
}
# The keys of an activity as the API returns it.
_ACTIVITY_KEYS = (
    "id",
    "date",
    "hours",
    "seconds",
    "worked_seconds",
    "description",
    "billed",
    "invoice_id",
    "billable",
    "tag",
    "remote_service",
    "remote_id",
    "remote_url",
    "project",
    "task",
    "customer",
    "user",
    "hourly_rate",
    "timer_started_at",
    "created_at",
    "updated_at",
)
# `GET /activities` filters on a referenced record, and the activity JSON key holding it.
# Absence kinds by `absence_code` (as documented: unplannable absence, public holiday, sick day, holiday, absence),
# with the names a German account shows; the assignment ids and colours are made up.
ABSENCE_KINDS: dict[str, JSON] = {
    "1": {"id": 789_000_001, "name": "Nicht planbare Abwesenheit", "color": "#BBBBBB"},
    "2": {"id": 789_000_002, "name": "Feiertag", "color": "#CCCCCC"},
    "3": {"id": 789_000_003, "name": "Krankheit", "color": "#E36868"},
    "4": {"id": 789_000_004, "name": "Urlaub", "color": "#68B0E3"},
    "5": {"id": 789_000_005, "name": "Abwesenheit", "color": "#A8A8A8"},
}
_SCHEDULE_FIELDS: dict[str, Callable[[Any], Any]] = {
    "date": _day,
    "comment": _text,
    "am": _flag,
    "pm": _flag,
    "symbol": _text,
    "absence_code": lambda value: _one_of(*ABSENCE_KINDS)(str(value)),  # UNCONFIRMED: a number works too
}
_SCHEDULE_DEFAULTS: dict[str, Any] = {"date": None, "comment": None, "am": True, "pm": True, "symbol": None}
_ACTIVITY_REFERENCE_FILTERS = {"user_id": "user", "project_id": "project", "task_id": "task", "company_id": "customer"}

_COMPANY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": _text,
    "website": _text,
    "email": _text,
    "billing_email_cc": _text,
    "phone": _text,
    "fax": _text,
    "address": _text,
    "country_code": _text,
    "vat_identifier": _text,
    "info": _text,
    "footer": _text,
    "tags": _tags,
}
_COMPANY_DEFAULTS: dict[str, Any] = {
    "name": "",
    "website": "",
    "email": None,
    "billing_email_cc": "",
    "phone": "",
    "fax": "",
    "address": "",
    "country_code": "DE",
    "vat_identifier": None,
    "tags": [],
    "info": "",
    "footer": "",
    "custom_properties": {},
    "active": True,  # not in the 2022 recordings; documented since (moco.md, the spec's `Company`)
    "user_id": None,
}
# Fields only customers (resp. suppliers) have, as the recordings show them; organizations have neither.
_TYPE_FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "customer": {
        "identifier": _text,
        "currency": _text,
        "billing_tax": _amount,
        "default_invoice_due_days": _whole_number,
    },
    "supplier": {"iban": _text},
    "organization": {},
}
_TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "customer": {
        "identifier": None,
        "intern": False,
        "billing_tax": 19.0,
        "currency": "EUR",
        "default_invoice_due_days": 30,
    },
    "supplier": {"iban": None},
    "organization": {},
}


def _fields(
    table: Mapping[str, Callable[[Any], Any]], current: Mapping[str, Any], payload: Mapping[str, Any]
) -> tuple[dict[str, Any], Errors]:
    """`current` updated with the payload's known fields, coerced, and the field errors of values that do not fit."""
    attrs = copy.deepcopy(dict(current))
    errors: Errors = {}
    for name, coerce in table.items():
        if name in payload:
            try:
                attrs[name] = coerce(payload[name])
            except ValueError as exc:
                errors[name] = [str(exc)]
    return attrs, errors


def _require_name(attrs: Mapping[str, Any], errors: Errors) -> None:
    if not str(attrs.get("name") or "").strip():
        errors["name"] = ["can't be blank"]


def _reject(errors: Errors) -> None:
    """422 with MOCO's field-keyed error body when there are errors."""
    if errors:
        raise SimError(422, {"errors": errors})


def _unaliased(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with deprecated names (`customer_id`, `labels`, ...) renamed, the current name winning."""
    renamed = {_ALIASES.get(name, name): value for name, value in payload.items() if name in _ALIASES}
    return {**renamed, **{name: value for name, value in payload.items() if name not in _ALIASES}}


def _check_hook(payload: Mapping[str, Any], errors: Errors) -> None:
    """A web hook's `hook` must be an http(s) URL."""
    hook = payload.get("hook")
    if not isinstance(hook, str) or urlparse(hook).scheme not in ("http", "https") or not urlparse(hook).netloc:
        errors["hook"] = ["is invalid"]


def _payload(request: SimRequest) -> dict[str, Any]:
    """The request's JSON object (no body reads as `{}`); 422 `{"message": "Invalid payload"}` otherwise."""
    if request.body is None:
        return {}
    if not isinstance(request.body, dict):
        raise SimError(422, {"message": "Invalid payload"})
    return _unaliased(request.body)


# --- custom properties ------------------------------------------------------------------------------------------


def _custom_value(definition: Mapping[str, Any], value: Any) -> Any:
    """The stored form of a written custom property value; None when MOCO ignores it, ValueError when invalid.

    As documented: strings for every kind but MultiSelect (a list); Select/MultiSelect options not among the
    definition's `defaults` are ignored; Link needs an http, https, mailto or tel URL, Date the strict `YYYY-MM-DD`
    form. UNCONFIRMED (the docs name only the valid forms): Boolean takes "1"/"0" and also true/false and
    "true"/"false" (stored "1"/"0"), anything else is invalid; String and Textarea take a string or a number
    (stored as its text, as a Rails string attribute would cast it), a boolean, array or object is invalid; Link
    and Date take "" (it clears the value); MultiSelect takes a single option as a one-item list, and a list whose
    options are all unknown is ignored as a whole (an empty list clears the field).
    """
    kind, options = definition["kind"], definition["defaults"]
    if kind == "Boolean":
        if not isinstance(value, str | bool | int) or value not in _BOOLEAN_VALUES:
            raise ValueError("must be a boolean (true/false or 1/0)")
        return _BOOLEAN_VALUES[value]
    if kind == "Select":
        return value if value in options else None
    if kind == "MultiSelect":
        chosen = value if isinstance(value, list) else [value]
        known = [option for option in chosen if option in options]
        return known if known or not chosen else None
    if kind == "Link" and value != "" and not _is_link(value):
        raise ValueError("must be a valid URL with scheme http, https, mailto or tel")
    if kind == "Date" and value != "":
        _day(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a string")
    return str(value)


def _is_link(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    url = urlparse(value)
    if url.scheme in ("http", "https"):
        return bool(url.netloc)
    return url.scheme in LINK_SCHEMES and bool(url.path)


def _seeded_custom_properties(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as given (no validation, so tests can seed malformed ones), booleans stored as "1"/"0"."""
    return {name: _BOOLEAN_VALUES[value] if isinstance(value, bool) else value for name, value in values.items()}


def _custom_property_matches(definition: Mapping[str, Any], wanted: list[str], item: JSON) -> bool:
    """Whether an entity matches `custom_properties[Name]=value` (all given values for MultiSelect).

    Boolean filters take `true`/`false` and never match an unset value; other kinds match exactly.
    """
    stored = item["custom_properties"].get(definition["name"])
    if stored is None:
        return False
    if definition["kind"] == "MultiSelect":
        return isinstance(stored, list) and all(value in stored for value in wanted)
    if definition["kind"] == "Boolean":
        wanted = [_BOOLEAN_FILTERS.get(value, "") for value in wanted]
    return all(stored == value for value in wanted)


# --- list queries -----------------------------------------------------------------------------------------------


def _comma_list(request: SimRequest, name: str) -> set[str]:
    return {part.strip() for part in (request.param(name) or "").split(",") if part.strip()}


def _query_flag(request: SimRequest, name: str) -> bool:
    return (request.param(name) or "").lower() in ("true", "1")


def _time_param(request: SimRequest, name: str) -> datetime | None:
    """An ISO 8601 query timestamp (UTC when it has no offset); 400 when it does not parse. UNCONFIRMED: status."""
    raw = request.param(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise SimError(400, {"message": f"Invalid {name}: {raw}"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_param(request: SimRequest, name: str) -> str | None:
    """A `YYYY-MM-DD` query date; 400 `{"message": "Invalid date range"}` when malformed (the spec's example of a
    400 body; UNCONFIRMED that MOCO answers a malformed date this way)."""
    raw = request.param(name)
    if not raw:
        return None
    try:
        return _day(raw)
    except ValueError:
        raise SimError(400, {"message": "Invalid date range"}) from None


def _global_filters(request: SimRequest) -> list[Predicate]:
    """MOCO's filters of every list: `ids` (comma list) and `updated_after` (strictly later)."""
    predicates: list[Predicate] = []
    if ids := _comma_list(request, "ids"):
        predicates.append(lambda item: str(item["id"]) in ids)
    if (after := _time_param(request, "updated_after")) is not None:
        predicates.append(lambda item: datetime.fromisoformat(item["updated_at"]) > after)
    return predicates


def _nothing(item: JSON) -> bool:
    return False


def _refers_to(key: str, wanted: str, item: JSON) -> bool:
    return str(item[key]["id"]) == wanted


def _has(key: str, wanted: Any, item: JSON) -> bool:
    return item[key] == wanted


def _within(first: str | None, last: str | None, item: JSON) -> bool:
    """Whether the item's `date` lies in the inclusive range (open ends: None)."""
    return (first is None or item["date"] >= first) and (last is None or item["date"] <= last)


def _one_of_values(key: str, wanted: set[str], item: JSON) -> bool:
    return item[key] in wanted


def _mentions(term: str, item: JSON) -> bool:
    return term in " ".join((item["tag"], item["description"], item["remote_id"] or "")).lower()


def _activity_filters(request: SimRequest) -> list[Predicate]:
    """`GET /activities` filters: the global ones, `from`/`to` (inclusive), a referenced user, project, task or
    company, `billable`, `billed`, `tag` and `remote_id` (comma lists, exact), `term` (case-insensitive substring of
    tag, description or remote id). UNCONFIRMED: `deal_id` matches nothing (deals are not simulated)."""
    predicates = _global_filters(request)
    first, last = _date_param(request, "from"), _date_param(request, "to")
    if first or last:
        predicates.append(partial(_within, first, last))
    for name, key in _ACTIVITY_REFERENCE_FILTERS.items():
        if wanted := request.param(name):
            predicates.append(partial(_refers_to, key, wanted))
    for name in ("billable", "billed"):
        if request.param(name):
            predicates.append(partial(_has, name, _query_flag(request, name)))
    for name in ("tag", "remote_id"):
        if wanted_values := _comma_list(request, name):
            predicates.append(partial(_one_of_values, name, wanted_values))
    if term := (request.param("term") or "").lower():
        predicates.append(partial(_mentions, term))
    if request.param("deal_id"):
        predicates.append(_nothing)
    return predicates


def _schedule_filters(request: SimRequest) -> list[Predicate]:
    """`GET /schedules` filters: the global ones, `from`/`to` (inclusive), `user_id`, `absence_code` (a comma list,
    as documented). UNCONFIRMED: `absence_request_id` matches nothing (absence requests are not simulated)."""
    predicates = _global_filters(request)
    first, last = _date_param(request, "from"), _date_param(request, "to")
    if first or last:
        predicates.append(partial(_within, first, last))
    if wanted := request.param("user_id"):
        predicates.append(lambda item: item["user"] is not None and str(item["user"]["id"]) == wanted)
    if codes := _comma_list(request, "absence_code"):
        predicates.append(lambda item: item["assignment"]["code"] in codes)
    if request.param("absence_request_id"):
        predicates.append(_nothing)
    return predicates


def _select(items: Iterable[JSON], predicates: list[Predicate]) -> list[JSON]:
    return [item for item in items if all(predicate(item) for predicate in predicates)]


def _next_page_url(request: SimRequest, page: int) -> str:
    """Absolute URL of another page of the same query, built from the request's Host header."""
    query = urlencode({**request.query, "page": [str(page)]}, doseq=True)
    return f"http://{request.headers.get('host', 'localhost')}{request.path}?{query}"


def _page(request: SimRequest, items: list[JSON]) -> SimResponse:
    """One page of a list with MOCO's pagination headers (strings); `per_page` is clamped to 1..100
    (UNCONFIRMED: MOCO's answer to larger values; we clamp rather than reject)."""
    page = max(1, request.int_param("page", 1))
    per_page = min(MAX_PER_PAGE, max(1, request.int_param("per_page", MAX_PER_PAGE)))
    headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items))}
    if page * per_page < len(items):
        headers["Link"] = f'<{_next_page_url(request, page + 1)}>; rel="next"'
    return SimResponse(200, paginate(items, page, per_page), headers)


def _clash(schedule: _Record, attrs: Mapping[str, Any]) -> bool:
    """Whether an absence covers a half of the same user's day that `attrs` covers too."""
    other = schedule.attrs
    same_day = other["user_id"] == attrs["user_id"] and other["date"] == attrs["date"]
    return same_day and ((other["am"] and attrs["am"]) or (other["pm"] and attrs["pm"]))


# --- rendering --------------------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamps(record: _Record) -> dict[str, str]:
    return {"created_at": _stamp(record.created_at), "updated_at": _stamp(record.updated_at)}


def _project_summary(project: _Record) -> JSON:
    """A project as listed in its customer's `projects`."""
    return {"id": project.id, **{key: project.attrs[key] for key in ("identifier", "name", "active", "billable")}}


def _names(user: Mapping[str, Any]) -> JSON:
    return {"firstname": user["firstname"], "lastname": user["lastname"]}


def _field_of(item: JSON, name: str) -> Any:
    """An activity's field for `MocoSimulator.activities` filters; `*_id` of a reference compares its id."""
    if name in _ACTIVITY_REFERENCE_FILTERS:
        return item[_ACTIVITY_REFERENCE_FILTERS[name]]["id"]
    return item.get(name)


def _task_ref(task: _Record) -> JSON:
    """A task as embedded in its project: no timestamps."""
    return {"id": task.id, **copy.deepcopy(task.attrs)}


class MocoSimulator(Simulator):
    """In-memory MOCO account behind the MOCO API v1, seedable through the methods below the routes.

    UNCONFIRMED choices: every API key belongs to one user, "API User"; the rate limit (120 requests per 120 s, as
    documented) counts per simulator, i.e. per account; a 429 carries `Retry-After` (seconds until a slot frees) -
    MOCO does not document the header, clients must also cope without it; PUT and PATCH both update only the
    fields sent; a write that changes nothing keeps `updated_at` (Rails dirty tracking); timestamps have second
    resolution and each change gets a later one than the previous change (so `updated_after` never misses one).

    Acting user: a request acts as the user named by `X-IMPERSONATE-USER-ID`, else as the key's user. UNCONFIRMED:
    a header that does not name an existing, active user is answered 403 `{"errors": ["Access denied"]}` on every
    route (MOCO resolves the current user before anything else; the key may impersonate anyone, i.e. it has the
    permission to staff). Reads are not narrowed to the acting user (the key's user sees every activity).

    Key access and plan (the docs name read-only and full-access account keys and a plan with a higher limit, but
    no way to tell either from the API; UNCONFIRMED choices): a key of `read_only_keys` reads like any other, and
    every write (POST, PUT, PATCH, DELETE) it sends is answered 403 `{"errors": ["Access denied"]}` (the spec's
    Forbidden: "Check your Authentication or your MOCO user permission") before the payload is looked at; while a
    rate limit is enforced, every answer carries `X-RateLimit-Limit`, the requests allowed per window (120 on the
    standard plan, 1200 on the unlimited one), the header most APIs use for it.
    """

    base_path = "/api/v1"
    path_suffix = r"(?:\.json)?"

    def __init__(
        self,
        api_keys: Iterable[str] = ("moco-sandbox-key",),
        rate_limit: int | None = 120,
        rate_window: float = 120.0,
        *,
        task_templates: Sequence[str] = (),
        read_only_keys: Iterable[str] = (),
        webhook_secret: str | None = None,
        deliver_webhooks: bool = True,
    ) -> None:
        """`task_templates`: names of the account's task templates flagged `project_default`; projects created
        through the API get one task per name (the recorded account had "Projektleitung", "Entwicklung", "Grafik").
        `read_only_keys`: account keys with read-only access (see the class docstring).
        `webhook_secret`: the account's web hook signing key (default: a random one, 32 hex characters);
        `deliver_webhooks` False: web hooks can be managed, but nothing is posted.
        """
        super().__init__()
        self.webhook_secret = webhook_secret or uuid.uuid4().hex
        self.deliveries = WebhookSender(timeout=10.0, max_attempts=8)
        self.deliveries.enabled = deliver_webhooks
        self._web_hooks: dict[int, _Record] = {}
        self._web_hook_failures: dict[int, int] = {}
        self._via_api = threading.local()  # whether the current thread is answering an API request
        self.read_only_keys = frozenset(read_only_keys)
        self.api_keys = frozenset(api_keys) | self.read_only_keys
        self.task_templates = tuple(task_templates)
        if rate_limit is not None:
            self.limits.append(SlidingWindowLimit(rate_limit, rate_window))
        self._clock = datetime(2000, 1, 1, tzinfo=UTC)
        self._ids = {
            kind: count(start)
            for kind, start in (
                ("project", 900_000_001),
                ("company", 760_000_001),
                ("task", 12_500_001),
                ("user", 933_000_001),
                ("contract", 464_000_001),
                ("custom_property", 86_001),
                ("activity", 1_015_000_001),
                ("invoice", 2_700_001),
                ("schedule", 611_000_001),
                ("web_hook", 73_000_001),
            )
        }
        self._project_numbers = count(1)
        self._customer_numbers = count(1)
        self._projects: dict[int, _Record] = {}
        self._tasks: dict[int, dict[int, _Record]] = {}  # by project id
        self._contracts: dict[int, dict[int, _Record]] = {}  # by project id
        self._companies: dict[int, _Record] = {}
        self._users: dict[int, _Record] = {}
        self._definitions: dict[int, _Record] = {}
        self._activities: dict[int, _Record] = {}
        self._schedules: dict[int, _Record] = {}
        self._internal_company_id: int | None = None
        self.api_user_id = self.add_user("API", "User", "api.user@moco-sandbox.example")["id"]

    # --- core hooks -------------------------------------------------------------------------------------------
    def authenticate(self, request: SimRequest) -> None:
        """`Authorization: Token token=<key>` or `Bearer <key>`; 401 `{"message": "Unauthorized"}` otherwise."""
        match = _AUTHORIZATION.match(request.headers.get("authorization", "").strip())
        if not match or match.group(1) not in self.api_keys:
            raise SimError(401, {"message": "Unauthorized"})
        if match.group(1) in self.read_only_keys and request.method != "GET":
            raise SimError(403, ACCESS_DENIED)
        raw = request.headers.get(IMPERSONATE_HEADER)
        if raw is not None:
            user = self._users.get(_reference(raw.strip()) or 0)
            if user is None or not user.attrs["active"]:
                raise SimError(403, ACCESS_DENIED)

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
    ) -> tuple[SimResponse, SimRequest | None, FaultRule | None]:
        """Every answer names the account's rate limit while one is enforced (see the class docstring); changes
        made while answering a request are web hook deliveries with `X-Moco-Origin: api`."""
        self._via_api.active = True
        try:
            response, request, fault = super().handle(method, path, query, headers, raw)
        finally:
            self._via_api.active = False
        if self.limits:
            response.headers = {**response.headers, RATE_LIMIT_HEADER: str(self.limits[0].limit)}
        return response, request, fault

    def _acting_user(self, request: SimRequest) -> int:
        """The user a request acts as: the impersonated one (checked by `authenticate`), else the key's user."""
        raw = request.headers.get(IMPERSONATE_HEADER)
        return self.api_user_id if raw is None else int(raw.strip())

    def error_body(self, status: int) -> JSON:
        """MOCO's error body for an injected status: `errors` lists for 403/422, else `{"message": ...}`."""
        if status == 403:
            return {"errors": ["Access denied"]}
        if status == 422:
            return {"errors": ["Validation failed"]}
        messages = {400: "Invalid payload", 404: "Not found", 429: "Too many requests"}
        return {"message": messages.get(status) or HTTPStatus(status).phrase}

    # --- session, users ---------------------------------------------------------------------------------------
    @route("GET", "/session")
    def show_session(self, request: SimRequest) -> JSON:
        return {"id": self.api_user_id, "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"moco/{self.api_user_id}"))}

    @route("GET", "/users")
    def list_users(self, request: SimRequest) -> SimResponse:
        """Users; `email` matches case-insensitively (MOCO stores e-mails lower-cased), deactivated users only
        with `include_archived=true`."""
        predicates = _global_filters(request)
        if email := request.param("email"):
            predicates.append(lambda user: user["email"] == email.lower())
        if not _query_flag(request, "include_archived"):
            predicates.append(lambda user: user["active"])
        return _page(request, _select((user.json() for user in self._users.values()), predicates))

    @route("GET", "/users/{id}")
    def show_user(self, request: SimRequest) -> JSON:
        return self._lookup(self._users, request.path_params["id"]).json()

    @route("GET", "/profile")
    def show_profile(self, request: SimRequest) -> JSON:
        """The acting user's profile (the impersonated user's with `X-IMPERSONATE-USER-ID`), with exactly the keys of
        the spec's `GET /profile` schema (no real response is recorded)."""
        user = self._users[self._acting_user(request)]
        first, last = user.attrs["firstname"], user.attrs["lastname"]
        return {
            "id": user.id,
            "email": user.attrs["email"],
            "full_name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "active": user.attrs["active"],
            "external": user.attrs["extern"],
            "avatar_url": user.attrs["avatar_url"],
            "unit": copy.deepcopy(user.attrs["unit"]),
            **_timestamps(user),
        }

    # --- custom property definitions --------------------------------------------------------------------------
    @route("GET", "/account/custom_properties")
    def list_custom_properties(self, request: SimRequest) -> SimResponse:
        predicates = _global_filters(request)
        if entity := request.param("entity"):
            predicates.append(lambda definition: definition["entity"] == entity)
        return _page(request, _select((d.json() for d in self._definitions.values()), predicates))

    # --- projects ---------------------------------------------------------------------------------------------
    @route("GET", "/projects")
    def list_projects(self, request: SimRequest) -> SimResponse:
        """Projects by id, archived ones (`active: false`) only with `include_archived=true`; filters `ids`,
        `updated_after`, `identifier`, `company_id`, `tags` and `custom_properties[Name]`.

        UNCONFIRMED: `tags=A,B` matches projects having ALL the given tags (exact, case-sensitive names).
        """
        full_customer = _query_flag(request, "include_company")
        projects = (self._project_json(project, full_customer) for project in self._projects.values())
        return _page(request, _select(projects, self._project_filters(request)))

    @route("GET", "/projects/{id}")
    def show_project(self, request: SimRequest) -> JSON:
        project = self._lookup(self._projects, request.path_params["id"])
        return self._project_json(project, _query_flag(request, "include_company"))

    @route("POST", "/projects")
    def create_project(self, request: SimRequest) -> JSON:
        """Create a project; it gets the account's template tasks and a contract for its leader (as recorded).

        UNCONFIRMED: `currency` defaults to EUR and `leader_id` to the key's user; 2022 creates always sent both.
        """
        project = self._create_project(_payload(request), seeding=False, task_names=self.task_templates)
        return self._project_json(project)

    @route("PUT", "/projects/{id}")
    def put_project(self, request: SimRequest) -> JSON:
        return self._update_project_route(request)

    @route("PATCH", "/projects/{id}")
    def patch_project(self, request: SimRequest) -> JSON:
        return self._update_project_route(request)

    @route("DELETE", "/projects/{id}")
    def delete_project(self, request: SimRequest) -> SimResponse:
        """200 with an empty body, as real MOCO answers (the spec claims the deleted project is returned); 422 while
        it has activities ("only if there are no activities"; UNCONFIRMED: the error body)."""
        project = self._lookup(self._projects, request.path_params["id"])
        if self._has_activities(project_id=project.id):
            raise SimError(422, {"errors": {"base": ["Project has activities and cannot be deleted"]}})
        del self._projects[project.id], self._tasks[project.id], self._contracts[project.id]
        self._notify(project, "delete")
        return SimResponse(200, empty=True)

    @route("PUT", "/projects/{id}/archive")
    def archive_project(self, request: SimRequest) -> JSON:
        """Archive a project (`active: false`); it leaves `GET /projects` unless `include_archived=true`.
        UNCONFIRMED: archiving an archived project answers 200 and changes nothing."""
        return self._set_project_active(request, False)

    @route("PUT", "/projects/{id}/unarchive")
    def unarchive_project(self, request: SimRequest) -> JSON:
        return self._set_project_active(request, True)

    # --- project tasks ----------------------------------------------------------------------------------------
    @route("GET", "/projects/{project_id}/tasks")
    def list_tasks(self, request: SimRequest) -> SimResponse:
        project = self._lookup(self._projects, request.path_params["project_id"])
        tasks = (task.json() for task in self._tasks[project.id].values())
        return _page(request, _select(tasks, _global_filters(request)))

    @route("GET", "/projects/{project_id}/tasks/{id}")
    def show_task(self, request: SimRequest) -> JSON:
        return self._task_of(request).json()

    @route("POST", "/projects/{project_id}/tasks")
    def create_task(self, request: SimRequest) -> JSON:
        """Create a task; UNCONFIRMED: `index` (position) is ignored, tasks stay in creation order."""
        project = self._lookup(self._projects, request.path_params["project_id"])
        attrs, errors = _fields(_TASK_FIELDS, _TASK_DEFAULTS, _payload(request))
        _require_name(attrs, errors)
        _reject(errors)
        return self._insert_task(project, attrs).json()

    @route("PUT", "/projects/{project_id}/tasks/{id}")
    def put_task(self, request: SimRequest) -> JSON:
        return self._update_task_route(request)

    @route("PATCH", "/projects/{project_id}/tasks/{id}")
    def patch_task(self, request: SimRequest) -> JSON:
        return self._update_task_route(request)

    @route("DELETE", "/projects/{project_id}/tasks/{id}")
    def delete_task(self, request: SimRequest) -> SimResponse:
        """204, as real MOCO answers (the spec claims 200 with the task); bumps the project's `updated_at`. 422
        once hours were tracked on the task (documented; UNCONFIRMED: the error body)."""
        task = self._task_of(request)
        self._delete_task(self._projects[int(request.path_params["project_id"])], task)
        return SimResponse(204, empty=True)

    # --- project contracts (staffing) -------------------------------------------------------------------------
    @route("GET", "/projects/{project_id}/contracts")
    def list_contracts(self, request: SimRequest) -> SimResponse:
        """The project's active contracts ("all active people"); inactive ones stay readable by id and embedded in
        the project (UNCONFIRMED)."""
        project = self._lookup(self._projects, request.path_params["project_id"])
        contracts = (self._contract_json(contract) for contract in self._contracts[project.id].values())
        return _page(request, _select(contracts, [*_global_filters(request), lambda contract: contract["active"]]))

    @route("GET", "/projects/{project_id}/contracts/{id}")
    def show_contract(self, request: SimRequest) -> JSON:
        return self._contract_json(self._contract_of(request)[1])

    @route("POST", "/projects/{project_id}/contracts")
    def create_contract(self, request: SimRequest) -> JSON:
        """Staff a user (`user_id` required); the project's `updated_at` moves with it."""
        project = self._lookup(self._projects, request.path_params["project_id"])
        return self._contract_json(self._create_contract(project, _payload(request)))

    @route("PUT", "/projects/{project_id}/contracts/{id}")
    def put_contract(self, request: SimRequest) -> JSON:
        return self._update_contract_route(request)

    @route("PATCH", "/projects/{project_id}/contracts/{id}")
    def patch_contract(self, request: SimRequest) -> JSON:
        return self._update_contract_route(request)

    @route("DELETE", "/projects/{project_id}/contracts/{id}")
    def delete_contract(self, request: SimRequest) -> SimResponse:
        """204, as real MOCO answers; "only possible as long as no hours are tracked from this person" on the
        project, else 422 (UNCONFIRMED: the error body). Bumps the project's `updated_at`."""
        project, contract = self._contract_of(request)
        if self._has_activities(project_id=project.id, user_id=contract.attrs["user_id"]):
            raise SimError(422, {"errors": {"base": ["The person has tracked hours on this project"]}})
        del self._contracts[project.id][contract.id]
        self._notify(contract, "delete")
        project.updated_at = self._tick()
        return SimResponse(204, empty=True)

    # --- activities -------------------------------------------------------------------------------------------
    @route("GET", "/activities")
    def list_activities(self, request: SimRequest) -> SimResponse:
        """Activities sorted by date, then id (UNCONFIRMED: MOCO's default order); filters see `_activity_filters`.
        Deleted activities are gone: `updated_after` does not report deletions (as MOCO documents)."""
        return _page(request, _select(self._activity_list(self._sees_rates(request)), _activity_filters(request)))

    @route("GET", "/activities/{id}")
    def show_activity(self, request: SimRequest) -> JSON:
        activity = self._lookup(self._activities, request.path_params["id"])
        return self._activity_json(activity, self._sees_rates(request))

    @route("POST", "/activities")
    def create_activity(self, request: SimRequest) -> JSON:
        """Create an activity for the acting user (see the class docstring); 422 with field errors, see
        `_activity_attrs`."""
        attrs, errors = self._activity_attrs(_ACTIVITY_DEFAULTS, _payload(request), self._acting_user(request))
        _reject(errors)
        return self._activity_json(self._insert(self._activities, "activity", attrs), self._sees_rates(request))

    @route("POST", "/activities/bulk")
    def create_activities(self, request: SimRequest) -> SimResponse | JSON:
        """Create up to 100 activities for the acting user; 200 with the created activities in request order.

        UNCONFIRMED (the docs are silent): all or nothing - every item is validated first, and if any is invalid
        nothing is created and the 422 body names each failing item by index, with flat keys
        `{"errors": {"activities[1].task": ["..."]}}`; more than 100 items -> 422 `{"errors": ["..."]}`; a body
        without an `activities` array -> 400 `{"message": "Invalid payload"}`; a non-JSON Content-Type -> 415
        without a body (documented status); an empty array -> 200 `[]`. The created activities share one
        timestamp.
        """
        if not request.headers.get("content-type", "").startswith("application/json"):
            return SimResponse(415, empty=True)
        items = request.body.get("activities") if isinstance(request.body, dict) else None
        if not isinstance(items, list):
            raise SimError(400, {"message": "Invalid payload"})
        if len(items) > MAX_BULK_ACTIVITIES:
            raise SimError(422, {"errors": [f"Too many activities: at most {MAX_BULK_ACTIVITIES} per request"]})
        user_id, validated, errors = self._acting_user(request), [], {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors[f"activities[{index}]"] = ["is not an object"]
                continue
            attrs, item_errors = self._activity_attrs(_ACTIVITY_DEFAULTS, _unaliased(item), user_id)
            errors |= {f"activities[{index}].{name}": messages for name, messages in item_errors.items()}
            validated.append(attrs)
        _reject(errors)
        stamp = self._tick()
        created = [self._insert(self._activities, "activity", attrs, stamp) for attrs in validated]
        return [self._activity_json(activity, self._sees_rates(request)) for activity in created]

    @route("PUT", "/activities/{id}")
    def put_activity(self, request: SimRequest) -> JSON:
        return self._update_activity_route(request)

    @route("PATCH", "/activities/{id}")
    def patch_activity(self, request: SimRequest) -> JSON:
        return self._update_activity_route(request)

    @route("DELETE", "/activities/{id}")
    def delete_activity(self, request: SimRequest) -> SimResponse:
        """204 with no body, as real MOCO answers (the spec claims 200 with the activity); 403 for another user's
        activity, 422 for a billed one (see `_editable_activity`)."""
        activity = self._editable_activity(request)
        del self._activities[activity.id]
        self._notify(activity, "delete")
        return SimResponse(204, empty=True)

    # --- schedules (absences) ---------------------------------------------------------------------------------
    @route("GET", "/schedules")
    def list_schedules(self, request: SimRequest) -> SimResponse:
        """Absences sorted by date, then id (UNCONFIRMED: MOCO's order); filters see `_schedule_filters`. Deleted
        absences are gone: `updated_after` does not report deletions."""
        return _page(request, _select(self._schedule_list(), _schedule_filters(request)))

    @route("GET", "/schedules/{id}")
    def show_schedule(self, request: SimRequest) -> JSON:
        return self._schedule_json(self._lookup(self._schedules, request.path_params["id"]))

    @route("POST", "/schedules")
    def create_schedule(self, request: SimRequest) -> JSON:
        """Create an absence for `user_id`, else for the acting user; see `_schedule_attrs`. With `overwrite`
        the user's absences of that day are deleted first, as documented."""
        payload = _payload(request)
        user_id = _reference(payload.get("user_id")) or self._acting_user(request)
        overwrite = bool(payload.get("overwrite"))
        return self._schedule_json(self._save_schedule(None, payload, user_id, overwrite=overwrite))

    @route("PUT", "/schedules/{id}")
    def put_schedule(self, request: SimRequest) -> JSON:
        return self._update_schedule_route(request)

    @route("PATCH", "/schedules/{id}")
    def patch_schedule(self, request: SimRequest) -> JSON:
        return self._update_schedule_route(request)

    @route("DELETE", "/schedules/{id}")
    def delete_schedule(self, request: SimRequest) -> JSON:
        """200 with the deleted absence, as the spec declares (UNCONFIRMED: no real answer was recorded)."""
        schedule = self._lookup(self._schedules, request.path_params["id"])
        del self._schedules[schedule.id]
        self._notify(schedule, "delete")
        return self._schedule_json(schedule)

    # --- companies --------------------------------------------------------------------------------------------
    @route("GET", "/companies")
    def list_companies(self, request: SimRequest) -> SimResponse:
        """Companies by id; filters `ids`, `updated_after`, `type`, and `term` (UNCONFIRMED: a case-insensitive
        substring of the name or identifier)."""
        predicates = _global_filters(request)
        if company_type := request.param("type"):
            predicates.append(lambda company: company["type"] == company_type)
        if term := (request.param("term") or "").lower():
            predicates.append(lambda company: term in f"{company['name']} {company.get('identifier') or ''}".lower())
        return _page(request, _select(map(self._company_json, self._companies.values()), predicates))

    @route("GET", "/companies/{id}")
    def show_company(self, request: SimRequest) -> JSON:
        return self._company_json(self._lookup(self._companies, request.path_params["id"]))

    @route("POST", "/companies")
    def create_company(self, request: SimRequest) -> JSON:
        """Create a company (`name` and `type` required); customers get the next identifier "K0001", ... unless
        one is given, currency EUR and 19 % VAT (as recorded)."""
        payload = _payload(request)
        if payload.get("type") not in COMPANY_TYPES:
            errors = {"type": ["is not included in the list"]}
            _require_name(payload, errors)
            _reject(errors)
        return self._company_json(self._create_company(payload))

    @route("PUT", "/companies/{id}")
    def put_company(self, request: SimRequest) -> JSON:
        """Update a company; UNCONFIRMED: `type` cannot change (it is ignored)."""
        company = self._lookup(self._companies, request.path_params["id"])
        self._commit(company, self._company_attrs(company.attrs, _payload(request), company.attrs["type"]))
        return self._company_json(company)

    # --- web hooks --------------------------------------------------------------------------------------------
    @route("GET", "/account/web_hooks")
    def list_web_hooks(self, request: SimRequest) -> SimResponse:
        hooks = (hook.json() for hook in self._web_hooks.values())
        return _page(request, _select(hooks, _global_filters(request)))

    @route("POST", "/account/web_hooks")
    def create_web_hook(self, request: SimRequest) -> JSON:
        """`target` (the spec's `WebHookTarget`), `event` (create, update, delete) and `hook` (an http(s) URL) are
        required; 422 with field errors otherwise (UNCONFIRMED: the messages)."""
        payload = _payload(request)
        errors: Errors = {}
        if payload.get("target") not in WEB_HOOK_TARGETS:
            errors["target"] = ["is not included in the list"]
        if payload.get("event") not in WEB_HOOK_EVENTS:
            errors["event"] = ["is not included in the list"]
        _check_hook(payload, errors)
        _reject(errors)
        attrs = {"target": payload["target"], "event": payload["event"], "hook": payload["hook"]}
        return self._insert(self._web_hooks, "web_hook", attrs | {"disabled": False, "disabled_at": None}).json()

    @route("GET", "/account/web_hooks/{id}")
    def show_web_hook(self, request: SimRequest) -> JSON:
        return self._lookup(self._web_hooks, request.path_params["id"]).json()

    @route("PUT", "/account/web_hooks/{id}")
    def put_web_hook(self, request: SimRequest) -> JSON:
        return self._update_web_hook_route(request)

    @route("PATCH", "/account/web_hooks/{id}")
    def patch_web_hook(self, request: SimRequest) -> JSON:
        return self._update_web_hook_route(request)

    @route("DELETE", "/account/web_hooks/{id}")
    def delete_web_hook(self, request: SimRequest) -> JSON:
        """200 with the deleted web hook, as the spec says (no real answer is recorded)."""
        hook = self._lookup(self._web_hooks, request.path_params["id"])
        del self._web_hooks[hook.id]
        return hook.json()

    @route("PUT", "/account/web_hooks/{id}/disable")
    def disable_web_hook(self, request: SimRequest) -> JSON:
        return self._switch_web_hook(request, disabled=True)

    @route("PUT", "/account/web_hooks/{id}/enable")
    def enable_web_hook(self, request: SimRequest) -> JSON:
        return self._switch_web_hook(request, disabled=False)

    def _update_web_hook_route(self, request: SimRequest) -> JSON:
        """Only `hook` can be changed; target and event are ignored (as documented)."""
        hook = self._lookup(self._web_hooks, request.path_params["id"])
        payload, errors = _payload(request), {}
        _check_hook(payload, errors)
        _reject(errors)
        self._commit(hook, {**hook.attrs, "hook": payload["hook"]})
        return hook.json()

    def _switch_web_hook(self, request: SimRequest, *, disabled: bool) -> JSON:
        hook = self._lookup(self._web_hooks, request.path_params["id"])
        self._web_hook_failures.pop(hook.id, None)
        disabled_at = _stamp(self._tick()) if disabled else None
        self._commit(hook, {**hook.attrs, "disabled": disabled, "disabled_at": disabled_at})
        return hook.json()

    def _notify(self, record: _Record, event: str) -> None:
        """Post a record's change to every enabled web hook of its target and event (see the module docstring)."""
        target = _TARGETS.get(record.kind)
        hooks = [
            hook
            for hook in self._web_hooks.values()
            if (hook.attrs["target"], hook.attrs["event"]) == (target, event) and not hook.attrs["disabled"]
        ]
        if not hooks:
            return
        occurred = str(int(time.time() * 1000))
        origin = "api" if getattr(self._via_api, "active", False) else ""
        for hook in hooks:
            render = partial(self._delivery, record, event, {"X-Moco-Timestamp": occurred, "X-Moco-Origin": origin})
            self.deliveries.send(Delivery(hook.attrs["hook"], render, partial(self._delivered, hook.id)))

    def _delivery(self, record: _Record, event: str, stamps: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a delivery; a `delete` (or a record gone since) carries only the id."""
        renderers: dict[str, Callable[[_Record], JSON]] = {
            "project": self._project_json,
            "contract": self._contract_json,
            "activity": self._activity_json,
            "company": self._company_json,
        }
        record_json: JSON = {"id": record.id}
        if event != "delete":
            with self.lock, suppress(KeyError):  # deleted meanwhile (a project's tasks go with it): only the id
                record_json = renderers.get(record.kind, _Record.json)(record)
        body = json.dumps(record_json).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Moco-Target": _TARGETS[record.kind],
            "X-Moco-Event": event,
            "X-Moco-Signature": hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest(),
            "X-Moco-User-Id": str(self.api_user_id),
            "X-Moco-Account-Url": "https://sandbox.mocoapp.com",
            **stamps,
        }
        return body, headers

    def _delivered(self, hook_id: int, attempt: DeliveryAttempt) -> None:
        """Count failures in a row; at 500 MOCO disables the web hook."""
        with self.lock:
            hook = self._web_hooks.get(hook_id)
            failures = 0 if attempt.succeeded else self._web_hook_failures.get(hook_id, 0) + 1
            self._web_hook_failures[hook_id] = failures
            if hook is not None and failures >= WEB_HOOK_MAX_FAILURES:
                self._commit(hook, {**hook.attrs, "disabled": True, "disabled_at": _stamp(self._tick())})

    # --- direct Python API (tests and demo seeding: no HTTP, not logged, API-shaped answers) ------------------
    def define_custom_property(
        self, name: str, kind: str, *, entity: str = "Project", defaults: Sequence[str] = ()
    ) -> dict:
        """Define a custom field ("Eigenes Feld") of `entity`; `defaults` are the options of Select/MultiSelect."""
        if kind not in CUSTOM_PROPERTY_KINDS:
            raise ValueError(f"custom property kind {kind!r} is not one of {sorted(CUSTOM_PROPERTY_KINDS)}")
        with self.lock:
            if self._definition(entity, name):
                raise ValueError(f"{entity} already has a custom property named {name!r}")
            attrs = {
                "name": name,
                "name_alt": None,
                "placeholder": "",
                "placeholder_alt": "",
                "entity": entity,
                "kind": kind,
                "print_on_invoice": False,
                "print_on_offer": False,
                "print_on_timesheet": False,
                "notification_enabled": False,
                "defaults": list(defaults),
                "api_only": False,
            }
            return self._insert(self._definitions, "custom_property", attrs).json()

    def update_custom_property(self, name: str, *, entity: str = "Project", **fields: Any) -> dict:
        """Change a custom field's `name` or `defaults` (options), as `PATCH /account/custom_properties/{id}` does
        (its kind and entity cannot change)."""
        if set(fields) - {"name", "defaults"}:
            raise ValueError(f"only name and defaults of a custom property can change, not {sorted(fields)}")
        with self.lock:
            definition = self._existing_definition(entity, name)
            self._commit(definition, {**definition.attrs, **copy.deepcopy(fields)})
            return definition.json()

    def remove_custom_property(self, name: str, *, entity: str = "Project") -> None:
        """Delete a custom field definition (`DELETE /account/custom_properties/{id}`); values stay on entities."""
        with self.lock:
            del self._definitions[self._existing_definition(entity, name).id]

    def add_company(self, name: str, *, type: str = "customer") -> dict:
        if type not in COMPANY_TYPES:
            raise ValueError(f"company type {type!r} is not one of {COMPANY_TYPES}")
        with self.lock:
            return self._company_json(self._create_company({"name": name, "type": type}))

    def add_user(self, firstname: str, lastname: str, email: str, *, active: bool = True) -> dict:
        """An internal user (`active=False`: deactivated); the e-mail is stored lower-cased like MOCO does."""
        attrs = {
            "firstname": firstname,
            "lastname": lastname,
            "active": active,
            "extern": False,
            "email": email.lower(),
            "mobile_phone": "",
            "work_phone": "",
            "home_address": "",
            "info": "",
            "birthday": None,
            "avatar_url": None,
            "tags": [],
            "custom_properties": {},
            "unit": {"id": 909_000_001, "name": "Team"},
        }
        with self.lock:
            return self._insert(self._users, "user", attrs).json()

    def add_project(
        self,
        name: str,
        *,
        customer_id: int | None,
        identifier: str | None = None,
        tags: Sequence[str] = (),
        custom_properties: Mapping[str, Any] | None = None,
        start_date: date | str | None = None,
        finish_date: date | str | None = None,
        tasks: Sequence[str] = (),
        active: bool = True,
        leader_id: int | None = None,
    ) -> dict:
        """A project led by `leader_id` (default: the API user), who is staffed on it, with exactly the given tasks
        (no templates) and custom property values stored as given (booleans as "1"/"0"). Without `customer_id` the
        project belongs to the agency's own company (MOCO has no projects without a customer: internal projects are
        booked on the own company, which is created on first use)."""
        payload: dict[str, Any] = {"name": name, "tags": list(tags), "start_date": start_date}
        payload |= {"finish_date": finish_date, "custom_properties": custom_properties or {}, "active": active}
        if identifier is not None:
            payload["identifier"] = identifier
        if leader_id is not None:
            payload["leader_id"] = leader_id
        with self.lock:
            payload["company_id"] = self._internal_company() if customer_id is None else customer_id
            return self._project_json(self._create_project(payload, seeding=True, task_names=tasks))

    def add_task(self, project_id: int, name: str, *, billable: bool = True, active: bool = True) -> dict:
        with self.lock:
            project = self._lookup(self._projects, project_id)
            attrs = {**_TASK_DEFAULTS, "name": name, "billable": billable, "active": active}
            return self._insert_task(project, attrs).json()

    def update_project(self, project_id: int, **fields: Any) -> dict:
        """Change a project like `PUT /projects/{id}` (custom properties merged, unvalidated) and `active`."""
        with self.lock:
            project = self._lookup(self._projects, project_id)
            self._commit(project, self._project_attrs(project.attrs, _unaliased(fields), seeding=True))
            return self._project_json(project)

    def update_company(self, company_id: int, **fields: Any) -> dict:
        """Change a company like `PUT /companies/{id}` (e.g. `name=`)."""
        with self.lock:
            company = self._lookup(self._companies, company_id)
            self._commit(company, self._company_attrs(company.attrs, fields, company.attrs["type"]))
            return self._company_json(company)

    def update_task(self, project_id: int, task_id: int, **fields: Any) -> dict:
        with self.lock:
            return self._update_task(self._lookup(self._projects, project_id), task_id, fields).json()

    def remove_task(self, project_id: int, task_id: int) -> None:
        """Delete a task like `DELETE /projects/{id}/tasks/{id}` (422 SimError once hours are tracked on it)."""
        with self.lock:
            project = self._lookup(self._projects, project_id)
            self._delete_task(project, self._lookup(self._tasks[project.id], task_id))

    def set_staffing(self, project_id: int, user_id: int, *, active: bool) -> dict:
        """End (`active=False`) or resume a user's contract on a project, like `PUT .../contracts/{id}`."""
        with self.lock:
            project = self._lookup(self._projects, project_id)
            [contract] = [c for c in self._contracts[project.id].values() if c.attrs["user_id"] == user_id]
            if self._commit(contract, {**contract.attrs, "active": active}):
                project.updated_at = contract.updated_at
            return self._contract_json(contract)

    def users(self) -> list[dict]:
        """Every user, deactivated ones included."""
        with self.lock:
            return [user.json() for user in self._users.values()]

    def add_contract(self, project_id: int, user_id: int) -> dict:
        """Staff a user on a project (like `POST /projects/{id}/contracts`; 422 SimError if already staffed)."""
        with self.lock:
            project = self._lookup(self._projects, project_id)
            return self._contract_json(self._create_contract(project, {"user_id": user_id}))

    def contracts(self, project_id: int) -> list[dict]:
        """All contracts of a project, inactive ones included, as `GET .../contracts/{id}` returns them."""
        with self.lock:
            project = self._lookup(self._projects, project_id)
            return [self._contract_json(contract) for contract in self._contracts[project.id].values()]

    def add_activity(
        self,
        *,
        user_id: int,
        project_id: int,
        task_id: int,
        date: date | str,
        seconds: int,
        description: str = "",
        billable: bool = True,
        remote_id: str | None = None,
        tag: str = "",
    ) -> dict:
        """An activity of `user_id`, under the rules of `POST /activities` (422 SimError if the user is not staffed,
        the task is not an active task of the project, ...)."""
        payload = {"date": date, "project_id": project_id, "task_id": task_id, "seconds": seconds}
        payload |= {"description": description, "billable": billable, "remote_id": remote_id, "tag": tag}
        with self.lock:
            if user_id not in self._users:
                raise ValueError(f"unknown user {user_id}")
            attrs, errors = self._activity_attrs(_ACTIVITY_DEFAULTS, payload, user_id)
            _reject(errors)
            return self._activity_json(self._insert(self._activities, "activity", attrs))

    def activities(self, **filters: Any) -> list[dict]:
        """Activities as the API returns them (sorted by date, then id) whose fields equal the given values, e.g.
        `remote_id="awork:1"`, `billed=True`; `user_id`, `project_id`, `task_id` and `company_id` compare the id of
        the referenced record, dates may be `date` objects. No filter: all activities."""
        wanted = {name: value.isoformat() if isinstance(value, date) else value for name, value in filters.items()}
        with self.lock:
            items = self._activity_list()
        if unknown := set(wanted) - set(_ACTIVITY_REFERENCE_FILTERS) - set(_ACTIVITY_KEYS):
            raise ValueError(f"unknown activity fields {sorted(unknown)}")
        return [item for item in items if all(_field_of(item, name) == value for name, value in wanted.items())]

    def bill_activity(self, activity_id: int) -> dict:
        """Mark an activity billed (`billed: true`, a made-up `invoice_id`), as invoicing it in MOCO would."""
        with self.lock:
            activity = self._lookup(self._activities, activity_id)
            attrs = {**activity.attrs, "billed": True}
            attrs["invoice_id"] = attrs["invoice_id"] or next(self._ids["invoice"])
            self._commit(activity, attrs)
            return self._activity_json(activity)

    def add_absence(
        self,
        *,
        user_id: int,
        date: date | str,
        absence_code: str = "4",
        am: bool = True,
        pm: bool = True,
        comment: str | None = None,
    ) -> dict:
        """An absence of `user_id` on one day, by the rules of `POST /schedules` (422 SimError when the day's half
        is taken); `absence_code` "1".."5" (unplannable absence, public holiday, sick day, holiday, absence)."""
        payload = {"date": date, "absence_code": absence_code, "am": am, "pm": pm, "comment": comment}
        with self.lock:
            return self._schedule_json(self._save_schedule(None, payload, user_id))

    def update_absence(self, schedule_id: int, **fields: Any) -> dict:
        """Change an absence like `PUT /schedules/{id}` (`date`, `absence_code`, `am`, `pm`, `comment`)."""
        with self.lock:
            schedule = self._lookup(self._schedules, schedule_id)
            return self._schedule_json(self._save_schedule(schedule, fields, schedule.attrs["user_id"]))

    def delete_absence(self, schedule_id: int) -> None:
        with self.lock:
            schedule = self._lookup(self._schedules, schedule_id)
            del self._schedules[schedule.id]
            self._notify(schedule, "delete")

    def absences(self) -> list[dict]:
        """Every absence as `GET /schedules` returns it (by date, then id)."""
        with self.lock:
            return self._schedule_list()

    def get_project(self, project_id: int) -> dict:
        with self.lock:
            return self._project_json(self._lookup(self._projects, project_id))

    def projects(self) -> list[dict]:
        with self.lock:
            return [self._project_json(project) for project in self._projects.values()]

    # --- storage --------------------------------------------------------------------------------------------
    def _tick(self) -> datetime:
        """The timestamp of a change: now, but at least a second after the previous change."""
        now = datetime.now(UTC).replace(microsecond=0)
        self._clock = max(now, self._clock + timedelta(seconds=1))
        return self._clock

    def _insert(
        self, table: dict[int, _Record], kind: str, attrs: dict[str, Any], at: datetime | None = None
    ) -> _Record:
        """Store a new record with the next id of `kind`; `at` lets records created together share one change."""
        stamp = at or self._tick()
        record = _Record(next(self._ids[kind]), attrs, stamp, stamp, kind)
        table[record.id] = record
        self._notify(record, "create")
        return record

    def _commit(self, record: _Record, attrs: dict[str, Any]) -> bool:
        """Replace a record's attributes; a real change bumps `updated_at`."""
        if attrs == record.attrs:
            return False
        record.attrs = attrs
        record.updated_at = self._tick()
        self._notify(record, "update")
        return True

    def _lookup(self, table: dict[int, _Record], raw_id: int | str) -> _Record:
        """The record with this id (as found in a path), else 404 `{"message": "Not found"}` (UNCONFIRMED: MOCO
        documents no 404 body)."""
        try:
            return table[int(raw_id)]
        except (KeyError, ValueError):
            raise self.not_found() from None

    # --- projects: rules and rendering ------------------------------------------------------------------------
    def _create_project(self, payload: Mapping[str, Any], *, seeding: bool, task_names: Sequence[str]) -> _Record:
        """Store a new project with its first tasks and a contract for its leader, all as one change."""
        defaults = {**_PROJECT_DEFAULTS, "leader_id": self.api_user_id}
        attrs = self._project_attrs(defaults, payload, seeding=seeding, creating=True)
        if not attrs["identifier"]:
            attrs["identifier"] = self._next_project_identifier()
        project = self._insert(self._projects, "project", attrs)
        self._tasks[project.id], self._contracts[project.id] = {}, {}
        for name in task_names:
            self._insert(self._tasks[project.id], "task", {**_TASK_DEFAULTS, "name": name}, project.created_at)
        if attrs["leader_id"]:
            contract = {"user_id": attrs["leader_id"], **_CONTRACT_DEFAULTS}
            self._insert(self._contracts[project.id], "contract", contract, project.created_at)
        return project

    def _next_project_identifier(self) -> str:
        """The automatic number range "P<yy><nnn>" (real: "P22033"), skipping numbers taken manually."""
        taken = {project.attrs["identifier"] for project in self._projects.values()}
        year = datetime.now(UTC).year % 100
        return next(number for n in self._project_numbers if (number := f"P{year:02d}{n:03d}") not in taken)

    def _update_project_route(self, request: SimRequest) -> JSON:
        project = self._lookup(self._projects, request.path_params["id"])
        self._commit(project, self._project_attrs(project.attrs, _payload(request), seeding=False))
        return self._project_json(project)

    def _set_project_active(self, request: SimRequest, active: bool) -> JSON:
        project = self._lookup(self._projects, request.path_params["id"])
        self._commit(project, {**project.attrs, "active": active})
        return self._project_json(project)

    def _project_attrs(
        self, current: Mapping[str, Any], payload: Mapping[str, Any], *, seeding: bool, creating: bool = False
    ) -> dict[str, Any]:
        """The project's attributes after a write, all or nothing: 422 with field errors (missing name or
        customer, unknown leader, taken identifier, invalid values or custom properties).

        Seeding (the Python API) also sets `active` and merges custom properties without validation.
        """
        attrs, errors = _fields(_PROJECT_CREATE_FIELDS if creating else _PROJECT_FIELDS, current, payload)
        references = {"customer_id": "company_id", "leader_id": "leader_id", "co_leader_id": "co_leader_id"}
        attrs |= {attr: payload[key] for attr, key in references.items() if key in payload}
        if attrs["customer_id"] not in self._companies:
            errors["customer"] = ["can't be blank"]
        for role in ("leader", "co_leader"):
            if attrs[f"{role}_id"] is not None and attrs[f"{role}_id"] not in self._users:
                errors[role] = ["is invalid"]
        taken = {p.attrs["identifier"] for p in self._projects.values() if p.attrs is not current}
        if attrs["identifier"] in taken:
            errors["identifier"] = ["has already been taken"]
        _require_name(attrs, errors)
        if seeding:
            attrs["custom_properties"] |= _seeded_custom_properties(payload.get("custom_properties") or {})
            attrs["active"] = bool(payload.get("active", attrs["active"]))
        elif "custom_properties" in payload:
            attrs["custom_properties"] = self._merged_custom_properties(
                "Project", attrs["custom_properties"], payload["custom_properties"], errors
            )
        _reject(errors)
        return attrs

    def _project_filters(self, request: SimRequest) -> list[Predicate]:
        predicates = _global_filters(request)
        if not _query_flag(request, "include_archived"):
            predicates.append(lambda project: project["active"])
        if identifiers := _comma_list(request, "identifier"):
            predicates.append(lambda project: project["identifier"] in identifiers)
        if company_ids := _comma_list(request, "company_id"):
            predicates.append(lambda project: str(project["customer"]["id"]) in company_ids)
        if tags := _comma_list(request, "tags"):
            predicates.append(lambda project: tags <= set(project["tags"]))
        return predicates + list(self._custom_property_filters(request, "Project"))

    def _project_json(self, project: _Record, full_customer: bool = False) -> JSON:
        """The project as MOCO returns it, tasks and contracts embedded; `start_date` is left out while unset
        (real responses omit it) and `deal` is always null (deals are not simulated)."""
        attrs = copy.deepcopy(project.attrs)
        references = {name: attrs.pop(name) for name in _PROJECT_REFERENCES}
        if attrs["start_date"] is None:
            del attrs["start_date"]
        customer = self._companies[references["customer_id"]]
        return {
            "id": project.id,
            **attrs,
            "labels": list(attrs["tags"]),
            "leader": self._user_ref(references["leader_id"]),
            "co_leader": self._user_ref(references["co_leader_id"]),
            "customer": self._company_json(customer) if full_customer else self._company_ref(customer),
            "tasks": [_task_ref(task) for task in self._tasks[project.id].values()],
            "contracts": [self._contract_ref(contract) for contract in self._contracts[project.id].values()],
            "deal": None,
            **_timestamps(project),
        }

    def _contract_ref(self, contract: _Record) -> JSON:
        """A contract as embedded in its project: no timestamps."""
        attrs = copy.deepcopy(contract.attrs)
        user = self._users[attrs["user_id"]].attrs
        return {"id": contract.id, "user_id": attrs.pop("user_id"), **_names(user), **attrs}

    def _contract_json(self, contract: _Record) -> JSON:
        """A contract as the contracts endpoints return it (as recorded: without the spec's optional `project`)."""
        return self._contract_ref(contract) | _timestamps(contract)

    def _user_ref(self, user_id: int | None) -> JSON:
        if user_id is None:
            return None
        user = self._users[user_id].attrs
        return {"id": user_id, "firstname": user["firstname"], "lastname": user["lastname"]}

    # --- tasks ------------------------------------------------------------------------------------------------
    def _task_of(self, request: SimRequest) -> _Record:
        project = self._lookup(self._projects, request.path_params["project_id"])
        return self._lookup(self._tasks[project.id], request.path_params["id"])

    def _insert_task(self, project: _Record, attrs: dict[str, Any]) -> _Record:
        """Store a task; its creation is also a change of the project."""
        task = self._insert(self._tasks[project.id], "task", attrs)
        project.updated_at = task.updated_at
        return task

    def _delete_task(self, project: _Record, task: _Record) -> None:
        """Remove a task (422 once hours were tracked on it); a change of its project."""
        if self._has_activities(task_id=task.id):
            raise SimError(422, {"errors": {"base": ["Task has activities and cannot be deleted"]}})
        del self._tasks[project.id][task.id]
        self._notify(task, "delete")
        project.updated_at = self._tick()

    def _update_task_route(self, request: SimRequest) -> JSON:
        project = self._lookup(self._projects, request.path_params["project_id"])
        return self._update_task(project, request.path_params["id"], _payload(request)).json()

    def _update_task(self, project: _Record, task_id: int | str, payload: Mapping[str, Any]) -> _Record:
        """Apply a task write (422 on blank name or invalid values); a real change also bumps the project."""
        task = self._lookup(self._tasks[project.id], task_id)
        attrs, errors = _fields(_TASK_FIELDS, task.attrs, payload)
        _require_name(attrs, errors)
        _reject(errors)
        if self._commit(task, attrs):
            project.updated_at = task.updated_at
        return task

    # --- contracts --------------------------------------------------------------------------------------------
    def _contract_of(self, request: SimRequest) -> tuple[_Record, _Record]:
        project = self._lookup(self._projects, request.path_params["project_id"])
        return project, self._lookup(self._contracts[project.id], request.path_params["id"])

    def _create_contract(self, project: _Record, payload: Mapping[str, Any]) -> _Record:
        """Store a contract; 422 when the user is missing, unknown or deactivated (UNCONFIRMED for deactivated), or
        already has a contract on the project, active or not (UNCONFIRMED: one contract per user and project;
        reactivate with PUT `active: true`). Bumps the project's `updated_at`."""
        attrs, errors = _fields(_CONTRACT_FIELDS, _CONTRACT_DEFAULTS, payload)
        user_id = _reference(payload.get("user_id"))
        user = self._users.get(user_id or 0)
        if user_id is None:
            errors["user"] = ["can't be blank"]
        elif user is None or not user.attrs["active"]:
            errors["user"] = ["is invalid"]
        elif any(c.attrs["user_id"] == user_id for c in self._contracts[project.id].values()):
            errors["user_id"] = ["has already been taken"]
        _reject(errors)
        contract = self._insert(self._contracts[project.id], "contract", {"user_id": user_id, **attrs})
        project.updated_at = contract.updated_at
        return contract

    def _update_contract_route(self, request: SimRequest) -> JSON:
        """Update billable, active, budget, hourly_rate (`user_id` is ignored: it cannot change); a real change
        also bumps the project's `updated_at`."""
        project, contract = self._contract_of(request)
        attrs, errors = _fields(_CONTRACT_FIELDS, contract.attrs, _payload(request))
        _reject(errors)
        if self._commit(contract, attrs):
            project.updated_at = contract.updated_at
        return self._contract_json(contract)

    def _staffed(self, project_id: int, user_id: int) -> bool:
        """Whether the user has an active contract on the project."""
        contracts = self._contracts[project_id].values()
        return any(c.attrs["user_id"] == user_id and c.attrs["active"] for c in contracts)

    # --- activities -------------------------------------------------------------------------------------------
    def _has_activities(self, **references: int) -> bool:
        """Whether an activity has all the given `project_id`, `task_id`, `user_id`."""
        return any(
            all(activity.attrs[name] == value for name, value in references.items())
            for activity in self._activities.values()
        )

    def _activity_list(self, with_rate: bool = True) -> list[JSON]:
        ordered = sorted(self._activities.values(), key=lambda activity: (activity.attrs["date"], activity.id))
        return [self._activity_json(activity, with_rate) for activity in ordered]

    def _sees_rates(self, request: SimRequest) -> bool:
        """Whether an activity's `hourly_rate` ("Effective hourly rate if visible to caller") is shown: only to the
        key's own user. UNCONFIRMED: MOCO decides by the acting user's permissions; a real create impersonating a
        fresh user came back without it, and we treat every impersonated user alike."""
        return self._acting_user(request) == self.api_user_id

    def _activity_attrs(
        self, current: Mapping[str, Any], payload: Mapping[str, Any], user_id: int
    ) -> tuple[dict[str, Any], Errors]:
        """An activity's attributes after a write by (or for) `user_id`, and the field errors that reject it.

        `seconds` wins over the deprecated `hours` (converted, rounded to whole seconds); `billable` defaults to the
        project's `billable` on create (UNCONFIRMED: docs say "true or dependent on project configuration");
        `company_id` and `stop_timer` are ignored (no timers are simulated). Rules, checked on every write:
        `date` present and `YYYY-MM-DD`; `seconds` >= 0; `remote_service` one of MOCO's services or ""
        (`remote_id`/`remote_url` need no service); the project exists and is active; the user has an active
        contract on it (UNCONFIRMED - booking unstaffed is undocumented: `{"project": [NOT_STAFFED]}`); the
        task belongs to the project and is active.
        """
        attrs, errors = _fields(_ACTIVITY_FIELDS, current, payload)
        if "hours" in payload and "seconds" not in payload:
            try:
                attrs["seconds"] = _hours_as_seconds(payload["hours"])
            except ValueError as exc:
                errors["hours"] = [str(exc)]
        for name in ("project_id", "task_id"):
            if name in payload:
                attrs[name] = _reference(payload[name])
        if attrs["date"] is None and "date" not in errors:
            errors["date"] = ["can't be blank"]
        creating = current.get("user_id") is None
        attrs["user_id"] = user_id
        project = self._projects.get(attrs["project_id"] or 0)
        if project is None:
            errors["project"] = ["can't be blank" if attrs["project_id"] is None else "is invalid"]
        elif not project.attrs["active"]:
            errors["project"] = ["is archived"]
        elif not self._staffed(project.id, user_id):
            errors["project"] = [NOT_STAFFED]
        task = self._tasks[project.id].get(attrs["task_id"] or 0) if project else None
        if attrs["task_id"] is None:
            errors["task"] = ["can't be blank"]
        elif project is not None and task is None:
            errors["task"] = ["is not a task of the project"]
        elif task is not None and not task.attrs["active"]:
            errors["task"] = ["is inactive"]
        if creating and "billable" not in payload and project is not None:
            attrs["billable"] = project.attrs["billable"]
        return attrs, errors

    def _editable_activity(self, request: SimRequest) -> _Record:
        """The activity a PUT, PATCH or DELETE addresses, if the request may change it.

        UNCONFIRMED rules: 403 `{"errors": ["Access denied"]}` unless the acting user owns it (impersonate the
        owner); 422 `{"errors": {"base": ["..."]}}` once billed (docs: deletion "only possible if this activity has
        not yet been billed"; we refuse updates alike).
        """
        activity = self._lookup(self._activities, request.path_params["id"])
        if activity.attrs["user_id"] != self._acting_user(request):
            raise SimError(403, ACCESS_DENIED)
        if activity.attrs["billed"]:
            raise SimError(422, {"errors": {"base": ["Billed activities cannot be changed or deleted"]}})
        return activity

    def _update_activity_route(self, request: SimRequest) -> JSON:
        """PUT and PATCH alike: only the fields sent change, under the rules of create."""
        activity = self._editable_activity(request)
        attrs, errors = self._activity_attrs(activity.attrs, _payload(request), activity.attrs["user_id"])
        _reject(errors)
        self._commit(activity, attrs)
        return self._activity_json(activity, self._sees_rates(request))

    def _activity_rate(self, project: _Record, task: _Record, user_id: int) -> float:
        """The hourly rate by the project's billing variant: the project's, the task's or the user's contract rate
        (UNCONFIRMED: MOCO also knows account-wide and per-user rates)."""
        variant = project.attrs["billing_variant"]
        if variant == "task":
            return float(task.attrs["hourly_rate"])
        if variant == "user":
            contracts = self._contracts[project.id].values()
            return next((float(c.attrs["hourly_rate"]) for c in contracts if c.attrs["user_id"] == user_id), 0.0)
        return float(project.attrs["hourly_rate"])

    def _activity_json(self, activity: _Record, with_rate: bool = True) -> JSON:
        """The activity as MOCO returns it: `hours` = seconds / 3600 rounded to 2 decimals, `worked_seconds` =
        `seconds` (no rounding rules simulated), project, task, customer and user as references; `hourly_rate`
        only `with_rate` (see `_sees_rates`)."""
        attrs = activity.attrs
        project = self._projects[attrs["project_id"]]
        task = self._tasks[project.id][attrs["task_id"]]
        keys = ("description", "billed", "invoice_id", "billable", "tag", "remote_service", "remote_id", "remote_url")
        body = {
            "id": activity.id,
            "date": attrs["date"],
            "hours": round(attrs["seconds"] / 3600, 2),
            "seconds": attrs["seconds"],
            "worked_seconds": attrs["seconds"],
            **{key: attrs[key] for key in keys},
            "project": {"id": project.id, "name": project.attrs["name"], "billable": project.attrs["billable"]},
            "task": {"id": task.id, "name": task.attrs["name"], "billable": task.attrs["billable"]},
            "customer": self._company_ref(self._companies[project.attrs["customer_id"]]),
            "user": self._user_ref(attrs["user_id"]),
            "hourly_rate": self._activity_rate(project, task, attrs["user_id"]),
            "timer_started_at": attrs["timer_started_at"],
            **_timestamps(activity),
        }
        if not with_rate:
            del body["hourly_rate"]
        return body

    # --- schedules ----------------------------------------------------------------------------------------------
    def _schedule_list(self) -> list[JSON]:
        ordered = sorted(self._schedules.values(), key=lambda schedule: (schedule.attrs["date"], schedule.id))
        return [self._schedule_json(schedule) for schedule in ordered]

    def _update_schedule_route(self, request: SimRequest) -> JSON:
        """PUT and PATCH alike: only the fields sent change (`user_id` too), under the rules of create."""
        schedule = self._lookup(self._schedules, request.path_params["id"])
        payload = _payload(request)
        user_id = _reference(payload.get("user_id")) or schedule.attrs["user_id"]
        return self._schedule_json(self._save_schedule(schedule, payload, user_id))

    def _save_schedule(
        self, schedule: _Record | None, payload: Mapping[str, Any], user_id: int, *, overwrite: bool = False
    ) -> _Record:
        """Create (`schedule` None) or update an absence of `user_id`; 422 with field errors when `date` or
        `absence_code` is missing or invalid or the user is unknown or deactivated. UNCONFIRMED (the docs are
        silent): `am` and `pm` both false is 422 (an absence covers at least half a day), and a half day the user
        already has an absence on is 422 `date: has already been taken` (unless `overwrite` on create)."""
        current = schedule.attrs if schedule else {**_SCHEDULE_DEFAULTS, "absence_code": None}
        attrs, errors = _fields(_SCHEDULE_FIELDS, current, payload)
        user = self._users.get(user_id)
        if user is None or not user.attrs["active"]:
            errors["user"] = ["is invalid"]
        attrs["user_id"] = user_id
        for name in ("date", "absence_code"):
            if attrs[name] is None and name not in errors:
                errors[name] = ["can't be blank"]
        if not (attrs["am"] or attrs["pm"]):
            errors["base"] = ["an absence covers the morning, the afternoon or both"]
        clashing = [other for other in self._schedules.values() if other is not schedule and _clash(other, attrs)]
        if clashing and not overwrite:
            errors.setdefault("date", []).append("has already been taken")
        _reject(errors)
        if schedule is None:
            for other in clashing:
                del self._schedules[other.id]
                self._notify(other, "delete")
            return self._insert(self._schedules, "schedule", attrs)
        self._commit(schedule, attrs)
        return schedule

    def _schedule_json(self, schedule: _Record) -> JSON:
        """The absence as MOCO shows it: the kind as `assignment` (with the agency's name as `customer_name`, as
        in the documented example), the user as a reference."""
        attrs = schedule.attrs
        kind = ABSENCE_KINDS[attrs["absence_code"]]
        assignment = {"id": kind["id"], "name": kind["name"], "code": attrs["absence_code"]}
        assignment |= {"customer_name": INTERNAL_COMPANY_NAME, "color": kind["color"], "type": "Absence"}
        body = {"id": schedule.id, **{key: attrs[key] for key in ("date", "comment", "am", "pm", "symbol")}}
        return body | {"assignment": assignment, "user": self._user_ref(attrs["user_id"]), **_timestamps(schedule)}

    # --- companies ----------------------------------------------------------------------------------------------
    def _create_company(self, payload: Mapping[str, Any]) -> _Record:
        company_type = payload["type"]
        defaults = {"type": company_type, **_COMPANY_DEFAULTS, "user_id": self.api_user_id}
        attrs = self._company_attrs(defaults | _TYPE_DEFAULTS[company_type], payload, company_type)
        if company_type == "customer" and not attrs["identifier"]:
            attrs["identifier"] = self._next_customer_identifier()
        return self._insert(self._companies, "company", attrs)

    def _next_customer_identifier(self) -> str:
        """The automatic customer number range "K0001", ... (real: "K0011"), skipping numbers taken manually."""
        taken = {company.attrs.get("identifier") for company in self._companies.values()}
        return next(number for n in self._customer_numbers if (number := f"K{n:04d}") not in taken)

    def _company_attrs(
        self, current: Mapping[str, Any], payload: Mapping[str, Any], company_type: str
    ) -> dict[str, Any]:
        """The company's attributes after a write, all or nothing; 422 for a blank name, an unknown responsible
        user, invalid values or custom properties."""
        attrs, errors = _fields(_COMPANY_FIELDS | _TYPE_FIELDS[company_type], current, payload)
        if "user_id" in payload:
            attrs["user_id"] = payload["user_id"]
            if payload["user_id"] not in self._users:
                errors["user"] = ["is invalid"]
        _require_name(attrs, errors)
        if "custom_properties" in payload:
            attrs["custom_properties"] = self._merged_custom_properties(
                "Company", attrs["custom_properties"], payload["custom_properties"], errors
            )
        _reject(errors)
        return attrs

    def _internal_company(self) -> int:
        """The agency's own company (`intern: true`), created on first use."""
        if self._internal_company_id is None:
            company = self._create_company({"name": INTERNAL_COMPANY_NAME, "type": "customer"})
            company.attrs["intern"] = True
            self._internal_company_id = company.id
        return self._internal_company_id

    def _company_json(self, company: _Record) -> JSON:
        """The company as MOCO returns it: customers with VAT and their projects, suppliers with `iban`.

        `billing_vat.id` is made up (a VAT code id of the account); `active` is always true (archiving companies
        is not simulated).
        """
        attrs = copy.deepcopy(company.attrs)
        user = self._user_ref(attrs.pop("user_id"))
        body = {"id": company.id, **attrs, "user": user, "labels": list(attrs["tags"])}
        if attrs["type"] == "customer":
            tax = attrs["billing_tax"]
            body["billing_vat"] = {"id": round(tax * 100), "tax": tax, "reverse_charge": False, "intra_eu": False}
            projects = self._projects.values()
            body["projects"] = [_project_summary(p) for p in projects if p.attrs["customer_id"] == company.id]
        return body | _timestamps(company)

    @staticmethod
    def _company_ref(company: _Record) -> JSON:
        return {"id": company.id, "name": company.attrs["name"]}

    # --- custom properties ------------------------------------------------------------------------------------
    def _definition(self, entity: str, name: str) -> JSON | None:
        record = self._definition_record(entity, name)
        return record.attrs if record else None

    def _definition_record(self, entity: str, name: str) -> _Record | None:
        found = (d for d in self._definitions.values() if (d.attrs["entity"], d.attrs["name"]) == (entity, name))
        return next(found, None)

    def _existing_definition(self, entity: str, name: str) -> _Record:
        record = self._definition_record(entity, name)
        if record is None:
            raise KeyError(f"{entity} has no custom property named {name!r}")
        return record

    def _merged_custom_properties(
        self, entity: str, current: Mapping[str, Any], written: Any, errors: Errors
    ) -> dict[str, Any]:
        """Written values merged into the current ones, as MOCO does since 2024: names unknown for the entity are
        ignored, and so are null values (UNCONFIRMED: keys cannot be removed via the API); invalid values (see
        `_custom_value`) and a total JSON size over 12 kB are 422 errors.

        UNCONFIRMED: the error body is MOCO's field-keyed form with one message per problem, each naming the field,
        `{"errors": {"custom_properties": ["Go-live is not a valid date"]}}`; custom properties that are not an
        object are `{"errors": {"custom_properties": ["must be an object keyed by custom field name"]}}`. The write
        is all or nothing: no other field of the request changes either."""
        if not isinstance(written, Mapping):
            errors["custom_properties"] = ["must be an object keyed by custom field name"]
            return dict(current)
        merged, problems = dict(current), []
        for name, value in written.items():
            definition = self._definition(entity, name)
            if definition is None or value is None:
                continue
            try:
                stored = _custom_value(definition, value)
            except ValueError as exc:
                problems.append(f"{name} {exc}")
                continue
            if stored is not None:
                merged[name] = stored
        if len(json.dumps(merged, ensure_ascii=False).encode()) > CUSTOM_PROPERTIES_MAX_BYTES:
            problems.append("are too large (at most 12 kB in total)")
        if problems:
            errors["custom_properties"] = problems
        return merged

    def _custom_property_filters(self, request: SimRequest, entity: str) -> Iterator[Predicate]:
        """Predicates for `custom_properties[Name]=value` (and `[Name][]=` for MultiSelect); an unknown name matches
        nothing ("Filtering by an unknown custom field will result in an empty result set")."""
        for key, values in request.query.items():
            if match := _CUSTOM_PROPERTY_PARAM.match(key):
                definition = self._definition(entity, match["name"])
                yield partial(_custom_property_matches, definition, values) if definition else _nothing
