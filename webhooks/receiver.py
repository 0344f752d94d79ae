"""The receiver of awork and MOCO webhooks, a small ASGI app (Starlette): it authenticates each delivery, answers
at once, and emits one Prefect event per delivery for the deployments' triggers. A delivery that is too large
(413), unauthenticated (401) or malformed (400) is refused with a log line and never becomes an event. A time entry
awork reports deleted is first kept in the store, so the push deletes its activity whatever its age."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from models.settings import Settings
from models.store import LinkRecord, open_store
from tasks.webhook_rules import (
    AWORK_PATH,
    AWORK_TOKEN_HEADER,
    MOCO_PATH,
    MalformedDelivery,
    WebhookEvent,
    awork_event,
    awork_token_valid,
    moco_event,
    moco_signature_valid,
    reported_deletion,
    timestamp_fresh,
)

log = logging.getLogger("timebridge.webhooks")
Emit = Callable[..., Any]


class TooLarge(Exception):
    """The body is over the limit (`TIMEBRIDGE_WEBHOOK_MAX_BODY_BYTES`)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, read chunk by chunk; `TooLarge` as soon as it (or its declared length) exceeds `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:  # UnicodeDecodeError included
        raise MalformedDelivery("the body is not JSON") from error


def keep_deleted(settings: Settings, deleted: LinkRecord) -> None:
    open_store(settings.database_url).save_links([deleted])


def create_app(
    settings: Settings,
    awork_token: SecretStr | None,
    emit: Emit | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The receiver: `POST /timebridge/awork`, `POST /timebridge/moco`, and `GET /health`. `emit` defaults to
    `prefect.events.emit_event`."""
    if emit is None:
        from prefect.events import emit_event

        emit = emit_event
    send: Emit = emit
    limit = settings.webhook_max_body_bytes

    def refuse(request: Request, api: str, status: int, reason: str) -> Response:
        client = request.client.host if request.client else "?"
        log.warning("refused %s delivery from %s: %d %s", api, client, status, reason)
        return JSONResponse({"message": reason}, status_code=status)

    def accept(api: str, event: WebhookEvent) -> Response:
        send(event=event.event, resource=event.resource, related=event.related, payload=event.payload)
        log.info("%s delivery: %s %s", api, event.event, event.resource["prefect.resource.id"])
        return JSONResponse({"event": event.event}, status_code=202)

    async def awork(request: Request) -> Response:
        if not awork_token_valid(request.headers.get(AWORK_TOKEN_HEADER), awork_token):
            return refuse(request, "awork", 401, f"wrong or missing {AWORK_TOKEN_HEADER} header")
        try:
            event = awork_event(parse_json(await read_body(request, limit)))
        except TooLarge:
            return refuse(request, "awork", 413, f"the body is larger than {limit} bytes")
        except MalformedDelivery as error:
            return refuse(request, "awork", 400, str(error))
        if (deleted := reported_deletion(event)) is not None:
            await run_in_threadpool(keep_deleted, settings, deleted)  # before the event: its run finds it
        return accept("awork", event)

    async def moco(request: Request) -> Response:
        try:
            body = await read_body(request, limit)
        except TooLarge:
            return refuse(request, "moco", 413, f"the body is larger than {limit} bytes")
        headers = request.headers
        if not moco_signature_valid(body, headers.get("x-moco-signature"), settings.moco_webhook_secret):
            return refuse(request, "moco", 401, "wrong or missing X-Moco-Signature")
        if not timestamp_fresh(headers.get("x-moco-timestamp"), clock(), settings.webhook_max_age_seconds):
            return refuse(request, "moco", 401, "X-Moco-Timestamp missing or too far off (a replay?)")
        try:
            record = parse_json(body)
            target, action = headers.get("x-moco-target"), headers.get("x-moco-event")
            return accept("moco", moco_event(target, action, record, headers))
        except MalformedDelivery as error:
            return refuse(request, "moco", 400, str(error))

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route(AWORK_PATH, awork, methods=["POST"]),
            Route(MOCO_PATH, moco, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
