"""Benchmark of "push awork times": 10,000 entries across 50 projects and 20 users, against the simulators.

Reports MOCO and awork requests per created activity on the first push (target: at most 0.05 MOCO requests per
activity, through bulk creates), the time those requests need at MOCO's rate-limit floor (120 requests per
2 minutes), requests and writes of a no-op re-run (target: zero writes), and the peak memory (RSS) of the push
process for a growing number of entries (it should stay flat: a run works through its window a week at a time).
The first push runs in a process of its own so that the simulators' memory does not count.

    .venv/bin/python -m bench.push_times [--entries 10000] [--memory-steps 2500,5000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.report import write_report  # noqa: E402
from models.settings import get_settings  # noqa: E402
from sandbox.awork import AworkSimulator  # noqa: E402
from sandbox.core import ServedSimulator  # noqa: E402
from sandbox.moco import MocoSimulator  # noqa: E402

PROJECTS, USERS = 50, 20
MOCO_FLOOR = (120, 120.0)  # MOCO's standard plan: 120 requests per 2 minutes
BERLIN = ZoneInfo("Europe/Berlin")


def add_staffed_projects(
    moco: MocoSimulator, projects: int, users: int, *, name: str, user: str, identifier: str
) -> None:
    """Flagged MOCO projects of one customer with four tasks each, and users staffed on all but every tenth
    project-user pair (left for the push to staff)."""
    customer = moco.add_company(f"{name} Kunde")["id"]
    people = [
        moco.add_user(f"{user}{n:02}", "Bench", f"{user.lower()}{n:02}@bench.example")["id"] for n in range(users)
    ]
    for p in range(projects):
        project = moco.add_project(
            f"{name} {p:02}",
            identifier=f"{identifier}{p:03}",
            customer_id=customer,
            tags=["Sync to awork"],
            tasks=["Design", "Entwicklung", "Beratung", "Projektleitung"],
        )
        for n, person in enumerate(people):
            if (p + n) % 10:
                moco.add_contract(project["id"], person)


def seed_moco(moco: MocoSimulator) -> None:
    """50 flagged projects with four tasks each; 20 users, each staffed on all but a few projects."""
    moco.define_custom_property("Sync zu awork", "Boolean")
    moco.define_custom_property("awork Projekt", "Link")
    moco.define_custom_property("awork Projektvorlage", "Select")
    add_staffed_projects(moco, PROJECTS, USERS, name="Projekt", user="User", identifier="B")


def seed_entries(awork: AworkSimulator, count: int, today: date) -> None:
    """`count` entries over the last 30 days, spread over the projects and users, half with a matching type."""
    users = [awork.add_user(f"User{n:02}", "Bench", f"USER{n:02}@bench.example")["id"] for n in range(USERS)]
    kinds = [awork.add_type_of_work(name)["id"] for name in ("Design", "Entwicklung", "Meeting", "Sales")]
    projects = [p["id"] for p in awork.projects()]
    for n in range(count):
        day = today - timedelta(days=1 + n % 30)
        start = datetime(day.year, day.month, day.day, 8 + n % 10, tzinfo=BERLIN)
        awork.add_time_entry(
            user_id=users[n % USERS],
            project_id=projects[(n // USERS) % len(projects)],
            type_of_work_id=kinds[n % len(kinds)],
            start=start,
            duration=900 + 60 * (n % 120),
            note=f"Eintrag {n}",
            is_billable=n % 7 != 0,
        )


def point_at(moco_url: str, awork_url: str, workdir: Path) -> None:
    os.environ.update(
        {
            "TIMEBRIDGE_DATABASE_URL": f"sqlite:///{workdir}/bench.db",
            "TIMEBRIDGE_MOCO_BASE_URL": moco_url,
            "TIMEBRIDGE_MOCO_API_KEY": "bench",
            "TIMEBRIDGE_AWORK_BASE_URL": awork_url,
            "TIMEBRIDGE_AWORK_API_KEY": "bench",
            "TIMEBRIDGE_AWORK_APP_URL": "https://bench.awork.com",
            "TIMEBRIDGE_MOCO_RATE_LIMIT": str(10**7),
            "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_SECOND": str(10**7),
            "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_MINUTE": str(10**8),
        }
    )
    get_settings.cache_clear()


PUSH_IN_CHILD = """
import json, re
from flows.push_awork_times import push_awork_times
summary = push_awork_times()
# VmHWM: this process image's peak RSS (ru_maxrss would include the parent's size from before exec)
peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"created": summary.activities_created, "status": summary.status, "peak_kib": peak}))
"""


def push_in_child() -> dict[str, object]:
    """The first push in a process of its own (the simulators stay here), so its peak memory is ours alone."""
    done = subprocess.run([sys.executable, "-c", PUSH_IN_CHILD], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(entries: int) -> dict[str, object]:
    """One full scenario: import the projects, seed the entries, push twice; measure the pushes."""
    from flows.import_moco_projects import import_moco_projects
    from flows.push_awork_times import push_awork_times
    from models import clock

    moco = MocoSimulator(api_keys=["bench"], rate_limit=None)
    awork = AworkSimulator(api_keys=["bench"], per_second=None, per_minute=None)
    seed_moco(moco)
    workdir = Path(tempfile.mkdtemp(prefix="timebridge-bench-"))
    with ServedSimulator(moco) as moco_server, ServedSimulator(awork) as awork_server:
        point_at(moco_server.url, awork_server.url, workdir)
        import_moco_projects()
        seed_entries(awork, entries, clock.today(get_settings().timezone))
        marks = moco.log.mark(), awork.log.mark()
        started = time.perf_counter()
        first = push_in_child()
        wall = time.perf_counter() - started
        moco_requests, awork_requests = len(moco.log.since(marks[0])), len(awork.log.since(marks[1]))
        marks = moco.log.mark(), awork.log.mark()
        started = time.perf_counter()
        push_awork_times()
        noop_wall = time.perf_counter() - started
        noop = moco.log.since(marks[0]) + awork.log.since(marks[1])
    created = int(first["created"])  # type: ignore[call-overload]
    return {
        "entries": entries,
        "status": first["status"],
        "created": created,
        "moco": moco_requests,
        "awork": awork_requests,
        "moco per activity": moco_requests / max(created, 1),
        "awork per activity": awork_requests / max(created, 1),
        "wall": wall,
        "floor": moco_requests * MOCO_FLOOR[1] / MOCO_FLOOR[0],
        "noop requests": len(noop),
        "noop writes": sum(e.is_write for e in noop),
        "noop wall": noop_wall,
        "peak MiB": int(first["peak_kib"]) / 1024,  # type: ignore[call-overload]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--memory-steps", default="", help="entry counts for the memory comparison, e.g. 2500,5000")
    args = parser.parse_args()

    main_run = run(args.entries)
    rows = [
        ("entries / projects / users", f"{args.entries} / {PROJECTS} / {USERS}"),
        ("first push: status", main_run["status"]),
        ("first push: activities created", main_run["created"]),
        ("first push: MOCO requests (per activity)", f"{main_run['moco']} ({main_run['moco per activity']:.3f})"),
        ("first push: awork requests (per activity)", f"{main_run['awork']} ({main_run['awork per activity']:.3f})"),
        ("first push: wall time without throttling (incl. ~15 s Prefect start)", f"{main_run['wall']:.1f} s"),
        ("first push: time at MOCO's floor (120 per 2 min)", f"{main_run['floor']:.0f} s"),
        ("no-op re-run: requests / writes", f"{main_run['noop requests']} / {main_run['noop writes']}"),
        ("no-op re-run: wall time", f"{main_run['noop wall']:.1f} s"),
        (f"peak RSS of the push process ({args.entries} entries)", f"{main_run['peak MiB']:.0f} MiB"),
    ]
    for step in [int(s) for s in args.memory_steps.split(",") if s]:
        rows.append((f"peak RSS of the push process ({step} entries)", f"{run(step)['peak MiB']:.0f} MiB"))
    write_report("push_times", rows)


if __name__ == "__main__":
    main()
