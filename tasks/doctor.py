"""`timebridge doctor` and the flow `doctor`: read the setup through the connectors, the store and the Prefect API,
and judge it with the rules of `tasks.doctor_rules`. Plain functions, no Prefect tasks: the command runs them
without any Prefect API, the flow in one go. Nothing is written (MOCO's access probe is a write that cannot
succeed, see `MocoClient.can_write`), except what a live Upwork call does anyway: refresh an expiring token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from connectors.awork import AworkClient, AworkMe, AworkUser
from connectors.http import ApiError, AuthError
from connectors.moco import MocoClient, MocoCustomProperty, MocoKey, MocoUser
from connectors.upwork import ReauthorizationNeeded
from models.migrate import current, revisions
from models.secrets import SecretKeyError
from models.settings import Settings
from models.store import engine_for
from models.upwork_store import CONNECTED, NEEDS_REAUTHORIZATION
from tasks.doctor_rules import (
    MOCO_KEY_FIX,
    OK,
    PROBLEM,
    Check,
    Deployed,
    DeployedSchedule,
    app_url_check,
    custom_field_checks,
    deployment_checks,
    info,
    moco_access_check,
    moco_plan_check,
    ok,
    people_checks,
    problem,
    store_check,
    sync_tag_check,
    upwork_check,
)
from tasks.import_projects import import_names
from tasks.shared import upwork_client, upwork_store

DOCTOR_ATTEMPTS = 2  # a doctor answers soon: one retry of a failed request, not the runs' six
AWORK_KEY_FIX = "create an API key in awork (Settings > Integrations > API) and set TIMEBRIDGE_AWORK_API_KEY to it"
UPWORK = "Upwork connection"


@dataclass
class MocoFacts:
    key: MocoKey
    can_write: bool
    fields: list[MocoCustomProperty]
    tagged: int
    flagged: int
    users: list[MocoUser]


@dataclass
class AworkFacts:
    me: AworkMe
    templates: list[str]
    users: list[AworkUser]


def run_checks(settings: Settings, deployments: Sequence[Mapping[str, Any]]) -> list[Check]:
    """Every check, in the order the doctor prints them: MOCO, awork, the people on both sides, the store, Upwork,
    Prefect (`deployments`: the entries of prefect.yaml)."""
    settings = settings.model_copy(update={"http_max_attempts": min(settings.http_max_attempts, DOCTOR_ATTEMPTS)})
    names = import_names(settings)
    moco, awork = read_moco(settings), read_awork(settings)
    templates = awork.templates if isinstance(awork, AworkFacts) else None
    checks: list[Check] = []
    if isinstance(moco, MocoFacts):
        checks += [
            moco_access_check(moco.key.user_id, moco.can_write),
            moco_plan_check(moco.key.rate_limit, settings.moco_rate_limit, settings.moco_rate_window_seconds),
            *custom_field_checks(moco.fields, names, templates),
            sync_tag_check(names.sync_tag, moco.tagged, names.sync_field, moco.flagged),
        ]
    else:
        checks.append(moco)
    if isinstance(awork, AworkFacts):
        checks += [
            ok("awork API key", f"valid (workspace '{awork.me.workspace.name}')"),
            app_url_check(settings.awork_app_url, awork.me.workspace.url),
        ]
    else:
        checks += [awork, app_url_check(settings.awork_app_url, None)]
    if isinstance(moco, MocoFacts) and isinstance(awork, AworkFacts):
        checks += people_checks(moco.users, awork.users, moco.key.user_id, awork.me.id)
    store = read_store(settings)
    checks += [store, read_upwork(settings, store_ready=store.status == OK), *read_prefect(deployments)]
    return checks


def read_moco(settings: Settings) -> MocoFacts | Check:
    """What the checks need from MOCO, or the check that says why MOCO cannot be read."""
    if not settings.moco_base_url or not settings.moco_api_key.get_secret_value():
        missing = "TIMEBRIDGE_MOCO_BASE_URL" if not settings.moco_base_url else "TIMEBRIDGE_MOCO_API_KEY"
        return problem("MOCO API key", f"{missing} is not set", f"set {missing} (README, Configuration)")
    names = import_names(settings)
    try:
        with MocoClient.from_settings(settings) as moco:
            return MocoFacts(
                key=moco.key(),
                can_write=moco.can_write(),
                fields=moco.custom_properties("Project"),
                tagged=moco.count_projects(tags=[names.sync_tag]),
                flagged=moco.count_projects(custom_properties={names.sync_field: "true"}),
                users=moco.users(),
            )
    except ApiError as error:
        return unreadable("MOCO API key", error, MOCO_KEY_FIX, "TIMEBRIDGE_MOCO_BASE_URL")


def read_awork(settings: Settings) -> AworkFacts | Check:
    """What the checks need from awork, or the check that says why awork cannot be read."""
    if not settings.awork_api_key.get_secret_value():
        return problem("awork API key", "TIMEBRIDGE_AWORK_API_KEY is not set", AWORK_KEY_FIX)
    try:
        with AworkClient.from_settings(settings) as awork:
            return AworkFacts(awork.me(), [t.name for t in awork.project_templates()], awork.users())
    except ApiError as error:
        return unreadable("awork API key", error, AWORK_KEY_FIX, "TIMEBRIDGE_AWORK_BASE_URL")


def unreadable(name: str, error: ApiError, key_fix: str, url_setting: str) -> Check:
    """A failed read as a check: a refused key, or an API that does not answer as it should."""
    if isinstance(error, AuthError):
        return problem(name, f"refused ({error.status}: {error.message})", key_fix)
    return problem(name, f"the API does not answer as it should: {error}", f"check {url_setting} and the network")


def read_store(settings: Settings) -> Check:
    """The store reachable, and its schema at the latest migration (read only: the doctor migrates nothing)."""
    try:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return problem(
            "store", "TIMEBRIDGE_DATABASE_URL is not a database URL", "e.g. sqlite:///.timebridge/timebridge.db"
        )
    try:
        revision = current(engine_for(settings.database_url))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return problem(
            "store", f"cannot open {where}: {reason}", "check TIMEBRIDGE_DATABASE_URL and that the database server runs"
        )
    return store_check(where, revision, revisions())


def read_upwork(settings: Settings, store_ready: bool) -> Check:
    """The stored Upwork connection, and whether Upwork still accepts it (one live call as the connected user)."""
    configured = bool(settings.upwork_client_id)
    if not store_ready:
        if not configured:
            return upwork_check(configured, None, None, 0)
        return info(UPWORK, "not checked: the store is not ready (see 'store')")
    store = upwork_store(settings)
    connection = store.connection()
    status, acting_as = connection.status if connection else None, None
    if status == CONNECTED:
        try:
            with upwork_client(settings, store) as upwork:
                acting_as = upwork.current_user().name
        except ReauthorizationNeeded:
            status = NEEDS_REAUTHORIZATION
        except SecretKeyError as error:
            return problem(UPWORK, str(error), "set TIMEBRIDGE_SECRET_KEY to the key the connection was made with")
        except ApiError as error:
            return problem(UPWORK, f"Upwork does not answer as it should: {error}", "check the network, then try again")
    return upwork_check(configured, status, acting_as, sum(o.selected for o in store.organizations()))


def read_prefect(deployments: Sequence[Mapping[str, Any]]) -> list[Check]:
    """With a Prefect server configured (PREFECT_API_URL): it answers, and has the deployments with their
    schedules. Without one, that is information: `timebridge run` works, nothing runs on a schedule."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        return [
            info(
                "Prefect API",
                "no Prefect server configured (PREFECT_API_URL is not set): flows run with `timebridge run`, none on "
                "a schedule",
                "for schedules, start a Prefect server and set PREFECT_API_URL (README, Deployment)",
            )
        ]
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
        if error is not None:
            return [
                problem(
                    "Prefect API",
                    f"{url} does not answer: {type(error).__name__}: {error}",
                    "start the Prefect server (`prefect server start`) or correct PREFECT_API_URL",
                )
            ]
        wanted = DeploymentFilter(name=DeploymentFilterName(any_=[spec["name"] for spec in deployments]))
        found = client.read_deployments(deployment_filter=wanted)
    deployed = {
        d.name: Deployed(
            name=d.name,
            paused=d.paused,
            schedules=[DeployedSchedule(slug=s.slug, active=s.active) for s in d.schedules],
        )
        for d in found
    }
    return [ok("Prefect API", f"{url} answers"), *deployment_checks(deployments, deployed)]


def doctor_rows(checks: Sequence[Check]) -> list[dict[str, str]]:
    """The checks as table rows (the flow's artifact)."""
    return [{"check": c.name, "status": c.status, "detail": c.detail, "fix": c.fix} for c in checks]


def publish_checks(checks: Sequence[Check]) -> None:
    """The table artifact `doctor`: one row per check."""
    from prefect.artifacts import create_table_artifact

    problems = sum(check.status == PROBLEM for check in checks)
    description = "timebridge doctor: all is well" if not problems else f"timebridge doctor: {problems} problem(s)"
    create_table_artifact(table=doctor_rows(checks), key="doctor", description=description)
