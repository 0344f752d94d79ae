"""The options every Prefect task of timebridge shares: retried on transient failures only, with a timeout."""

from __future__ import annotations

from typing import Any

from connectors.http import is_transient


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
