"""Machinery shared by the simulators: routing, request log, fault injection, rate limits, serving on loopback.

A simulator is a `Simulator` subclass that registers handlers with `@route(method, template)`. Every request
passes, in order: fault rules -> authentication -> rate limit -> handler; every request and its response is kept
in `log` so tests can assert on traffic ("no writes on the second run") and validate bodies against the official
OpenAPI specs.
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import uvicorn

JSON = Any
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SimError(Exception):
    """Raised by a handler to answer with an error status and the API's error body."""

    def __init__(self, status: int, body: JSON = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class SimRequest:
    method: str
    path: str
    route: str
    path_params: dict[str, str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: JSON
    raw_body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def int_param(self, name: str, default: int) -> int:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise SimError(400, {"message": f"invalid value for {name}: {value!r}"}) from exc


@dataclass
class SimResponse:
    status: int = 200
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)
    empty: bool = False  # send no body at all (204, or MOCO's "200 with empty body")


@dataclass
class LoggedRequest:
    """One request as the simulator saw it, with the answer it gave."""

    method: str
    path: str
    route: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: JSON
    status: int
    response_body: JSON
    response_headers: dict[str, str]
    at: float
    corrupted: bool = False  # the body was altered by fault injection (not the API's behaviour)

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


class RequestLog:
    """Everything the simulator answered, in order; thread-safe."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def mark(self) -> int:
        """A position to read from later with `since`."""
        with self._lock:
            return len(self._entries)

    def since(self, mark: int) -> list[LoggedRequest]:
        with self._lock:
            return self._entries[mark:]

    def writes(self, since: int = 0) -> list[LoggedRequest]:
        """Write requests (POST, PUT, PATCH, DELETE) that were answered with a success status."""
        return [e for e in self.since(since) if e.is_write and e.status < 400]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class FaultRule:
    """An injected failure for the next `times` matching requests."""

    status: int
    times: int
    method: str | None = None
    route: str | None = None
    when: Callable[[SimRequest], bool] | None = None
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)
    after_processing: bool = False  # the handler runs (the write happens), then the answer is an error
    delay: float = 0.0  # seconds to wait before answering (slow responses; beyond the client timeout = a drop)
    transform: Callable[[JSON], JSON] | None = None  # a malformed payload: the handler's answer, altered

    def matches(self, request: SimRequest) -> bool:
        if self.method and self.method != request.method:
            return False
        if self.route and self.route != request.route:
            return False
        return self.when is None or self.when(request)


class Faults:
    """Fault injection, switched on by tests, the benchmark and `timebridge sandbox` options."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.latency = 0.0  # seconds added to every response

    def fail_next(
        self,
        times: int = 1,
        status: int = 503,
        *,
        method: str | None = None,
        route: str | None = None,
        when: Callable[[SimRequest], bool] | None = None,
        body: JSON = None,
        after_processing: bool = False,
        delay: float = 0.0,
    ) -> FaultRule:
        """Answer the next `times` matching requests with `status` (a 5xx burst, an injected 4xx, a slow answer)."""
        rule = FaultRule(status, times, method, route, when, body, {}, after_processing, delay)
        with self._lock:
            self._rules.append(rule)
        return rule

    def corrupt_next(
        self,
        transform: Callable[[JSON], JSON],
        times: int = 1,
        *,
        method: str | None = "GET",
        route: str | None = None,
        when: Callable[[SimRequest], bool] | None = None,
    ) -> FaultRule:
        """Answer the next matching requests normally, but with the body passed through `transform` (a malformed
        payload, e.g. a required field missing). Such exchanges are flagged `corrupted` in the log."""
        rule = FaultRule(200, times, method, route, when, transform=transform)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, request: SimRequest) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.matches(request):
                    rule.times -= 1
                    return rule
            self._rules = [r for r in self._rules if r.times > 0]
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = 0.0


class SlidingWindowLimit:
    """At most `limit` requests in any `window` seconds (per simulator, i.e. per account/workspace)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: deque[float] = deque()

    def hit(self) -> float | None:
        """Count a request; None if allowed, else the seconds until a slot frees up."""
        now = self._clock()
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()
        if len(self._hits) >= self.limit:
            return self._hits[0] + self.window - now
        self._hits.append(now)
        return None

    def remaining(self) -> int:
        return max(0, self.limit - len(self._hits))


_ROUTES_ATTR = "_sim_route"


def route(method: str, template: str) -> Callable[[Callable[..., SimResponse | JSON]], Callable[..., Any]]:
    """Register a simulator method as the handler of `method template` (e.g. `GET /projects/{id}`)."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        setattr(handler, _ROUTES_ATTR, (method, template))
        return handler

    return register


def _compile(template: str, suffix: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+?)", template)
    return re.compile(f"^{pattern}{suffix}$")


class Simulator:
    """Base ASGI app of a simulated API. Subclasses set `base_path`, register routes, and define the API's auth,
    rate-limit and error bodies."""

    base_path = ""
    path_suffix = ""  # e.g. MOCO accepts an optional Rails-style ".json"

    def __init__(self) -> None:
        self.log = RequestLog()
        self.faults = Faults()
        self.limits: list[SlidingWindowLimit] = []
        self.lock = threading.RLock()
        self._routes: list[tuple[str, str, re.Pattern[str], Callable[[SimRequest], Any]]] = []
        for name in dir(type(self)):
            attr = getattr(type(self), name)
            spec = getattr(attr, _ROUTES_ATTR, None)
            if spec:
                method, template = spec
                self._routes.append((method, template, _compile(template, self.path_suffix), getattr(self, name)))
        # literal segments win over parameters: "/projects/assigned" before "/projects/{id}"
        self._routes.sort(key=lambda r: (r[1].count("{"), -len(r[1])))

    # --- hooks for subclasses -------------------------------------------------------------------------------
    def authenticate(self, request: SimRequest) -> None:
        """Raise SimError(401, ...) when the request carries no valid credentials."""

    def rate_limited(self, retry_after: float) -> SimError:
        return SimError(429, {"message": "Too many requests"}, {"Retry-After": str(max(1, round(retry_after)))})

    def error_body(self, status: int) -> JSON:
        return {"message": f"simulated error {status}"}

    def not_found(self) -> SimError:
        return SimError(404, {"message": "Not found"})

    # --- ASGI -------------------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
        response, request, fault = self.handle(scope["method"], scope["path"], query, headers, raw)
        delay = (fault.delay if fault else 0.0) + self.faults.latency
        if delay:
            await asyncio.sleep(delay)
        self.log.append(
            LoggedRequest(
                method=scope["method"],
                path=scope["path"],
                route=request.route if request else None,
                query=query,
                headers=headers,
                body=request.body if request else None,
                status=response.status,
                response_body=None if response.empty else response.body,
                response_headers=response.headers,
                at=time.time(),
                corrupted=bool(fault and fault.transform),
            )
        )
        await self._send(send, response)  # logged first: a test reading the log after the answer sees it

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
    ) -> tuple[SimResponse, SimRequest | None, FaultRule | None]:
        """Route one request through faults, auth, rate limit and its handler (synchronously, under the lock)."""
        if not path.startswith(self.base_path):
            return SimResponse(404, self.not_found().body), None, None
        found = self._match(method, path[len(self.base_path) :] or "/")
        if found is None:
            return SimResponse(404, self.not_found().body), None, None
        template, match, handler = found
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = SimRequest(method, path, template, match.groupdict(), query, headers, body, raw)
        fault = self.faults.take(request)
        try:
            if fault and not fault.after_processing and fault.transform is None:
                raise self._fault_error(fault)
            self.authenticate(request)
            for limit in self.limits:
                wait = limit.hit()
                if wait is not None:
                    raise self.rate_limited(wait)
            if raw and body is None and method in WRITE_METHODS:
                raise SimError(400, self.error_body(400))
            with self.lock:
                result = handler(request)
            response = result if isinstance(result, SimResponse) else SimResponse(200, result)
            if fault and fault.transform is not None:
                response.body = fault.transform(response.body)
            elif fault:
                raise self._fault_error(fault)
        except SimError as error:
            response = SimResponse(error.status, error.body, dict(error.headers))
        return response, request, fault

    def _match(self, method: str, local_path: str) -> tuple[str, re.Match[str], Callable[[SimRequest], Any]] | None:
        """The route template, its match and the handler for a request, if any."""
        for route_method, template, pattern, handler in self._routes:
            match = pattern.match(local_path)
            if match and route_method == method:
                return template, match, handler
        return None

    def _fault_error(self, fault: FaultRule) -> SimError:
        """The error an injected fault answers with: a 429 looks like the API's own rate-limit answer."""
        if fault.status == 429 and fault.body is None:
            return self.rate_limited(1.0)
        return SimError(fault.status, fault.body if fault.body is not None else self.error_body(fault.status))

    async def _send(self, send: Callable[..., Any], response: SimResponse) -> None:
        if response.empty or response.status == 204:
            payload = b""
            headers = dict(response.headers)
        else:
            payload = json.dumps(response.body).encode()
            headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
        headers["Content-Length"] = str(len(payload))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class DeliveryAttempt:
    """One attempt to deliver a webhook: the receiver's status, or why there was none (refused, timeout)."""

    url: str
    attempt: int
    status: int | None
    error: str | None
    body: bytes
    headers: dict[str, str]
    at: float

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def reason(self) -> str:
        """Why it failed, as the APIs report it (e.g. `HTTP 401`, `ConnectError`)."""
        return self.error or f"HTTP {self.status}"


@dataclass
class Delivery:
    """A webhook to post: `render` gives its body and headers, once, when it is first sent (so a change made in a
    request is rendered after the request's other changes); `on_attempt` hears of every attempt."""

    url: str
    render: Callable[[], tuple[bytes, dict[str, str]]]
    on_attempt: Callable[[DeliveryAttempt], None] | None = None
    attempt: int = 0
    rendered: tuple[bytes, dict[str, str]] | None = None


class WebhookSender:
    """Posts webhook deliveries from background threads, so an API answer is never delayed by its webhooks: each
    attempt has a timeout, a failed one (no 2xx) is retried after an exponential backoff (`backoff`, doubling), at
    most `max_attempts` times; every attempt is kept in `attempts`. `enabled = False` sends nothing (tests that
    register webhooks without a receiver)."""

    def __init__(self, *, timeout: float, max_attempts: int, backoff: float = 1.0, workers: int = 4) -> None:
        self.enabled = True
        self.timeout, self.max_attempts, self.backoff = timeout, max_attempts, backoff
        self.attempts: list[DeliveryAttempt] = []
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._idle = threading.Condition()

    def send(self, delivery: Delivery) -> None:
        if not self.enabled:
            return
        with self._idle:
            self._pending += 1
            if len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name="webhook-sender", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put(delivery)

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every delivery succeeded or gave up; False if some are still going after `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _work(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                delivery = self._queue.get()
                attempt = self._post(client, delivery)
                if delivery.on_attempt:
                    delivery.on_attempt(attempt)
                if attempt.succeeded or delivery.attempt >= self.max_attempts:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()
                    continue
                retry = threading.Timer(self.backoff * 2 ** (delivery.attempt - 1), self._queue.put, [delivery])
                retry.daemon = True
                retry.start()

    def _post(self, client: httpx.Client, delivery: Delivery) -> DeliveryAttempt:
        if delivery.rendered is None:
            delivery.rendered = delivery.render()
        body, headers = delivery.rendered
        delivery.attempt += 1
        status, error = None, None
        try:
            status = client.post(delivery.url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempt = DeliveryAttempt(delivery.url, delivery.attempt, status, error, body, headers, time.time())
        self.attempts.append(attempt)
        return attempt


def paginate(items: list[Any], page: int, per_page: int) -> list[Any]:
    """The `page`-th slice (1-based) of `items`."""
    start = (max(page, 1) - 1) * per_page
    return items[start : start + per_page]


class ServedSimulator:
    """A simulator (or any ASGI app, e.g. timebridge's webhook receiver) served by uvicorn on a loopback port in a
    background thread (real HTTP)."""

    def __init__(self, app: Any, port: int = 0, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = port or _free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sim-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{getattr(self.app, 'base_path', '')}"

    def start(self) -> ServedSimulator:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"simulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> ServedSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
