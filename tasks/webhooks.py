"""Our webhooks in awork and MOCO: register them (idempotently), show them, remove them; and the awork header
value, generated once and kept encrypted in the store unless TIMEBRIDGE_AWORK_WEBHOOK_TOKEN gives it."""

from __future__ import annotations

import secrets
from collections import Counter

from pydantic import BaseModel, SecretStr

from connectors.awork import AworkClient, AworkWebhookForm
from connectors.moco import MocoClient
from models.secrets import SecretStore, TokenCipher
from models.settings import Settings
from models.store import open_store
from tasks.webhook_rules import (
    AWORK_EVENTS,
    AWORK_PATH,
    AWORK_TOKEN_HEADER,
    MOCO_PATH,
    WEBHOOK_NAME,
    hook_url,
    ours_in_awork,
    ours_in_moco,
    plan_awork_webhook,
    plan_moco_web_hooks,
)

AWORK_TOKEN_NAME = "awork-webhook-token"


class WebhookRow(BaseModel):
    """One of our webhooks as `timebridge webhooks status` shows it."""

    api: str
    events: str
    url: str
    state: str
    last_failure: str = ""


def awork_webhook_token(settings: Settings) -> SecretStr | None:
    """The header value awork sends: TIMEBRIDGE_AWORK_WEBHOOK_TOKEN, else the one `register` stored (None when
    neither is there)."""
    if settings.awork_webhook_token.get_secret_value():
        return settings.awork_webhook_token
    if not settings.secret_key.get_secret_value():
        return None
    return _secret_store(settings).get(AWORK_TOKEN_NAME)


def _register_token(settings: Settings) -> SecretStr:
    """The header value for registering: the configured or stored one, else a new one, stored encrypted (this
    needs TIMEBRIDGE_SECRET_KEY)."""
    token = awork_webhook_token(settings)
    if token is None:
        token = SecretStr(secrets.token_urlsafe(32))
        _secret_store(settings).put(AWORK_TOKEN_NAME, token)
    return token


def _secret_store(settings: Settings) -> SecretStore:
    return SecretStore(open_store(settings.database_url).engine, TokenCipher(settings.secret_key))


def register(settings: Settings, public_url: str) -> dict[str, Counter[str]]:
    """Create or update our webhooks so that awork and MOCO post to the receiver at `public_url`; what already
    fits is left alone (a second call changes nothing). Returns what was done per API."""
    form = AworkWebhookForm(
        name=WEBHOOK_NAME,
        uri=hook_url(public_url, AWORK_PATH),
        events=list(AWORK_EVENTS),
        header_name=AWORK_TOKEN_HEADER,
        header_value=_register_token(settings),
    )
    done: dict[str, Counter[str]] = {"awork": Counter(), "moco": Counter()}
    with AworkClient.from_settings(settings) as awork:
        plan = plan_awork_webhook(awork.webhooks(), form)
        if plan.create:
            awork.create_webhook(form)
            done["awork"]["created"] += 1
        if plan.update:
            awork.update_webhook(plan.update, form)
            done["awork"]["updated"] += 1
        for webhook_id in plan.delete:
            awork.delete_webhook(webhook_id)
            done["awork"]["deleted"] += 1
    url = hook_url(public_url, MOCO_PATH)
    with MocoClient.from_settings(settings) as moco:
        moco_plan = plan_moco_web_hooks(moco.web_hooks(), url)
        for target, event in moco_plan.create:
            moco.create_web_hook(target, event, url)
        for web_hook_id in moco_plan.update:
            moco.update_web_hook(web_hook_id, url)
        for web_hook_id in moco_plan.enable:
            moco.enable_web_hook(web_hook_id)
        for web_hook_id in moco_plan.delete:
            moco.delete_web_hook(web_hook_id)
        done["moco"].update(
            created=len(moco_plan.create),
            updated=len(moco_plan.update),
            enabled=len(moco_plan.enable),
            deleted=len(moco_plan.delete),
        )
    return done


def webhook_status(settings: Settings) -> list[WebhookRow]:
    """Our webhooks in awork and MOCO (others' are not shown)."""
    rows: list[WebhookRow] = []
    with AworkClient.from_settings(settings) as awork:
        for webhook in ours_in_awork(awork.webhooks()):
            rows.append(
                WebhookRow(
                    api="awork",
                    events=", ".join(webhook.event_types),
                    url=webhook.uri,
                    state="active" if webhook.is_active else "paused",
                    last_failure=webhook.last_failure_reason or "",
                )
            )
    with MocoClient.from_settings(settings) as moco:
        for hook in ours_in_moco(moco.web_hooks()):
            state = "disabled" if hook.disabled else "active"
            rows.append(WebhookRow(api="moco", events=f"{hook.target} {hook.event}", url=hook.hook, state=state))
    return rows


def unregister(settings: Settings) -> dict[str, int]:
    """Delete our webhooks in awork and MOCO; others' stay. Returns how many were deleted per API."""
    deleted = {"awork": 0, "moco": 0}
    with AworkClient.from_settings(settings) as awork:
        for webhook in ours_in_awork(awork.webhooks()):
            awork.delete_webhook(webhook.id)
            deleted["awork"] += 1
    with MocoClient.from_settings(settings) as moco:
        for hook in ours_in_moco(moco.web_hooks()):
            moco.delete_web_hook(hook.id)
            deleted["moco"] += 1
    return deleted
