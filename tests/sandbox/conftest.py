"""`sim`: the MOCO simulator behind a module's `served` fixture (each MOCO test module serves its own; the awork
module defines its own `sim`)."""

from __future__ import annotations

import pytest

from sandbox.core import ServedSimulator
from sandbox.moco import MocoSimulator


@pytest.fixture(scope="module")
def sim(served: ServedSimulator) -> MocoSimulator:
    """The MOCO simulator the module's server runs (for seeding and its request log)."""
    if not isinstance(served.app, MocoSimulator):
        raise TypeError(f"this module serves {type(served.app).__name__}, not the MOCO simulator")
    return served.app
