"""The one clock of the pipelines: every "now" and "today" a flow or task acts on comes from here, so a test
freezes time in one place (`monkeypatch.setattr(clock, "utc_now", ...)` or `clock.today`). Call through the module
(`clock.today(zone)`), not a copied name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def today(timezone: str = "UTC") -> date:
    """Today's date in `timezone` (an IANA name; Upwork days are UTC days, awork and MOCO days the agency's)."""
    return utc_now().astimezone(ZoneInfo(timezone)).date()
