"""The rules of `timebridge doctor`, as pure functions: each turns facts already read into a `Check`: OK, a PROBLEM
with its fix, or INFO (a fact that is normal but worth knowing, such as an awork freelancer without MOCO account)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from connectors.awork import AworkUser
from connectors.moco import MocoCustomProperty, MocoUser
from models.upwork_store import CONNECTED, DISCONNECTED
from tasks.project_rules import ImportNames, normalize_name

Status = Literal["OK", "PROBLEM", "INFO"]
OK: Status = "OK"
PROBLEM: Status = "PROBLEM"
INFO: Status = "INFO"

MOCO_WINDOW_SECONDS = 120  # MOCO's limits are per 2 minutes: 120 requests (standard plan), 1200 (unlimited plan)
MOCO_UNLIMITED_LIMIT = 1200
KIND_LABELS = {
    "String": "Single-line text",
    "Textarea": "Multi-line text",
    "Link": "Link",
    "Boolean": "Yes/No",
    "Select": "Single choice",
    "MultiSelect": "Multiple choice",
    "Date": "Date",
}
MOCO_KEY_FIX = (
    "create an account API key with full access in MOCO (Settings > Extensions > API & Webhooks) and set "
    "TIMEBRIDGE_MOCO_API_KEY to it"
)
DEPLOY_FIX = "deploy again: `prefect --no-prompt deploy --all` in the checkout (workers), or `timebridge serve`"


class Check(BaseModel):
    """One line of the doctor's answer: what was checked, how it stands, what was found, and what to do."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name=name, status=OK, detail=detail)


def problem(name: str, detail: str, fix: str) -> Check:
    return Check(name=name, status=PROBLEM, detail=detail, fix=fix)


def info(name: str, detail: str, fix: str = "") -> Check:
    return Check(name=name, status=INFO, detail=detail, fix=fix)


def all_well(checks: Iterable[Check]) -> bool:
    """No check found a problem (information is fine)."""
    return not any(check.status == PROBLEM for check in checks)


def quoted(names: Iterable[str]) -> str:
    """Names in quotes, so stray spaces show: 'Website ', 'Kampagne'."""
    return ", ".join(f"'{name}'" for name in names)


# --- MOCO -----------------------------------------------------------------------------------------------------------
def moco_access_check(user_id: int, can_write: bool) -> Check:
    """The key is valid (it was read with); it must be allowed to write."""
    if can_write:
        return ok("MOCO API key", f"valid, full access (acts as MOCO user {user_id})")
    return problem(
        "MOCO API key",
        "valid but read-only: the import writes the awork link to MOCO projects and the push writes activities",
        MOCO_KEY_FIX,
    )


def moco_plan_check(account_limit: int | None, limit: int, window_seconds: float) -> Check:
    """The account's rate limit (per 2 minutes, when MOCO names it) against what timebridge is set to send."""
    name = "MOCO rate limit"
    configured = limit * MOCO_WINDOW_SECONDS / window_seconds  # requests per 2 minutes
    sends = f"timebridge sends at most {configured:g} requests per 2 minutes"
    if account_limit is None:
        return info(
            name,
            f"MOCO does not name the account's plan; {sends} (the standard plan allows 120, the unlimited plan 1200)",
        )
    plan = "unlimited plan" if account_limit >= MOCO_UNLIMITED_LIMIT else "standard plan"
    allows = f"the account's {plan} allows {account_limit} requests per 2 minutes"
    setting = f"set TIMEBRIDGE_MOCO_RATE_LIMIT={account_limit} and TIMEBRIDGE_MOCO_RATE_WINDOW_SECONDS=120"
    if configured > account_limit:
        return problem(name, f"{allows}, but {sends}: MOCO will refuse requests (429) and runs slow down", setting)
    if configured < account_limit:
        return info(name, f"{allows}; {sends}, so runs take longer than they need to", setting)
    return ok(name, f"{allows}, as configured")


@dataclass(frozen=True)
class FieldSpec:
    """A MOCO project custom field the sync needs: its name, MOCO's kind, and the setting that names it."""

    name: str
    kind: str
    setting: str

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


def field_specs(names: ImportNames) -> list[FieldSpec]:
    return [
        FieldSpec(names.link_field, "Link", "TIMEBRIDGE_MOCO_AWORK_LINK_FIELD"),
        FieldSpec(names.sync_field, "Boolean", "TIMEBRIDGE_MOCO_SYNC_FIELD"),
        FieldSpec(names.template_field, "Select", "TIMEBRIDGE_MOCO_TEMPLATE_FIELD"),
    ]


def custom_field_checks(
    definitions: Sequence[MocoCustomProperty], names: ImportNames, templates: Sequence[str] | None
) -> list[Check]:
    """One check per custom field the sync needs: it exists on projects, with the right type; the template field's
    options name awork templates (`templates`: their names; None when awork could not be read)."""
    on_projects = [d for d in definitions if d.entity == "Project"]
    by_name = {d.name: d for d in on_projects}
    return [field_check(spec, by_name.get(spec.name), on_projects, templates) for spec in field_specs(names)]


def field_check(
    spec: FieldSpec,
    definition: MocoCustomProperty | None,
    on_projects: Sequence[MocoCustomProperty],
    templates: Sequence[str] | None,
) -> Check:
    name = f"MOCO field '{spec.name}'"
    if definition is None:
        similar = [d.name for d in on_projects if normalize_name(d.name) == normalize_name(spec.name)]
        seen = f" (MOCO has {quoted(similar)})" if similar else ""
        return problem(
            name,
            f"projects have no custom field of this name{seen}",
            f"create the project custom field '{spec.name}' of type {spec.label} in MOCO (Settings > Custom "
            f"fields), or set {spec.setting} to the name of yours",
        )
    if definition.kind != spec.kind:
        return problem(
            name,
            f"is of type {KIND_LABELS.get(definition.kind, definition.kind)}, the sync needs {spec.label}",
            f"MOCO cannot change a field's type: rename this field and create '{spec.name}' anew as {spec.label}",
        )
    if spec.kind == "Select":
        return template_options_check(name, definition.defaults, templates)
    return ok(name, f"{spec.label} field on projects")


def template_options_check(name: str, options: Sequence[str], templates: Sequence[str] | None) -> Check:
    """The template field's options: each names an awork project template (as the import compares names), and
    none has leading, trailing or double spaces. An empty option (MOCO allows one) means "no template"."""
    if templates is None:
        return info(name, "Single choice field; its options were not compared with awork (awork could not be read)")
    named = [option for option in options if option.strip()]
    if not named:
        return problem(name, "has no options", "add the names of your awork project templates as its options")
    known = {normalize_name(template) for template in templates}
    unknown = [option for option in named if normalize_name(option) not in known]
    spaced = [option for option in named if option != " ".join(option.split())]
    if not unknown and not spaced:
        return ok(name, f"Single choice field; its options {quoted(named)} name awork project templates")
    details, fixes = [], []
    if unknown:
        details.append(f"options naming no awork project template: {quoted(unknown)}")
        fixes.append(
            f"create those templates in awork or change the options to templates awork has ({quoted(templates)})"
        )
    if spaced:
        details.append(f"options with stray spaces: {quoted(spaced)}")
        fixes.append("remove the leading, trailing or double spaces of the options in MOCO (Settings > Custom fields)")
    return problem(name, "; ".join(details), "; ".join(fixes))


def sync_tag_check(tag: str, tagged: int, field: str, flagged: int) -> Check:
    """Projects are flagged for sync by the tag or the field. A tag nobody uses is worth knowing (a misspelt
    setting?) but normal when the field flags projects; nothing flagged at all is a problem."""
    name = "MOCO sync tag"
    by_field = f"{flagged} project(s) have '{field}' set to yes"
    tag_fix = f"tag the MOCO projects to sync with '{tag}', or set TIMEBRIDGE_MOCO_SYNC_TAG to the tag they carry"
    if tagged:
        return ok(name, f"{tagged} project(s) carry the tag '{tag}'; {by_field}")
    if flagged:
        return info(name, f"no active project carries the tag '{tag}'; {by_field}", tag_fix)
    return problem(name, f"no active project carries the tag '{tag}' or has '{field}' set to yes", tag_fix)


# --- awork ----------------------------------------------------------------------------------------------------------
def workspace_address(workspace_url: str | None) -> str | None:
    """Where people open the workspace: awork's `url` of a workspace is its subdomain of awork.com (the sandbox's
    "sandbox" is https://sandbox.awork.com); a full URL or host is taken as it is."""
    if not workspace_url:
        return None
    if "://" in workspace_url:
        return workspace_url.rstrip("/")
    host = workspace_url if "." in workspace_url else f"{workspace_url}.awork.com"
    return f"https://{host}"


def app_url_check(app_url: str, workspace_url: str | None) -> Check:
    """TIMEBRIDGE_AWORK_APP_URL is set (the links written back to MOCO use it) and is the workspace's address."""
    name = "awork app URL"
    address = workspace_address(workspace_url)
    example = address or "https://<workspace>.awork.com"
    if not app_url:
        return problem(
            name,
            "TIMEBRIDGE_AWORK_APP_URL is not set: the import cannot write awork links back to MOCO",
            f"set TIMEBRIDGE_AWORK_APP_URL={example}",
        )
    if address and urlsplit(app_url).hostname != urlsplit(address).hostname:
        return problem(
            name,
            f"{app_url} is not the workspace's address {address}: links in MOCO would lead elsewhere",
            f"set TIMEBRIDGE_AWORK_APP_URL={address}",
        )
    return ok(name, f"{app_url}")


# --- people ---------------------------------------------------------------------------------------------------------
def people_checks(
    moco_users: Sequence[MocoUser], awork_users: Sequence[AworkUser], moco_key_user: int, awork_key_user: str
) -> list[Check]:
    """Active MOCO users need an awork account with the same e-mail (case ignored); awork users without a MOCO
    account are normal (freelancers), their time just does not reach MOCO. The API keys' own users are left out."""
    awork_emails = {user.email.lower() for user in awork_users if user.email}
    moco_emails = {user.email.lower() for user in moco_users if user.email}
    people = [user for user in moco_users if user.id != moco_key_user and user.active]
    without_awork = [user for user in people if not user.email or user.email.lower() not in awork_emails]
    others = [user for user in awork_users if user.id != awork_key_user]
    without_moco = [user for user in others if not user.email or user.email.lower() not in moco_emails]
    checks = []
    if without_awork:
        listed = ", ".join(f"{user.firstname} {user.lastname} ({user.email or 'no e-mail'})" for user in without_awork)
        checks.append(
            problem(
                "MOCO users in awork",
                f"{len(without_awork)} MOCO user(s) without an awork account of the same e-mail: {listed}",
                "invite them to awork with their MOCO e-mail (or correct the e-mail on one side); deactivate MOCO "
                "users who have left",
            )
        )
    else:
        checks.append(ok("MOCO users in awork", f"all {len(people)} active MOCO users have an awork account"))
    if without_moco:
        listed = ", ".join(f"{user.name} ({user.email or 'no e-mail'})" for user in without_moco)
        checks.append(
            info(
                "awork users in MOCO",
                f"{len(without_moco)} awork user(s) without a MOCO account (normal for freelancers; their time is "
                f"not pushed to MOCO): {listed}",
            )
        )
    else:
        checks.append(ok("awork users in MOCO", f"all {len(others)} awork users have a MOCO account"))
    return checks


# --- Upwork, store, Prefect -----------------------------------------------------------------------------------------
def upwork_check(configured: bool, status: str | None, acting_as: str | None, selected: int) -> Check:
    """The Upwork connection: needed once an Upwork API key is configured (`configured`); `status` is the stored
    connection's (None: never connected), `acting_as` who Upwork says the connection is (None: not asked)."""
    name = "Upwork connection"
    if not configured and status in (None, DISCONNECTED):
        return info(name, "not configured (TIMEBRIDGE_UPWORK_CLIENT_ID is not set): the Upwork flows do nothing")
    if status is None:
        return problem(name, "not connected", "run `timebridge upwork connect` and approve the access at Upwork")
    if status == DISCONNECTED:
        return problem(
            name,
            "disconnected: the Upwork flows stop with 'upwork not connected'",
            "run `timebridge upwork connect` again, or unset TIMEBRIDGE_UPWORK_CLIENT_ID if Upwork is no longer used",
        )
    if status != CONNECTED:  # needs re-authorization
        return problem(
            name,
            "needs re-authorization: Upwork refused the refresh token (expired or revoked)",
            "run `timebridge upwork connect` again (mappings and synced entries are kept)",
        )
    return ok(name, f"connected as {acting_as or 'an unnamed user'}; {selected} organisation(s) selected")


def store_check(where: str, revision: str | None, known: Sequence[str]) -> Check:
    """The store's schema is at the latest migration (`known`: every revision, oldest first)."""
    latest = known[-1]
    if revision == latest:
        return ok("store", f"{where}, schema at the latest revision {latest}")
    if revision is None:
        return problem("store", f"{where} has no timebridge tables yet", "run `timebridge db upgrade`")
    if revision not in known:
        return problem(
            "store",
            f"{where} is at revision {revision}, which this timebridge does not know (a newer one migrated it)",
            "update this checkout to the version that migrated the store",
        )
    return problem(
        "store", f"{where} is at revision {revision}, timebridge needs {latest}", "run `timebridge db upgrade`"
    )


class DeployedSchedule(BaseModel):
    slug: str | None = None
    active: bool = True


class Deployed(BaseModel):
    """A deployment as the Prefect server has it."""

    name: str
    paused: bool = False
    schedules: list[DeployedSchedule] = []


def deployment_checks(specs: Sequence[Mapping[str, Any]], deployed: Mapping[str, Deployed]) -> list[Check]:
    """Each deployment of prefect.yaml is on the server, not paused, with each of its schedules (by slug) active."""
    return [deployment_check(spec, deployed.get(spec["name"])) for spec in specs]


def deployment_check(spec: Mapping[str, Any], found: Deployed | None) -> Check:
    name = f"deployment {spec['name']}"
    if found is None:
        return problem(name, "not on the Prefect server", DEPLOY_FIX)
    if found.paused:
        return problem(name, "paused: no scheduled runs", f"resume it: `prefect deployment resume '*/{spec['name']}'`")
    wanted = [s["slug"] for s in spec.get("schedules") or [] if s.get("active", True)]
    active = {s.slug for s in found.schedules if s.active}
    present = {s.slug for s in found.schedules}
    missing = [slug for slug in wanted if slug not in present]
    if missing:
        return problem(name, f"schedule(s) missing: {', '.join(missing)}", DEPLOY_FIX)
    paused = [slug for slug in wanted if slug not in active]
    if paused:
        return problem(
            name,
            f"schedule(s) paused: {', '.join(paused)}",
            "activate them in the Prefect UI (the deployment's schedules)",
        )
    return ok(name, f"schedules: {', '.join(wanted)}" if wanted else "on demand (no schedule)")
