"""Creating remote objects exactly once, even when a write's outcome is unknown: look for it by a key the remote
side keeps before creating it again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from connectors.http import AmbiguousWriteError

T = TypeVar("T")


def create_once(create: Callable[[], T], find: Callable[[], T | None], attempts: int = 3) -> tuple[T, bool]:
    """Create an object; when the answer is lost (a 5xx or a dropped connection after sending), look for it by a
    key the remote side keeps before trying again. Returns the object and whether this call created it."""
    for attempt in range(1, attempts + 1):
        try:
            return create(), True
        except AmbiguousWriteError:
            found = find()
            if found is not None:
                return found, False
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
