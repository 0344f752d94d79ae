"""Benchmark of "backfill Upwork": three Upwork organisations, 50 hourly contracts, 90 days of weekday work.

Reports Upwork requests per contract-day (a contract with work on a day), awork requests per created entry, the
wall time with both rate limits enforced by the simulators and by our clients (Upwork 10 requests/s; awork 50/s and
1000/min), the floor those limits set, and the requests of a no-op re-run (target: zero writes).

    .venv/bin/python -m bench.backfill_upwork [--contracts 50] [--days 90]

The default run creates 6,300 awork entries and so takes 6 to 7 minutes at least (awork's 1000 per minute; our
client keeps a little under it), ~8 in all; use e.g. `--contracts 6 --days 14` for a quick check.
Organisations: an agency (vendor of 90% of the contracts), a client (the other party of 20%, mapped there) and a
freelancer (10%); each contract is mapped in one organisation only, so no hours are doubled.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import httpx  # noqa: E402

from bench.report import write_report  # noqa: E402
from connectors.http import RateLimit  # noqa: E402
from models import clock  # noqa: E402
from models.settings import get_settings  # noqa: E402
from sandbox.awork import AworkSimulator  # noqa: E402
from sandbox.core import LoggedRequest, ServedSimulator  # noqa: E402
from sandbox.upwork import UpworkSimulator  # noqa: E402

FREELANCERS, PROJECTS = 10, 5
UPWORK_LIMITS, AWORK_LIMITS = ((10, 1.0),), ((50, 1.0), (1000, 60.0))
CLIENT_ID, SECRET, REDIRECT = "bench-client", "bench-secret", "http://127.0.0.1:8765/callback"


def seed(upwork: UpworkSimulator, awork: AworkSimulator, contracts: int, days: int, today: date) -> dict:
    """Organisations, freelancers (each an awork user with the same e-mail), contracts and their work; returns
    which organisation maps each contract, to which awork project and user, and the contract-days with work."""
    agency = upwork.add_organization("Bench Agency", "agency")["id"]
    client = upwork.add_organization("Bench Client", "client")["id"]
    solo = upwork.add_organization("Bench Solo (Freelancer)", "freelancer")["id"]
    outside = [upwork.add_organization(f"Outside Client {n}", "client", member=False)["id"] for n in range(3)]
    emails = [f"freelancer{n:02}@bench.example" for n in range(FREELANCERS)]
    people = [
        (upwork.add_freelancer("Free", f"Lancer{n}", e)["id"], awork.add_user("Free", f"Lancer{n}", e)["id"])
        for n, e in enumerate(emails)
    ]
    projects = [awork.add_project(f"Upwork Projekt {p}")["id"] for p in range(PROJECTS)]
    awork.add_type_of_work("Upwork")
    plan: dict[str, tuple[str, str, str, str]] = {}  # contract -> (mapping org, freelancer, awork user, project)
    contract_days = 0
    for n in range(contracts):
        side = {2: "solo", 1: "client", 6: "client"}.get(n % 10, "agency")  # freelancer 2 owns the solo org
        vendor, party = solo if side == "solo" else agency, client if side == "client" else outside[n % 3]
        freelancer, awork_user = people[n % FREELANCERS]
        contract = upwork.add_contract(
            vendor_org=vendor,
            client_org=party,
            freelancer=freelancer,
            title=f"Contract {n:03}",
            hourly_rate=30.0 + n % 7 * 5,
            start=today - timedelta(days=days + 30),
            diary_available=n % 10 != 5,
        )["id"]
        if n % 4 == 3:
            upwork.change_rate(contract, 40.0 + n % 7 * 5, today - timedelta(days=min(30, days // 2)))
        plan[contract] = (client if side == "client" else vendor, freelancer, awork_user, projects[n % PROJECTS])
        base = 2 + 4 * (n // FREELANCERS % 5)  # each freelancer's contracts in their own 4 hours of the UTC day
        for days_ago in range(days - 1, 0, -1):
            day = today - timedelta(days=days_ago)
            if day.weekday() >= 5:
                continue
            contract_days += 1
            morning, ordinal = datetime.combine(day, clock_time(base), tzinfo=UTC), day.toordinal()
            upwork.add_work(contract, morning, 6 + ordinal % 7, memo=f"Feature {n}", task="Entwicklung")
            afternoon = morning + timedelta(minutes=130 + 10 * (ordinal % 3))
            upwork.add_work(contract, afternoon, 3 + ordinal % 4, memo="Abstimmung", task="Meetings")
    return {"plan": plan, "contract_days": contract_days}


def connect_and_map(plan: dict[str, tuple[str, str, str, str]]) -> None:
    """The OAuth dance (the simulator's user consents at once), a refresh, then mappings straight into the store."""
    from connectors.upwork import UpworkOAuth, upwork_http
    from flows.refresh_upwork import refresh_upwork
    from models.upwork_store import CONFIRMED, UpworkUserMapping
    from tasks.shared import upwork_store

    settings = get_settings()
    oauth = UpworkOAuth(settings, upwork_http(settings))
    location = httpx.get(oauth.authorize_url("bench"), follow_redirects=False).headers["location"]
    store = upwork_store(settings)
    store.save(oauth.exchange_code(parse_qs(urlparse(location).query)["code"][0]))
    refresh_upwork()
    mappings = store.contract_mappings()
    for contract, (org, freelancer, awork_user, project) in plan.items():
        user = store.user_mapping(org, freelancer) or UpworkUserMapping(organization_id=org, freelancer_id=freelancer)
        user.awork_user_id, user.state, user.locked = awork_user, CONFIRMED, True
        store.save_user_mapping(user)
        mapping = mappings[(org, contract)]  # refresh pre-filled it (rates), disabled
        mapping.awork_project_id, mapping.enabled = project, True
        store.save_contract_mapping(mapping)


def awork_and_upwork_env(awork_url: str, awork_key: str, upwork_url: str) -> dict[str, str]:
    """The settings pointing at the awork and Upwork simulators, with awork's documented limits."""
    return {
        "TIMEBRIDGE_AWORK_BASE_URL": awork_url,
        "TIMEBRIDGE_AWORK_API_KEY": awork_key,
        "TIMEBRIDGE_AWORK_APP_URL": "https://bench.awork.com",
        "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_SECOND": str(AWORK_LIMITS[0][0]),
        "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_MINUTE": str(AWORK_LIMITS[1][0]),
        "TIMEBRIDGE_UPWORK_GRAPHQL_URL": f"{upwork_url}/graphql",
        "TIMEBRIDGE_UPWORK_TOKEN_URL": f"{upwork_url}/api/v3/oauth2/token",
        "TIMEBRIDGE_UPWORK_AUTHORIZE_URL": f"{upwork_url}/ab/account-security/oauth2/authorize",
        "TIMEBRIDGE_UPWORK_CLIENT_ID": CLIENT_ID,
        "TIMEBRIDGE_UPWORK_CLIENT_SECRET": SECRET,
        "TIMEBRIDGE_UPWORK_REDIRECT_URI": REDIRECT,
        "TIMEBRIDGE_SECRET_KEY": "bench-secret-key-for-token-encryption",
    }


def point_at(upwork_url: str, awork_url: str, workdir: Path, days: int) -> None:
    os.environ.update(
        {
            "TIMEBRIDGE_DATABASE_URL": f"sqlite:///{workdir}/bench.db",
            **awork_and_upwork_env(awork_url, "bench", upwork_url),
            "TIMEBRIDGE_UPWORK_BACKFILL_DAYS": str(days),
        }
    )
    get_settings.cache_clear()


def floors(requests: int, limits: tuple[tuple[int, float], ...]) -> tuple[float, float]:
    """The least time `requests` take under the sliding-window limits (a full window at once, then one window per
    limit), and under our client's token buckets (`RateLimit.bucket`: a small burst, then a little under the limit)."""
    windows = max((max(requests - 1, 0) // n) * w for n, w in limits)
    buckets = (RateLimit(n, w).bucket() for n, w in limits)
    return windows, max(max(requests - b.capacity, 0) / b.rate for b in buckets)


def counts(log: list[LoggedRequest], upwork: bool) -> tuple[int, int, int]:
    """(requests, writes, 429s). Upwork's GraphQL requests are all POSTs: its writes are mutations and token grants."""
    read = (lambda e: e.path.endswith("/graphql") and "mutation" not in str(e.body)[:40]) if upwork else None
    writes = [e for e in log if (not read(e) if read else e.is_write)]
    return len(log), len(writes), sum(e.status == 429 for e in log)


def timed_backfill(upwork: UpworkSimulator, awork: AworkSimulator) -> tuple[object, float, tuple, tuple]:
    """One backfill: its summary, wall time and the (requests, writes, 429s) it caused at Upwork and at awork."""
    from flows.backfill_upwork import backfill_upwork

    marks = upwork.log.mark(), awork.log.mark()
    started = time.perf_counter()
    summary = backfill_upwork()
    wall = time.perf_counter() - started
    return summary, wall, counts(upwork.log.since(marks[0]), True), counts(awork.log.since(marks[1]), False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=50)
    parser.add_argument("--days", type=int, default=90, help="days of work up to today (= the backfill window)")
    args = parser.parse_args()

    today = datetime.now(UTC).date()  # the flows' clock stands at 15:00 UTC of today
    clock.utc_now = lambda: datetime.combine(today, clock_time(15), tzinfo=UTC)
    upwork = UpworkSimulator(client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=(REDIRECT,))
    awork = AworkSimulator(api_keys=["bench"], per_second=AWORK_LIMITS[0][0], per_minute=AWORK_LIMITS[1][0])
    world = seed(upwork, awork, args.contracts, args.days, today)
    with ServedSimulator(upwork) as upwork_server, ServedSimulator(awork) as awork_server:
        point_at(upwork_server.url, awork_server.url, Path(tempfile.mkdtemp(prefix="timebridge-bench-")), args.days)
        connect_and_map(world["plan"])
        first, wall, up, aw = timed_backfill(upwork, awork)
        noop, noop_wall, noop_up, noop_aw = timed_backfill(upwork, awork)
    created, contract_days = first.entries_created, world["contract_days"]
    (up_floor, up_bucket), (aw_floor, aw_bucket) = floors(up[0], UPWORK_LIMITS), floors(aw[0], AWORK_LIMITS)
    rows = [
        ("organisations / contracts / days", f"3 / {args.contracts} / {args.days} (up to {today}, weekdays worked)"),
        ("contract-days with work (seeded / flow counted)", f"{contract_days} / {first.contract_days}"),
        ("first backfill: status / issues", f"{first.status} / {len(first.issues)}"),
        ("first backfill: awork entries created", created),
        ("first backfill: Upwork requests (per contract-day)", f"{up[0]} ({up[0] / max(contract_days, 1):.3f})"),
        ("first backfill: awork requests (per entry) / writes", f"{aw[0]} ({aw[0] / max(created, 1):.3f}) / {aw[1]}"),
        ("first backfill: 429 answers (Upwork / awork)", f"{up[2]} / {aw[2]}"),
        ("first backfill: wall time, both limits enforced", f"{wall:.1f} s"),
        ("floor: Upwork requests at 10/s (our client's bucket)", f"{up_floor:.0f} s ({up_bucket:.0f} s)"),
        ("floor: awork requests at 50/s and 1000/min (our client's buckets)", f"{aw_floor:.0f} s ({aw_bucket:.0f} s)"),
        ("floor: the run (both APIs at once)", f"{max(up_floor, aw_floor):.0f} s ({max(up_bucket, aw_bucket):.0f} s)"),
        ("no-op re-run: status / counts", f"{noop.status} / {noop.counts()}"),
        ("no-op re-run: Upwork requests / writes", f"{noop_up[0]} / {noop_up[1]}"),
        ("no-op re-run: awork requests / writes", f"{noop_aw[0]} / {noop_aw[1]}"),
        ("no-op re-run: wall time", f"{noop_wall:.1f} s"),
    ]
    write_report("backfill_upwork", rows)


if __name__ == "__main__":
    main()
