"""Benchmark of the webhooks' path: how long an awork change takes to reach MOCO, and what it costs.

The stack of tests/webhook_stack.py: the simulators, a real Prefect server (its scheduler off, so only events start
runs), `prefect deploy --all`, one `process` worker polling every 5 s (as deploy/systemd/timebridge-worker.service),
the receiver, and the webhooks registered with `timebridge webhooks register`. After the MOCO project is imported
(by its webhook), 200 awork changes (new entries, edits, deletions) arrive at random (exponential gaps, 1.5 s on
average); each change's delay is the time until MOCO shows it (the activity created, its seconds changed, or gone).
Reports p50, p95 and the maximum of those delays (target: p95 under 60 s on 2 cores), the flow runs the events
started, and MOCO requests per change. MOCO at its unlimited plan's limit (1,200 requests per 2 minutes). The
Prefect server's database is PostgreSQL when TIMEBRIDGE_TEST_POSTGRES_URL names one (as in production), else SQLite.

    TIMEBRIDGE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python -m bench.webhook_latency [--changes 200] [--mean-gap 1.5]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report import write_report
from tests.webhook_stack import Stack, entry_form, flag_for_sync, reacting_stack, seed_office

MOCO_UNLIMITED_PLAN = 1200  # requests per 2 minutes
WORKER_QUERY_SECONDS = 5


@dataclass
class Change:
    entry_id: str
    seconds: int | None  # what MOCO should show; None: no activity
    made: float  # time.monotonic()
    seen: float | None = None


def make_changes(stack: Stack, project: dict, count: int, mean_gap: float, rng: random.Random) -> list[Change]:
    """`count` changes at random: mostly new entries, some edits and deletions of entries made before; MOCO is
    watched between them (and afterwards, until it shows every change or 5 minutes pass)."""
    changes: list[Change] = []
    alive: list[str] = []
    today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    next_at = time.monotonic()
    for number in range(count):
        while time.monotonic() < next_at:
            watch(stack, changes)
            time.sleep(min(0.25, max(0.0, next_at - time.monotonic())))
        kind = rng.random()
        if kind < 0.7 or len(alive) < 5:
            start = today - timedelta(days=rng.randrange(20), minutes=number)
            seconds = 900 + 60 * rng.randrange(60)
            entry = stack.awork.add_time_entry(**entry_form(stack, project, start, seconds))
            alive.append(entry["id"])
            changes.append(Change(entry["id"], seconds, time.monotonic()))
        elif kind < 0.9:
            entry_id, seconds = rng.choice(alive), 900 + 60 * rng.randrange(60)
            stack.awork.update_time_entry(entry_id, duration=seconds)
            changes.append(Change(entry_id, seconds, time.monotonic()))
        else:
            entry_id = alive.pop(rng.randrange(len(alive)))
            stack.awork.delete_time_entry(entry_id)
            changes.append(Change(entry_id, None, time.monotonic()))
        next_at += rng.expovariate(1 / mean_gap)
    deadline = time.monotonic() + 300
    while any(c.seen is None for c in changes) and time.monotonic() < deadline:
        watch(stack, changes)
        time.sleep(0.25)
    return changes


def watch(stack: Stack, changes: list[Change]) -> None:
    """Mark the changes MOCO shows now (a later change of the same entry supersedes an earlier one's check)."""
    shown = {a["remote_id"]: a["seconds"] for a in stack.moco.activities()}
    latest = {c.entry_id: c for c in changes}
    now = time.monotonic()
    for change in changes:
        if change.seen is None and shown.get(f"awork:{change.entry_id}") == change.seconds:
            change.seen = now
        elif change.seen is None and latest[change.entry_id] is not change and latest[change.entry_id].seen:
            change.seen = latest[change.entry_id].seen  # overtaken: it reached MOCO with the later change


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--mean-gap", type=float, default=1.5, help="mean seconds between two changes")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as home,
        reacting_stack(
            Path(home),
            f"prefect_bench_webhooks_{os.getpid()}",
            seed_office,
            worker_query_seconds=WORKER_QUERY_SECONDS,
            moco_rate_limit=MOCO_UNLIMITED_PLAN,
        ) as stack,
    ):
        project, import_delay = flag_for_sync(stack)
        if import_delay is None:
            raise SystemExit(f"the import did not run:\n{stack.logs()}")
        time.sleep(15)  # let the import's own follow-up events pass
        runs_before = len(stack.runs("push-awork-times"))
        moco_mark = stack.moco.log.mark()
        began = time.monotonic()
        changes = make_changes(stack, project, args.changes, args.mean_gap, random.Random(15))
        spread = changes[-1].made - changes[0].made
        moco_requests = stack.moco.log.since(moco_mark)
        runs = len(stack.runs("push-awork-times")) - runs_before
        elapsed = time.monotonic() - began
    delays = [c.seen - c.made for c in changes if c.seen is not None]
    missing = sum(c.seen is None for c in changes)
    writes = sum(e.is_write for e in moco_requests)
    write_report(
        "webhook_latency",
        [
            ("machine", f"{os.cpu_count()} cores, Python {platform.python_version()}"),
            ("Prefect server database", "PostgreSQL" if os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL") else "SQLite"),
            ("changes", f"{len(changes)} awork changes over {spread:.0f} s ({args.mean_gap} s apart on average)"),
            ("a MOCO project flagged for sync, to awork", f"{import_delay:.1f} s"),
            ("delay change → MOCO: p50", f"{percentile(delays, 0.5):.1f} s"),
            ("delay change → MOCO: p95", f"{percentile(delays, 0.95):.1f} s"),
            ("delay change → MOCO: max", f"{max(delays):.1f} s"),
            ("changes not in MOCO after 5 minutes", missing),
            ("push runs the events started", runs),
            ("MOCO requests per change", f"{len(moco_requests) / len(changes):.2f} ({writes} writes)"),
            ("wall time", f"{elapsed:.0f} s"),
            ("mean delay", f"{statistics.mean(delays):.1f} s"),
        ],
    )


if __name__ == "__main__":
    main()
