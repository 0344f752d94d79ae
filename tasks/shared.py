"""What every Prefect task of timebridge shares: the task options (retried on transient failures only, with a
timeout) and the factories of the Upwork store and client."""

from __future__ import annotations

from typing import Any

from connectors.http import is_transient
from connectors.upwork import UpworkClient
from models.secrets import TokenCipher
from models.settings import Settings
from models.store import open_store
from models.upwork_store import UpworkStore


def transient(state: Any) -> bool:
    """Whether a failed task run's error is worth a retry (rate limited, server error, network trouble)."""
    try:
        state.result()
    except Exception as error:  # noqa: BLE001 - we only classify it
        return is_transient(error)
    return False


# A task's timeout marks a hung batch TimedOut instead of leaving the run waiting forever (HTTP calls have their
# own timeouts; a task run in a worker thread cannot be interrupted).
RETRY: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": lambda task, run, state: transient(state),
    "timeout_seconds": 3600,
}


def upwork_store(settings: Settings) -> UpworkStore:
    """The store's Upwork tables, with the token cipher when a secret key is configured."""
    cipher = TokenCipher(settings.secret_key) if settings.secret_key.get_secret_value() else None
    return UpworkStore(open_store(settings.database_url).engine, cipher)


def upwork_client(settings: Settings, store: UpworkStore) -> UpworkClient:
    """An Upwork client that reads and refreshes its tokens through the store."""
    return UpworkClient.from_settings(settings, tokens=store)
