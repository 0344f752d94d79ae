"""The rules of the webhooks, without I/O: how a delivery is authenticated (awork's header, MOCO's signature and
timestamp), which Prefect event it becomes, and which webhooks `timebridge webhooks register` keeps in each API."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from connectors.awork import AworkWebhook, AworkWebhookForm
from connectors.moco import MocoWebHook
from models.store import LinkRecord
from tasks.time_rules import REPORTED_DELETED

WEBHOOK_NAME = "timebridge"  # the name of our awork webhook
AWORK_PATH = "/timebridge/awork"  # the receiver's paths; a webhook whose URL ends with one of them is ours
MOCO_PATH = "/timebridge/moco"
AWORK_TOKEN_HEADER = "X-Timebridge-Token"
AWORK_EVENTS = (
    "timetracking_added",
    "timetracking_updated",
    "timetracking_deleted",
    "project_added",
    "project_updated",
    "project_deleted",
    "absence_added",
    "absence_updated",
    "absence_deleted",
)
MOCO_TARGETS = ("Project", "Task", "Contract", "Schedule")
MOCO_EVENTS = ("create", "update", "delete")


class MalformedDelivery(ValueError):
    """A delivery whose body is not the JSON its API sends: answered 400."""


# --- authentication ---------------------------------------------------------------------------------------------
def moco_signature(body: bytes, secret: SecretStr) -> str:
    """MOCO's `X-Moco-Signature`: the hex HMAC-SHA256 of the raw body, keyed with the account's signing key."""
    return hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()


def moco_signature_valid(body: bytes, signature: str | None, secret: SecretStr) -> bool:
    """Whether the signature is MOCO's for this body (compared in constant time); never without a secret."""
    if not secret.get_secret_value() or not signature:
        return False
    return hmac.compare_digest(moco_signature(body, secret), signature.strip().lower())


def awork_token_valid(given: str | None, token: SecretStr | None) -> bool:
    """Whether awork sent our header value (compared in constant time); never without a configured token."""
    if token is None or not token.get_secret_value() or given is None:
        return False
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def timestamp_fresh(timestamp_ms: str | None, now: datetime, max_age_seconds: float) -> bool:
    """Whether MOCO's `X-Moco-Timestamp` (milliseconds since the epoch) lies within `max_age_seconds` of `now`,
    either way: an older one is a replay (the signature covers the body only, not the timestamp)."""
    if not timestamp_ms or not timestamp_ms.strip().isdigit():
        return False
    sent = int(timestamp_ms.strip()) / 1000
    return abs(now.timestamp() - sent) <= max_age_seconds


# --- events -----------------------------------------------------------------------------------------------------
class WebhookEvent(BaseModel):
    """A Prefect event as `prefect.events.emit_event` takes it."""

    event: str
    resource: dict[str, str]
    related: list[dict[str, str]] = []
    payload: dict[str, Any] = {}


def awork_event(delivery: Any) -> WebhookEvent:
    """The event of an awork delivery: `timebridge.awork.<entity>.<action>` from its `eventType` (e.g.
    `timetracking_updated` -> `timebridge.awork.timetracking.updated`), the entity as the resource, its project and
    user as related resources, and the local day of a time entry or absence in the payload."""
    if not isinstance(delivery, Mapping):
        raise MalformedDelivery("an awork delivery is a JSON object")
    event_type = delivery.get("eventType")
    found = delivery.get("entity")
    entity: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    entity_id = delivery.get("entityId") or entity.get("id")
    if not isinstance(event_type, str) or "_" not in event_type or not entity_id:
        raise MalformedDelivery("an awork delivery names its eventType and entityId")
    kind, action = event_type.split("_", 1)
    payload: dict[str, Any] = {"event_type": event_type, "entity_id": str(entity_id)}
    if day := _awork_day(entity):
        payload["day"] = day
    return WebhookEvent(
        event=f"timebridge.awork.{kind}.{action}",
        resource=_resource("awork", kind, entity_id),
        related=_related("awork", project=entity.get("projectId"), user=entity.get("userId")),
        payload=payload,
    )


def reported_deletion(event: WebhookEvent) -> LinkRecord | None:
    """The awork time entry a `timetracking.deleted` event reports deleted, as the store keeps it for the push
    (with its day, where the delivery gave one); None for every other event."""
    if event.event != "timebridge.awork.timetracking.deleted":
        return None
    day = event.payload.get("day")
    return LinkRecord(
        kind=REPORTED_DELETED,
        source_id=event.payload["entity_id"],
        target_id="deleted in awork",
        source_day=date.fromisoformat(day) if day else None,
    )


def moco_event(target: str | None, action: str | None, record: Any, headers: Mapping[str, str]) -> WebhookEvent:
    """The event of a MOCO delivery: `timebridge.moco.<target>.<event>` (e.g. `timebridge.moco.project.update`),
    the record as the resource (a `delete` carries only its id), its project and user as related resources."""
    if not target or action not in MOCO_EVENTS:
        raise MalformedDelivery("a MOCO delivery names its X-Moco-Target and X-Moco-Event (create, update, delete)")
    if not isinstance(record, Mapping) or "id" not in record:
        raise MalformedDelivery("a MOCO delivery is a JSON object with the record's id")
    kind = target.replace("::", "_").lower()
    project, user = record.get("project"), record.get("user")
    payload: dict[str, Any] = {"target": target, "event": action, "id": record["id"]}
    if isinstance(record.get("date"), str):
        payload["day"] = record["date"]
    if origin := headers.get("x-moco-origin"):
        payload["origin"] = origin
    return WebhookEvent(
        event=f"timebridge.moco.{kind}.{action}",
        resource=_resource("moco", kind, record["id"]),
        related=_related(
            "moco",
            project=project.get("id") if isinstance(project, Mapping) else record.get("project_id"),
            user=user.get("id") if isinstance(user, Mapping) else record.get("user_id"),
        ),
        payload=payload,
    )


def _awork_day(entity: Mapping[str, Any]) -> str | None:
    """The local date of a time entry (`startDateLocal`) or an absence (`startOn`), as YYYY-MM-DD."""
    for name in ("startDateLocal", "startOn", "startDateUtc"):
        value = entity.get(name)
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
    return None


def _resource(api: str, kind: str, object_id: object) -> dict[str, str]:
    return {"prefect.resource.id": f"timebridge.{api}.{kind}.{object_id}"}


def _related(api: str, **ids: object) -> list[dict[str, str]]:
    """Related resources (`project`, `user`) for the ids that are there."""
    return [
        {"prefect.resource.id": f"timebridge.{api}.{role}.{object_id}", "prefect.resource.role": role}
        for role, object_id in ids.items()
        if object_id not in (None, "")
    ]


# --- registration -----------------------------------------------------------------------------------------------
def hook_url(public_url: str, path: str) -> str:
    """The URL an API posts to: the receiver's public URL (any path prefix of a proxy kept) plus our path."""
    return public_url.rstrip("/") + path


def _on_path(url: str, path: str) -> bool:
    """Whether a webhook's URL points at our receiver's path (on whatever host it was registered with)."""
    return urlsplit(url).path.rstrip("/").endswith(path)


def ours_in_awork(webhooks: Sequence[AworkWebhook]) -> list[AworkWebhook]:
    """Our awork webhooks: named `timebridge`, or posting to our path."""
    return [hook for hook in webhooks if hook.name == WEBHOOK_NAME or _on_path(hook.uri, AWORK_PATH)]


def ours_in_moco(web_hooks: Sequence[MocoWebHook]) -> list[MocoWebHook]:
    """Our MOCO web hooks: those posting to our path (MOCO's web hooks have no name)."""
    return [hook for hook in web_hooks if _on_path(hook.hook, MOCO_PATH)]


class AworkWebhookPlan(BaseModel):
    """What `register` does in awork: create our webhook, update it, or nothing; and our stray duplicates to
    delete."""

    create: bool = False
    update: str | None = None  # the id of our webhook to update
    delete: list[str] = []


def plan_awork_webhook(existing: Sequence[AworkWebhook], form: AworkWebhookForm) -> AworkWebhookPlan:
    """Keep exactly one webhook of ours (name `timebridge` or URL on our path) with the form's values."""
    ours = ours_in_awork(existing)
    if not ours:
        return AworkWebhookPlan(create=True)
    keep = next((hook for hook in ours if form.is_set_on(hook)), ours[0])
    return AworkWebhookPlan(
        update=None if form.is_set_on(keep) else keep.id,
        delete=[hook.id for hook in ours if hook is not keep],
    )


class MocoWebHookPlan(BaseModel):
    """What `register` does in MOCO: web hooks to create (target, event), to point at our URL or re-enable (ids),
    and ours that are no longer wanted."""

    create: list[tuple[str, str]] = []
    update: list[int] = []
    enable: list[int] = []
    delete: list[int] = []


def plan_moco_web_hooks(existing: Sequence[MocoWebHook], url: str) -> MocoWebHookPlan:
    """One web hook of ours per target and event of `MOCO_TARGETS` x `MOCO_EVENTS`, posting to `url` and enabled;
    ours for other targets or events, and duplicates, are deleted; others' web hooks are left alone."""
    plan = MocoWebHookPlan()
    ours: dict[tuple[str, str], list[MocoWebHook]] = {}
    for hook in ours_in_moco(existing):
        ours.setdefault((hook.target, hook.event), []).append(hook)
    for target in MOCO_TARGETS:
        for event in MOCO_EVENTS:
            found = sorted(ours.pop((target, event), []), key=lambda hook: (hook.hook != url, hook.disabled, hook.id))
            if not found:
                plan.create.append((target, event))
                continue
            keep, *duplicates = found
            plan.delete += [hook.id for hook in duplicates]
            if keep.hook != url:
                plan.update.append(keep.id)
            if keep.disabled:
                plan.enable.append(keep.id)
    plan.delete += [hook.id for hooks in ours.values() for hook in hooks]
    return plan
