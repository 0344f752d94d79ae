"""Benchmark of the reports: 100,000 entries on each side, as frames (no HTTP, no Prefect), through the same rules
and file writers the flows use.

Reconciliation: 100,000 awork entries over 35 days, 50 projects and 20 users, and their MOCO activities with a few
percent of known differences (billed and changed, entered in MOCO directly, not pushed, an unmapped user); timed:
the comparison per project, user and day, the report by project, user, day and week, and writing CSV and PNG.
Margin: 100,000 stored Upwork entries over 200 contracts of 5 organisations in two currencies, some without a pay
rate; timed: the report by contract, project and organisation, and writing CSV and PNG.

    .venv/bin/python -m bench.reports [--entries 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from bench.report import write_report
from models.settings import get_settings
from tasks.report_rules import (
    AWORK_COLUMNS,
    MARGIN_BY,
    MARGIN_COLUMNS,
    MOCO_COLUMNS,
    RECONCILE_BY,
    TOTAL,
    margin_report,
    reconcile,
    reconcile_differences,
    reconcile_report,
    weekly_hours,
)
from tasks.reports import write_margin_files, write_reconcile_files

PROJECTS, USERS, DAYS, CONTRACTS, ORGANISATIONS = 50, 20, 35, 200, 5
FIRST_DAY = np.datetime64(date(2026, 10, 16))


def both_sides(count: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str], dict[str, str]]:
    """`count` awork entries and their activities: 2% billed and changed, 1% not pushed, 1% by an unmapped user,
    plus 1% extra activities entered in MOCO directly; a tenth of the not-pushed entries have an open issue."""
    n = np.arange(count)
    ids = np.char.add("e", n.astype(str))
    users = np.char.add("User ", (n % USERS).astype(str))
    emails = np.char.add(np.char.add("user", (n % USERS).astype(str)), "@bench.example")
    unmapped = n % 100 == 1
    awork = pd.DataFrame(
        {
            "entry_id": ids,
            "project": np.char.add("P", (n // USERS % PROJECTS).astype(str)),
            "user": np.where(unmapped, "Freelancer", users),
            "email": np.where(unmapped, "freelancer@elsewhere.example", emails),
            "day": FIRST_DAY + (n % DAYS).astype("timedelta64[D]"),
            "seconds": 900 + 60 * (n % 120),
        },
        columns=AWORK_COLUMNS,
    )
    pushed = ~unmapped & (n % 100 != 2)
    changed = n % 50 == 3
    moco = pd.DataFrame(
        {
            "activity_id": n,
            "project": awork["project"],
            "user": users,
            "day": awork["day"],
            "seconds": np.where(changed, awork["seconds"] - 300, awork["seconds"]),
            "billed": changed,
            "remote_id": np.char.add("awork:", ids),
        },
        columns=MOCO_COLUMNS,
    )[pushed]
    direct = moco.head(count // 100).assign(remote_id=None, activity_id=lambda f: f["activity_id"] + count)
    moco_users = {f"user{u}@bench.example": f"User {u}" for u in range(USERS)}
    issues = {f"awork time entry e{i}": "MOCO refused the activity" for i in n[n % 1000 == 2]}
    return awork, pd.concat([moco, direct], ignore_index=True), moco_users, issues


def stored_entries(count: int) -> pd.DataFrame:
    """`count` stored Upwork entries with the rates of their day (every 25th contract without a pay rate)."""
    n = np.arange(count)
    contract = n % CONTRACTS
    pay = np.where(contract % 25 == 0, np.nan, 20 + (contract % 30) + (n % 7) * 0.25)
    return pd.DataFrame(
        {
            "organisation": np.char.add("Organisation ", (contract % ORGANISATIONS).astype(str)),
            "contract": np.char.add("Contract ", contract.astype(str)),
            "project": np.char.add("Project ", (contract % 40).astype(str)),
            "day": FIRST_DAY + (n % DAYS).astype("timedelta64[D]"),
            "seconds": 600 + 60 * (n % 90),
            "pay_rate": pay,
            "bill_rate": 30 + (contract % 40) + (n % 7) * 0.25,  # some contracts lose money
            "currency": np.where(contract % 3 == 0, "EUR", "USD"),
        },
        columns=MARGIN_COLUMNS,
    )


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    os.environ["TIMEBRIDGE_REPORT_DIR"] = tempfile.mkdtemp(prefix="timebridge-reports-")
    get_settings.cache_clear()

    awork, moco, moco_users, issues = both_sides(args.entries)
    days, compare = timed(lambda: reconcile(awork, moco, moco_users, issues))
    by_timings = {by: timed(lambda by=by: reconcile_report(days, by))[1] for by in RECONCILE_BY}
    report = reconcile_report(days, "project")
    differences, listing = timed(lambda: reconcile_differences(days))
    _, reconcile_files = timed(
        lambda: write_reconcile_files.fn(report, differences, weekly_hours(days), "bench-reconcile", "project", "bench")
    )

    entries = stored_entries(args.entries)
    margins = {by: timed(lambda by=by: margin_report(entries, by)) for by in MARGIN_BY}
    contracts = margins["contract"][0]
    _, margin_files = timed(
        lambda: write_margin_files.fn(contracts, [*MARGIN_BY["contract"], "currency"], "bench-margin", "bench")
    )

    total = report.iloc[-1]
    reconcile_seconds = compare + by_timings["project"] + listing + reconcile_files
    margin_seconds = margins["contract"][1] + margin_files
    write_report(
        "reports",
        [
            ("awork entries / MOCO activities", f"{len(awork):,} / {len(moco):,}"),
            ("project-user-days / differing", f"{len(days):,} / {int(total['differences']):,}"),
            ("reconcile: compare per project, user and day", f"{compare:.2f} s"),
            (
                "reconcile: report by " + " / ".join(RECONCILE_BY),
                " / ".join(f"{by_timings[b]:.2f}" for b in RECONCILE_BY) + " s",
            ),
            ("reconcile: list the differences", f"{listing:.2f} s"),
            ("reconcile: write CSV (report, differences) and PNG", f"{reconcile_files:.2f} s"),
            ("reconcile: whole report by project, files included", f"{reconcile_seconds:.2f} s"),
            (
                "stored Upwork entries / contracts",
                f"{len(entries):,} / {int(contracts['organisation'].ne(TOTAL).sum()):,}",
            ),
            (
                "margin: report by " + " / ".join(MARGIN_BY),
                " / ".join(f"{margins[b][1]:.2f}" for b in MARGIN_BY) + " s",
            ),
            ("margin: write CSV and PNG (the 30 largest margins)", f"{margin_files:.2f} s"),
            ("margin: whole report by contract, files included", f"{margin_seconds:.2f} s"),
        ],
    )


if __name__ == "__main__":
    main()
