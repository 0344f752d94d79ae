"""The one place for HTTP: client setup, auth, timeouts, retries, rate limits, pagination and typed errors.

Every connector gets its `ApiClient` from `build_client`. Retries (tenacity) cover transport errors, 429 (never
sooner than `Retry-After` / `ratelimit-reset` says) and 5xx, with exponential backoff and jitter. A POST is only
retried when the server cannot have acted on it (connection refused, 429, 503) or when it is marked idempotent (a
GraphQL query); otherwise the error is raised as `AmbiguousWriteError` and the caller looks the object up before
trying again (see `tasks.idempotent`). A token bucket per API and key keeps us inside the documented rate limit.
Secrets live only in the client's default headers: they never appear in errors, reprs or logs. Paginated reads
stay on the client's host, end after `max_pages` pages and never follow the same cursor twice.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connectors.shared_limits import SharedRateLimit, prefect_server_in_use
from models.settings import Settings

log = logging.getLogger(__name__)

NOT_PROCESSED_STATUSES = frozenset({429, 503})  # the server did not act on the request: safe to send again
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"})


# --- errors -----------------------------------------------------------------------------------------------------
class ApiError(Exception):
    """A failed API call, carrying the API's own message (never request headers or secrets)."""

    def __init__(self, api: str, method: str, url: str, status: int | None, message: str) -> None:
        self.api, self.method, self.url, self.status, self.message = api, method, url, status, message
        where = f"{api} {method} {url}"
        super().__init__(f"{where} failed with {status}: {message}" if status else f"{where} failed: {message}")


class TransientApiError(ApiError):
    """Worth retrying: rate limited, server error, network trouble."""

    retry_after: float | None = None


class RateLimitedError(TransientApiError):
    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class ServerError(TransientApiError):
    pass


class NetworkError(TransientApiError):
    pass


class AmbiguousWriteError(ApiError):
    """A non-idempotent write failed in a way that leaves open whether the server acted on it."""


class ClientError(ApiError):
    """The API refused the request (4xx): retrying the same request will not help."""


class NotFoundError(ClientError):
    pass


class AuthError(ClientError):
    pass


class ValidationFailedError(ClientError):
    """400/422: the API rejected the payload; the message says why."""


class PaginationError(ApiError):
    """A list that does not end: more pages than `max_pages`, or a cursor (link, page, offset) seen before."""


class ForeignLinkError(PaginationError):
    """A next-page link to another scheme, host or port: not followed, so the API key never leaves its API."""


def is_transient(error: BaseException) -> bool:
    """Whether an error is worth retrying (used by tenacity here and by Prefect task retry conditions)."""
    return isinstance(error, TransientApiError)


# --- rate limiting ----------------------------------------------------------------------------------------------
class TokenBucket:
    """Allows a burst of `capacity` requests, then `rate` per second."""

    def __init__(
        self,
        capacity: float,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity, self.rate = capacity, rate
        self._tokens = capacity
        self._clock, self._sleep = clock, sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is there; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1  # reserve our token now, so concurrent callers queue up behind us
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests in any `window` seconds, as an API documents it."""

    limit: int
    window: float

    @property
    def capacity(self) -> int:
        """The burst of a bucket that can never exceed the limit in any window: burst + rate * window <= limit."""
        return max(1, self.limit // 12)

    @property
    def rate(self) -> float:
        return (self.limit - self.capacity) / self.window

    def bucket(self) -> TokenBucket:
        """This process's bucket."""
        return TokenBucket(self.capacity, self.rate)

    def shared(self, api: str) -> SharedRateLimit:
        """The same bucket kept by the Prefect server for every process (named after the API and the limit). A
        process takes about half a second of requests per round trip and may spend the last of them a moment
        later, in the next window: the shared rate leaves room for one such batch, so that never exceeds the
        limit."""
        batch = min(self.capacity, math.ceil(self.rate / 2))
        rate = max(self.limit - self.capacity - batch, 1) / self.window
        name = f"timebridge-{api}-{self.limit}-per-{self.window:g}s"
        return SharedRateLimit(name, self.capacity, rate, batch)


class RateLimiter:
    """All of an API's limits at once (e.g. awork: 50 per second and 1000 per minute): this process's buckets,
    and, with `shared_api`, the same limits shared through the Prefect server by every process and host."""

    def __init__(self, limits: Sequence[RateLimit], shared_api: str | None = None) -> None:
        self._buckets = [limit.bucket() for limit in limits]
        self._shared = [limit.shared(shared_api) for limit in limits] if shared_api else []

    def acquire(self) -> float:
        started = time.monotonic()
        for shared in self._shared:
            shared.acquire()
        for bucket in self._buckets:
            bucket.acquire()
        return time.monotonic() - started


_limiters: dict[tuple[str, str, tuple[RateLimit, ...], bool], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(api: str, secret: SecretStr, limits: Sequence[RateLimit], across_processes: bool) -> RateLimiter:
    """One limiter per API, key and limits in this process, shared by all clients and threads using that key;
    `across_processes`: also through the Prefect server's global concurrency limits."""
    fingerprint = hashlib.sha256(secret.get_secret_value().encode()).hexdigest()[:16]
    key = (api, fingerprint, tuple(limits), across_processes)
    with _limiters_lock:
        if key not in _limiters:
            _limiters[key] = RateLimiter(limits, shared_api=api if across_processes else None)
        return _limiters[key]


# --- the client ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0  # the longest wait a server may ask of us
    sleep: Callable[[float], None] = time.sleep

    def wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, never shorter than what the server asked for."""
        backoff = min(self.backoff_max, self.backoff * 2.0 ** (state.attempt_number - 1))
        backoff *= random.uniform(0.5, 1.0)
        error = state.outcome.exception() if state.outcome else None
        asked = (error.retry_after if isinstance(error, TransientApiError) else None) or 0.0
        return max(backoff, min(asked, self.retry_after_max))


def retry_policy(settings: Settings) -> RetryPolicy:
    """The HTTP retry policy the settings describe."""
    return RetryPolicy(
        max_attempts=settings.http_max_attempts,
        backoff=settings.http_backoff_seconds,
        backoff_max=settings.http_backoff_max_seconds,
        retry_after_max=settings.http_retry_after_max_seconds,
    )


class ApiClient:
    """An httpx client for one API with retries, rate limiting and typed errors. Counts its requests."""

    def __init__(
        self,
        api: str,
        http: httpx.Client,
        limiter: RateLimiter | None,
        retry: RetryPolicy,
        error_message: Callable[[httpx.Response], str],
        max_pages: int = 10_000,
    ) -> None:
        self.api = api
        self._http = http
        self._limiter = limiter
        self._retry = retry
        self._error_message = error_message
        self.max_pages = max_pages  # the longest list a paginator reads before it gives up with `PaginationError`
        self.requests = 0  # HTTP requests actually sent, retries included
        self.writes = 0
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ApiClient({self.api!r}, base_url={str(self._http.base_url)!r})"

    @property
    def base_url(self) -> httpx.URL:
        return self._http.base_url

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request with retries; return the successful response or raise a typed `ApiError`. An idempotent
        request (default: by method; a read sent as POST says so) is retried after a timeout, a dropped connection
        or a 5xx; any other write then raises `AmbiguousWriteError`."""
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        retrying = Retrying(
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=self._retry.wait,
            retry=retry_if_exception(is_transient),
            sleep=self._retry.sleep,
            reraise=True,
        )
        return retrying(self._send_once, method, url, params, json, data, headers, auth, safe_to_repeat)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode the JSON body."""
        return self.request("GET", url, params=params).json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send_once(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        auth: httpx.Auth | None,
        safe_to_repeat: bool,
    ) -> httpx.Response:
        if self._limiter:
            self._limiter.acquire()
        with self._count_lock:
            self.requests += 1
            self.writes += method not in ("GET", "HEAD")
        try:
            response = self._http.request(
                method, url, params=params, json=json, data=data, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NetworkError(self.api, method, url, None, type(exc).__name__) from exc
        except httpx.TransportError as exc:  # sent, but no (complete) answer
            if safe_to_repeat:
                raise NetworkError(self.api, method, url, None, type(exc).__name__) from exc
            raise AmbiguousWriteError(self.api, method, url, None, type(exc).__name__) from exc
        if response.is_success:
            return response
        raise self._error(method, url, response, safe_to_repeat)

    def _error(self, method: str, url: str, response: httpx.Response, safe_to_repeat: bool) -> ApiError:
        status = response.status_code
        message = self._error_message(response)
        path = response.request.url.path
        if status == 429:
            return RateLimitedError(self.api, method, path, status, message, retry_after=retry_after(response))
        if status >= 500:
            if safe_to_repeat or status in NOT_PROCESSED_STATUSES:
                return ServerError(self.api, method, path, status, message)
            return AmbiguousWriteError(self.api, method, path, status, message)
        if status == 404:
            return NotFoundError(self.api, method, path, status, message)
        if status in (401, 403):
            return AuthError(self.api, method, path, status, message)
        if status in (400, 422):
            return ValidationFailedError(self.api, method, path, status, message)
        return ClientError(self.api, method, path, status, message)


class Connector:
    """Base of the typed API clients: holds the `ApiClient`, closes it when used as a context manager."""

    def __init__(self, http: ApiClient) -> None:
        self.http = http

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait: `Retry-After` (MOCO and most APIs) or `ratelimit-reset` (awork)."""
    for header in ("retry-after", "ratelimit-reset", "x-ratelimit-reset"):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


def build_client(
    api: str,
    base_url: str,
    auth_headers: Mapping[str, SecretStr],
    *,
    limits: Sequence[RateLimit] = (),
    limiter_key: SecretStr | None = None,
    timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    error_message: Callable[[httpx.Response], str] | None = None,
    transport: httpx.BaseTransport | None = None,
    max_pages: int = 10_000,
    shared_limits: bool = False,
) -> ApiClient:
    """The client factory every connector uses: auth headers, explicit timeouts, retries, rate limit (with
    `shared_limits`, also through the Prefect server when one is in use), page bound."""
    if not base_url:
        raise ValueError(f"no base URL configured for {api}; set TIMEBRIDGE_{api.upper()}_BASE_URL")
    headers = {name: value.get_secret_value() for name, value in auth_headers.items()}
    headers.update({"Accept": "application/json", "User-Agent": "timebridge/0.1"})
    http = httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
    )
    across_processes = shared_limits and prefect_server_in_use()
    limiter = shared_limiter(api, limiter_key or SecretStr(base_url), limits, across_processes) if limits else None
    return ApiClient(api, http, limiter, retry or RetryPolicy(), error_message or default_error_message, max_pages)


def default_error_message(response: httpx.Response) -> str:
    """The API's own message: `message`, `errors` or `description` fields of a JSON body, else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        if body.get("error") and body.get("error_description"):  # OAuth 2.0 error responses
            return f"{body['error']}: {body['error_description']}"
        for key in ("message", "description", "errors", "error"):
            if body.get(key):
                detail = body[key]
                extra = body.get("validationErrors")
                text = detail if isinstance(detail, str) else _flatten(detail)
                return f"{text} ({_flatten(extra)})" if extra else text
    return str(body)[:300]


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    return str(value)


# --- paths and pagination -----------------------------------------------------------------------------------------
def url_path(*segments: object) -> str:
    """A relative URL path of quoted segments: `url_path("projects", 7, "tasks")` is "projects/7/tasks". An id cannot
    add segments, a query or a fragment ("1/../users" stays one segment); empty, "." and ".." ids are refused."""
    parts = []
    for segment in segments:
        text = str(segment)
        if text in ("", ".", ".."):
            raise ValueError(f"{text!r} is not a usable id in a URL path")
        parts.append(quote(text, safe=""))
    return "/".join(parts)


class PageGuard:
    """Keeps one paginated read finite: at most the client's `max_pages` pages, and no cursor twice."""

    def __init__(self, client: ApiClient, what: str, method: str = "GET") -> None:
        self._client, self._what, self._method = client, what, method
        self._seen: set[object] = set()

    def turn(self, cursor: object) -> None:
        """Count the page about to be read at `cursor` (a link, page number or offset); a `PaginationError` instead
        of reading page `max_pages` + 1 or a cursor already read."""
        api, limit = self._client.api, self._client.max_pages
        if cursor is None or cursor in self._seen:
            message = f"the next-page cursor {cursor!r} repeats or is missing; stopped instead of looping"
            raise PaginationError(api, self._method, self._what, None, message)
        if len(self._seen) >= limit:
            message = f"still more pages after {limit}; stopped (raise TIMEBRIDGE_HTTP_MAX_PAGES if it is that long)"
            raise PaginationError(api, self._method, self._what, None, message)
        self._seen.add(cursor)


def paginate_link_header(client: ApiClient, path: str, params: Mapping[str, Any], per_page: int) -> Iterator[Any]:
    """Items of a list that pages with `page`/`per_page` and a `Link: <...>; rel="next"` header (MOCO). A link to
    another scheme, host or port raises `ForeignLinkError` before anything is sent there."""
    guard = PageGuard(client, path)
    guard.turn(path)
    response = client.request("GET", path, params={**params, "per_page": per_page, "page": 1})
    while True:
        yield from response.json()
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return
        _check_origin(client, path, client.base_url.join(next_url))
        guard.turn(next_url)
        response = client.request("GET", next_url)


def _check_origin(client: ApiClient, path: str, link: httpx.URL) -> None:
    home = client.base_url
    if (link.scheme, link.host, _port(link)) != (home.scheme, home.host, _port(home)):
        message = (
            f"the next-page link points to {link.scheme}://{link.host}:{_port(link)}, not to "
            f"{home.scheme}://{home.host}:{_port(home)}; not followed, so the API key stays with {client.api}"
        )
        raise ForeignLinkError(client.api, "GET", path, None, message)


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def paginate_page_size(
    client: ApiClient, path: str, params: Mapping[str, Any], page_size: int, total_header: str = "aw-totalitems"
) -> Iterator[Any]:
    """Items of a list that pages with `page`/`pageSize` and reports the total in a header (awork)."""
    guard = PageGuard(client, path)
    page = 1
    while True:
        guard.turn(page)
        response = client.request("GET", path, params={**params, "page": page, "pageSize": page_size})
        items = response.json()
        yield from items
        total = response.headers.get(total_header)
        seen = (page - 1) * page_size + len(items)
        if len(items) < page_size or (total is not None and seen >= int(total)):
            return
        page += 1
