"""Rate limits shared by every process and host: one Prefect global concurrency limit with slot decay per API
account limit, when a Prefect server is in use (the local token bucket alone would let each process use the whole
limit). A process takes several slots at a time, because each acquisition is a round trip to the Prefect server
(measured: 0.03-0.1 s); requests then spend them one by one."""

from __future__ import annotations

import logging
import threading

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectNotFound
from prefect.settings import get_current_settings

log = logging.getLogger(__name__)


def prefect_server_in_use() -> bool:
    """Whether this process talks to a Prefect server (PREFECT_API_URL), not to the temporary local API."""
    return bool(get_current_settings().api.url)


class SharedRateLimit:
    """A token bucket of `capacity` refilled at `rate` per second, kept by the Prefect server as the global
    concurrency limit `name` (created on first use, so every process and host shares one)."""

    def __init__(self, name: str, capacity: int, rate: float, batch: int = 1) -> None:
        self.name, self.capacity, self.rate = name, capacity, rate
        self.batch = batch  # slots taken per round trip (each costs ~0.03-0.1 s), handed out one request at a time
        self._left = 0
        self._lock = threading.Lock()
        self._ensured = False

    def acquire(self) -> None:
        """Take one request's slot, waiting on the Prefect server when the shared bucket is empty."""
        with self._lock:
            if not self._ensured:
                ensure_limit(self.name, self.capacity, self.rate)
                self._ensured = True
            if self._left == 0:
                rate_limit(self.name, occupy=self.batch, strict=True)
                self._left = self.batch
            self._left -= 1


def ensure_limit(name: str, capacity: int, rate: float) -> None:
    """Create the global concurrency limit unless the server has it (its name carries the limit it stands for)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=capacity, slot_decay_per_second=rate, active=True)
            )
            log.info("created the Prefect global concurrency limit %s (%d, %.3f per second)", name, capacity, rate)
        except Exception:  # another process created it a moment ago
            client.read_global_concurrency_limit_by_name(name)
