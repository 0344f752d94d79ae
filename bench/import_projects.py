"""Benchmark of "import MOCO projects": 500 flagged projects with 8 tasks each, against the simulators.

Reports requests per project on the first run, wall time, the time the same requests need at each API's
documented rate limit (the floor no client can beat), and the requests of a no-op re-run.

    .venv/bin/python -m bench.import_projects [--projects 500] [--tasks 8] [--rate-limits]

Without `--rate-limits` the simulators and the client do not throttle, so wall time shows our own overhead and the
floor is computed from the request counts; with it both sides enforce the documented limits (MOCO's unlimited plan,
1200 per 2 minutes; awork 50/s and 1000/min) and the run takes at least the floor.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.report import write_report  # noqa: E402
from models.settings import get_settings  # noqa: E402
from sandbox.awork import AworkSimulator  # noqa: E402
from sandbox.core import ServedSimulator  # noqa: E402
from sandbox.moco import MocoSimulator  # noqa: E402

MOCO_LIMIT = (1200, 120.0)  # the unlimited plan; the standard plan is 120 per 2 minutes
AWORK_LIMITS = ((50, 1.0), (1000, 60.0))


def seed(moco: MocoSimulator, awork: AworkSimulator, projects: int, tasks: int) -> None:
    """`projects` flagged projects over 50 customers, every fifth from an awork template."""
    moco.define_custom_property("Sync zu awork", "Boolean")
    moco.define_custom_property("awork Projekt", "Link")
    moco.define_custom_property("awork Projektvorlage", "Select", defaults=["Website"])
    awork.add_template("Website", task_lists={"Konzept": ["Kickoff"]})
    add_flagged_projects(moco, projects, tasks, customers=50, name="Projekt")


def add_flagged_projects(moco: MocoSimulator, projects: int, tasks: int, *, customers: int, name: str) -> None:
    """`projects` MOCO projects flagged for the import (by tag or by field, alternately) over `customers`
    customers, every fifth from the awork template "Website", each with `tasks` tasks."""
    customer_ids = [moco.add_company(f"{name} Kunde {n:02}")["id"] for n in range(customers)]
    for n in range(projects):
        moco.add_project(
            f"{name} {n:04}",
            identifier=f"{name[0]}{n:05}",
            customer_id=customer_ids[n % len(customer_ids)],
            tags=["Sync to awork"] if n % 2 else [],
            custom_properties={"Sync zu awork": "0" if n % 2 else "1"}
            | ({"awork Projektvorlage": "Website"} if n % 5 == 0 else {}),
            start_date="2026-01-01",
            finish_date="2026-12-31",
            tasks=[f"Leistung {t}" for t in range(tasks)],
        )


def floor_seconds(moco_requests: int, awork_requests: int) -> float:
    """The least time these requests take at the documented rate limits (the APIs are used in parallel)."""
    moco = moco_requests * MOCO_LIMIT[1] / MOCO_LIMIT[0]
    awork = max(awork_requests * window / limit for limit, window in AWORK_LIMITS)
    return max(moco, awork)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--rate-limits", action="store_true", help="enforce the documented limits on both sides")
    args = parser.parse_args()

    limited = args.rate_limits
    moco = MocoSimulator(api_keys=["bench"], rate_limit=MOCO_LIMIT[0] if limited else None, rate_window=MOCO_LIMIT[1])
    awork = AworkSimulator(api_keys=["bench"], per_second=50 if limited else None, per_minute=1000 if limited else None)
    seed(moco, awork, args.projects, args.tasks)
    workdir = Path(tempfile.mkdtemp(prefix="timebridge-bench-"))
    with ServedSimulator(moco) as moco_server, ServedSimulator(awork) as awork_server:
        os.environ.update(
            {
                "TIMEBRIDGE_DATABASE_URL": f"sqlite:///{workdir}/bench.db",
                "TIMEBRIDGE_MOCO_BASE_URL": moco_server.url,
                "TIMEBRIDGE_MOCO_API_KEY": "bench",
                "TIMEBRIDGE_AWORK_BASE_URL": awork_server.url,
                "TIMEBRIDGE_AWORK_API_KEY": "bench",
                "TIMEBRIDGE_AWORK_APP_URL": "https://bench.awork.com",
                "TIMEBRIDGE_MOCO_RATE_LIMIT": str(MOCO_LIMIT[0] if limited else 10**7),
                "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_SECOND": str(50 if limited else 10**7),
                "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_MINUTE": str(1000 if limited else 10**8),
            }
        )
        get_settings.cache_clear()
        from flows.import_moco_projects import import_moco_projects

        started = time.perf_counter()
        first = import_moco_projects()
        first_wall = time.perf_counter() - started
        first_moco, first_awork = len(moco.log.entries), len(awork.log.entries)
        marks = moco.log.mark(), awork.log.mark()
        started = time.perf_counter()
        import_moco_projects()
        second_wall = time.perf_counter() - started
        second = moco.log.since(marks[0]) + awork.log.since(marks[1])

    rows = [
        ("projects × tasks", f"{args.projects} × {args.tasks}"),
        ("rate limits enforced", "yes" if limited else "no (floor computed from request counts)"),
        ("first run: status", first.status),
        ("first run: MOCO requests", first_moco),
        ("first run: awork requests", first_awork),
        ("first run: requests per project", f"{(first_moco + first_awork) / args.projects:.2f}"),
        ("first run: wall time", f"{first_wall:.1f} s"),
        ("first run: time at the rate-limit floor", f"{floor_seconds(first_moco, first_awork):.0f} s"),
        ("no-op re-run: requests", f"{len(second)} ({sum(e.is_write for e in second)} writes)"),
        ("no-op re-run: wall time", f"{second_wall:.1f} s"),
    ]
    write_report("import_projects", rows)


if __name__ == "__main__":
    main()
