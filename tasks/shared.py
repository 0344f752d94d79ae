"""What the flows and tasks of timebridge share: the task options (retried on transient failures only), a bounded
task runner, the factories of the Upwork store and client, and a guard for Prefect's sync-or-async calls."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar, cast

from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from connectors.http import is_transient
from connectors.upwork import UpworkClient
from models.secrets import TokenCipher
from models.settings import Settings
from models.store import open_store
from models.upwork_store import UpworkStore

T = TypeVar("T")


def in_sync(value: T | Coroutine[Any, Any, T]) -> T:
    """The result of a Prefect call that returns a coroutine only when called from async code (ours is sync)."""
    if isinstance(value, Coroutine):
        value.close()
        raise TypeError("a Prefect call returned a coroutine in synchronous code")
    return value


def thread_pool(max_workers: int) -> TaskRunner[PrefectFuture[Any]]:
    """A flow's task runner: at most `max_workers` tasks at once (Prefect's default pool is unbounded)."""
    return cast(TaskRunner[PrefectFuture[Any]], ThreadPoolTaskRunner(max_workers=max_workers))  # its stubs are narrower


def transient(state: Any) -> bool:
    """Whether a failed task run's error is worth a retry (rate limited, server error, network trouble)."""
    try:
        state.result()
    except Exception as error:  # noqa: BLE001 - we only classify it
        return is_transient(error)
    return False


# No task timeout: a task run in a worker thread cannot be interrupted (Prefect only warns, on every run); every
# HTTP call has its own timeout and every flow its own.
RETRY: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": lambda task, run, state: transient(state),
}


def upwork_store(settings: Settings) -> UpworkStore:
    """The store's Upwork tables, with the token cipher when a secret key is configured."""
    cipher = TokenCipher(settings.secret_key) if settings.secret_key.get_secret_value() else None
    return UpworkStore(open_store(settings.database_url).engine, cipher)


def upwork_client(settings: Settings, store: UpworkStore) -> UpworkClient:
    """An Upwork client that reads and refreshes its tokens through the store."""
    return UpworkClient.from_settings(settings, tokens=store)
