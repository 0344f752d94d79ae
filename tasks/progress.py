"""Progress of long runs: a Prefect progress artifact, and any terminal listener (the CLI's progress bar)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from tasks.shared import in_sync

Listener = Callable[[int, int, str], None]  # (steps done, steps in all, what)
_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener` on every step of runs in this process while the context is open."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class RunProgress:
    """Steps of a run, shown live in the Prefect UI (progress artifact `key`, its description saying what is done
    so far) and to listeners."""

    def __init__(self, key: str, total: int, what: str) -> None:
        self.total, self.done, self.what = max(total, 1), 0, what
        self.artifact_id = in_sync(create_progress_artifact(progress=0.0, key=key, description=what))
        self._tell()

    def advance(self, steps: int = 1, what: str | None = None) -> None:
        """`steps` more done; `what` says what is done so far (else the description stays)."""
        self.done = min(self.done + steps, self.total)
        self.what = what or self.what
        update_progress_artifact(
            artifact_id=self.artifact_id, progress=100.0 * self.done / self.total, description=self.what
        )
        self._tell()

    def _tell(self) -> None:
        for listener in list(_listeners):
            listener(self.done, self.total, self.what)
