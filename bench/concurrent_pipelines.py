"""Benchmark of the three pipelines at once: import-moco-projects, push-awork-times and backfill-upwork on two
workers, against the simulators at their documented rate limits.

The production path of the README: a real `prefect server start`, the `process` work pool, `prefect --no-prompt
deploy --all` from a copy of the checkout, and two `prefect worker start --pool process --limit 2`, each with the
TIMEBRIDGE_* settings pointing at the simulators and TIMEBRIDGE_SHARED_RATE_LIMITS=true (every API limit is also a
Prefect global concurrency limit shared by all runs). The server's scheduler is off: only the runs made here run.

Every scenario builds the same world from nothing (fresh simulators, store and workers): ten MOCO projects linked to
awork by a first import run, with awork time entries for the push; `--projects` flagged MOCO projects with `--tasks`
tasks each, not imported yet; Upwork organisations connected and mapped as in bench/backfill_upwork.py. Then each
pipeline runs alone, once per scenario, and finally the three are created through the API at the same moment.

The runs are created scheduled SCHEDULE_LEAD_SECONDS ahead, as a deployment's schedule creates them; the workers
prefetch them and start their processes before they are due. Reported: wall time (runs due -> last run finished)
against the floor the documented limits set for the requests the runs sent (per API: requests / documented rate;
the floor is the largest), 429 answers per simulator, and successful writes per synced record, alone and together,
with a check that every record was written once.

Limits: MOCO's unlimited plan (1200 requests per 2 minutes), as bench/import_projects.py enforces it;
`--moco-plan standard` is 120 per 2 minutes, the figure of bench/push_times.py's floor. awork 50/s and 1000/min,
Upwork 10/s, as bench/backfill_upwork.py enforces them.

    .venv/bin/python -m bench.concurrent_pipelines [--projects 40] [--tasks 8] [--entries 1000] [--contracts 8]
        [--days 30] [--moco-plan unlimited|standard] [--postgres postgresql://user:pw@host/db]

With `--postgres` the store and the Prefect server's database are fresh databases on that PostgreSQL server;
otherwise SQLite files in a temporary directory. The default run took ten minutes on 2 cores,
half a minute of it set-up per scenario (workers, the linking import, the Upwork connection).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.backfill_upwork import awork_and_upwork_env  # noqa: E402
from bench.import_projects import add_flagged_projects  # noqa: E402
from bench.push_times import add_staffed_projects  # noqa: E402
from bench.report import RESULTS  # noqa: E402
from sandbox.awork import AworkSimulator  # noqa: E402
from sandbox.core import LoggedRequest, ServedSimulator, Simulator  # noqa: E402
from sandbox.moco import MocoSimulator  # noqa: E402
from sandbox.upwork import UpworkSimulator  # noqa: E402
from tests.prefect_server import PrefectServer, checkout_copy, fresh_database  # noqa: E402

# Nothing above imports prefect: the Prefect settings of this process are set before it is (see `use_server`).

IMPORT, PUSH, BACKFILL = "import-moco-projects", "push-awork-times", "backfill-upwork"
PIPELINES = (IMPORT, PUSH, BACKFILL)
MOCO_PLANS = {"unlimited": (1200, 120.0), "standard": (120, 120.0)}
AWORK_LIMITS = ((50, 1.0), (1000, 60.0))
UPWORK_LIMITS = ((10, 1.0),)
PUSH_PROJECTS, PUSH_USERS = 10, 10
KEY = "bench"
CLIENT_ID, SECRET, REDIRECT = "bench-client", "bench-secret", "http://127.0.0.1:8765/callback"
BERLIN = ZoneInfo("Europe/Berlin")
WORKERS, WORKER_LIMIT, WORKER_QUERY_SECONDS = 2, 2, 2
# The runs are scheduled this far ahead, as a deployment's schedule creates its runs ahead of time: the workers
# fetch runs due within PREFECT_WORKER_PREFETCH_SECONDS and start their processes early, and Prefect holds each
# run until its scheduled time (WaitForScheduledTime), so process start-up is not in the measured time.
SCHEDULE_LEAD_SECONDS = 10.0
RUN_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Sizes:
    projects: int
    tasks: int
    entries: int
    contracts: int
    days: int
    moco_plan: str
    postgres: str | None

    def limits(self) -> dict[str, tuple[tuple[int, float], ...]]:
        """Each API's documented limits as (requests, window seconds)."""
        return {"moco": (MOCO_PLANS[self.moco_plan],), "awork": AWORK_LIMITS, "upwork": UPWORK_LIMITS}


# --- the world every scenario starts from -----------------------------------------------------------------------
@dataclass
class World:
    moco: MocoSimulator
    awork: AworkSimulator
    upwork: UpworkSimulator
    upwork_plan: dict[str, tuple[str, str, str, str]]  # contract -> (mapping org, freelancer, awork user, project)
    push_users: list[str]  # awork user ids
    push_kinds: list[str]  # awork types of work
    today: date  # UTC

    def simulators(self) -> dict[str, Simulator]:
        return {"moco": self.moco, "awork": self.awork, "upwork": self.upwork}


def seed_world(sizes: Sizes) -> World:
    """Simulators at the documented limits with the MOCO fields, the push's projects and users, and the Upwork
    organisations, contracts and work of bench/backfill_upwork.py (the import's projects come later)."""
    from bench.backfill_upwork import seed as seed_upwork

    moco_limit, moco_window = MOCO_PLANS[sizes.moco_plan]
    moco = MocoSimulator(api_keys=[KEY], rate_limit=moco_limit, rate_window=moco_window)
    awork = AworkSimulator(api_keys=[KEY], per_second=AWORK_LIMITS[0][0], per_minute=AWORK_LIMITS[1][0])
    upwork = UpworkSimulator(
        client_id=CLIENT_ID, client_secret=SECRET, redirect_uris=(REDIRECT,), requests_per_second=UPWORK_LIMITS[0][0]
    )
    moco.define_custom_property("Sync zu awork", "Boolean")
    moco.define_custom_property("awork Projekt", "Link")
    moco.define_custom_property("awork Projektvorlage", "Select", defaults=["Website"])
    awork.add_template("Website", task_lists={"Konzept": ["Kickoff"]})
    users, kinds = seed_push_projects(moco, awork)
    today = datetime.now(UTC).date()
    plan = seed_upwork(upwork, awork, sizes.contracts, sizes.days, today)["plan"]
    return World(moco, awork, upwork, plan, users, kinds, today)


def seed_push_projects(moco: MocoSimulator, awork: AworkSimulator) -> tuple[list[str], list[str]]:
    """Ten flagged MOCO projects with four tasks and ten users staffed on all but every tenth pair (the push staffs
    those), the same people in awork (their e-mails spelt in capitals) and four types of work, two named like MOCO
    tasks; returns the awork user and type of work ids."""
    add_staffed_projects(moco, PUSH_PROJECTS, PUSH_USERS, name="Push", user="Push", identifier="Q")
    users = [awork.add_user(f"Push{n:02}", "Bench", f"PUSH{n:02}@bench.example")["id"] for n in range(PUSH_USERS)]
    kinds = [awork.add_type_of_work(name)["id"] for name in ("Design", "Entwicklung", "Meeting", "Sales")]
    return users, kinds


def seed_push_entries(world: World, count: int, days: int) -> tuple[date, date]:
    """`count` awork entries on the linked push projects over `days` days ending `days` + 1 days ago (Berlin), so
    the push never reads the days the backfill writes; returns the push's start and end."""
    by_name = {p["name"]: p["id"] for p in world.awork.projects()}
    projects = [by_name[f"Push {p:02}"] for p in range(PUSH_PROJECTS)]  # KeyError: the first import did not link
    last = datetime.now(BERLIN).date() - timedelta(days=days + 1)
    for n in range(count):
        day = last - timedelta(days=n % days)
        world.awork.add_time_entry(
            user_id=world.push_users[n % PUSH_USERS],
            project_id=projects[(n // PUSH_USERS) % PUSH_PROJECTS],
            type_of_work_id=world.push_kinds[n % len(world.push_kinds)],
            start=datetime(day.year, day.month, day.day, 8 + n % 10, tzinfo=BERLIN),
            duration=900 + 60 * (n % 120),
            note=f"Eintrag {n}",
            is_billable=n % 7 != 0,
        )
    return last - timedelta(days=days - 1), last


def timebridge_env(urls: dict[str, str], store_url: str, sizes: Sizes) -> dict[str, str]:
    """The TIMEBRIDGE_* settings of a scenario: the simulators, the store, the documented limits, shared limits."""
    moco_limit, moco_window = MOCO_PLANS[sizes.moco_plan]
    return {
        "TIMEBRIDGE_DATABASE_URL": store_url,
        "TIMEBRIDGE_MOCO_BASE_URL": urls["moco"],
        "TIMEBRIDGE_MOCO_API_KEY": KEY,
        "TIMEBRIDGE_MOCO_RATE_LIMIT": str(moco_limit),
        "TIMEBRIDGE_MOCO_RATE_WINDOW_SECONDS": str(moco_window),
        **awork_and_upwork_env(urls["awork"], KEY, urls["upwork"]),
        "TIMEBRIDGE_SHARED_RATE_LIMITS": "true",
    }


# --- Prefect: server, deployments, workers ----------------------------------------------------------------------
class BenchServer(PrefectServer):
    """The tests' `prefect server start`, whose API calls ride out the 503s a busy SQLite server answers with
    ("retryable": nothing was committed), as Prefect's own client does."""

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        for attempt in range(6):
            try:
                return super().api(method, path, **kwargs)
            except httpx.HTTPStatusError as error:
                if error.response.status_code != 503 or attempt == 5:
                    raise
            except httpx.TransportError:
                if method == "POST" or attempt == 5:  # a create may have happened
                    raise
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")


@dataclass
class Stack:
    server: PrefectServer
    clone: Path
    deployments: dict[str, str]  # name -> id


def use_server(server: PrefectServer) -> None:
    """Point this process at the server (before prefect is imported here): the Upwork connection runs the
    refresh-upwork flow in this process, as bench/backfill_upwork.py does."""
    for name in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_UI_URL", "PREFECT_SERVER_EPHEMERAL_ENABLED"):
        os.environ[name] = server.env[name]


@contextmanager
def prefect_stack(workdir: Path, postgres: str | None) -> Iterator[Stack]:
    """`prefect server start` (its scheduler off), the process pool and the deployments of prefect.yaml deployed
    from a copy of the checkout."""
    home = workdir / "prefect-home"
    home.mkdir()
    with fresh_database(postgres, "timebridge_bench_prefect") as database:
        server = BenchServer(home, database)
        server.env["PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED"] = "false"
        use_server(server)
        try:
            server.start()
            clone = checkout_copy(workdir / "checkout")
            server.run(["prefect", "work-pool", "create", "process", "--type", "process"], clone)
            server.run(["prefect", "--no-prompt", "deploy", "--all"], clone, timeout=600)
            yield Stack(server, clone, {name: d["id"] for name, d in server.deployments().items()})
        finally:
            server.stop()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


@contextmanager
def workers(stack: Stack, scenario: str, env: dict[str, str]) -> Iterator[list[str]]:
    """Two `prefect worker start --pool process` with the scenario's settings, until the scenario ends."""
    names = [f"{scenario}-{n + 1}" for n in range(WORKERS)]
    command = ["prefect", "worker", "start", "--pool", "process", "--limit", str(WORKER_LIMIT), "--name"]
    settings = env | {
        "PREFECT_WORKER_QUERY_SECONDS": str(WORKER_QUERY_SECONDS),
        "PREFECT_WORKER_PREFETCH_SECONDS": str(SCHEDULE_LEAD_SECONDS + 5),
    }
    processes = [stack.server.spawn([*command, name], stack.clone, f"worker-{name}", settings) for name in names]
    try:
        for name in names:
            wait_until(lambda name=name: "started!" in stack.server.log(f"worker-{name}"), 120, f"worker {name}")
        yield names
    finally:
        for process in processes:
            stack.server.stop_process(process)


def fresh_limits(world: World, server: PrefectServer) -> None:
    """Start the measured runs with empty rate-limit windows: the simulators forget the setup's requests (their
    sliding windows), the Prefect global concurrency limits their taken and denied slots."""
    for simulator in world.simulators().values():
        for window in simulator.limits:
            window._hits.clear()  # no request is in flight between the setup and the runs
    reset_concurrency_limits(server)


def reset_concurrency_limits(server: PrefectServer) -> None:
    """No slot taken or denied in any global concurrency limit (called when no run is going on)."""
    for limit in server.api("POST", "/v2/concurrency_limits/filter", json={}).json():
        server.api("PATCH", f"/v2/concurrency_limits/{limit['id']}", json={"active_slots": 0, "denied_slots": 0})


# --- one scenario -------------------------------------------------------------------------------------------------
@dataclass
class Run:
    pipeline: str
    state: str  # the state's name; its type too unless COMPLETED
    message: str
    worker: str
    start: float  # epoch seconds, from the server
    end: float


@dataclass
class Outcome:
    """What one scenario measured: its runs, the traffic each simulator answered during them, the records."""

    pipelines: tuple[str, ...]
    created_at: float
    due_at: float  # the runs' scheduled start
    runs: dict[str, Run]
    traffic: dict[str, list[LoggedRequest]]
    records: dict[str, tuple[int, int]]  # pipeline -> (records written, distinct keys among them)

    @property
    def wall(self) -> float:
        """Scheduled start -> last run finished."""
        return max(r.end for r in self.runs.values()) - self.due_at

    @property
    def wall_since_created(self) -> float:
        return max(r.end for r in self.runs.values()) - self.created_at


def prepare(world: World, stack: Stack, sizes: Sizes) -> dict[str, dict[str, str]]:
    """The state every scenario starts from: a first import links the push projects, then the push's entries, the
    Upwork connection and mappings, the import's projects. Returns each pipeline's run parameters."""
    from bench.backfill_upwork import connect_and_map

    link = stack.server.wait_for_run(stack.server.create_run(stack.deployments[IMPORT]), timeout=RUN_TIMEOUT)
    if link["state"]["type"] != "COMPLETED":
        raise RuntimeError(f"the linking import ended {link['state']}: {stack.server.log('server')[-2000:]}")
    first, last = seed_push_entries(world, sizes.entries, sizes.days)
    connect_and_map(world.upwork_plan)
    add_flagged_projects(world.moco, sizes.projects, sizes.tasks, customers=10, name="Import")
    backfill_start = world.today - timedelta(days=sizes.days - 1)
    return {
        IMPORT: {},
        PUSH: {"start": first.isoformat(), "end": last.isoformat()},
        BACKFILL: {"start": backfill_start.isoformat(), "end": world.today.isoformat()},
    }


def records(world: World) -> dict[str, tuple[int, int]]:
    """What each pipeline wrote, counted at the simulators as (records, distinct keys): awork projects of the
    import's MOCO projects, MOCO activities from awork entries, awork entries on the Upwork projects."""
    awork_projects = world.awork.projects()
    imported = [p["name"] for p in awork_projects if p["name"].startswith("Import ")]
    pushed = [a["remote_id"] for a in world.moco.activities() if str(a.get("remote_id") or "").startswith("awork:")]
    upwork_projects = {p["id"] for p in awork_projects if p["name"].startswith("Upwork Projekt")}
    backfilled = [
        (e["userId"], e["projectId"], e["startDateUtc"], e["startTimeUtc"])
        for e in world.awork.time_entries()
        if e["projectId"] in upwork_projects
    ]
    return {
        name: (len(keys), len(set(keys))) for name, keys in zip(PIPELINES, (imported, pushed, backfilled), strict=True)
    }


def run_at_once(
    stack: Stack, pipelines: tuple[str, ...], parameters: dict[str, dict[str, str]], names: list[str]
) -> tuple[float, float, dict[str, Run]]:
    """Create a run of each pipeline through the API, one right after the other, all scheduled for the same moment
    SCHEDULE_LEAD_SECONDS ahead, and wait for all of them."""
    created_at = time.time()
    due_at = created_at + SCHEDULE_LEAD_SECONDS
    due = datetime.fromtimestamp(due_at, UTC)
    ids = {p: stack.server.create_run(stack.deployments[p], parameters[p], at=due) for p in pipelines}
    runs = {}
    for pipeline, run_id in ids.items():
        run = stack.server.wait_for_run(run_id, timeout=RUN_TIMEOUT)
        state = run["state"]
        worker = worker_of(stack.server, run_id, names)
        start, end = (moment(run[key], created_at) for key in ("start_time", "end_time"))
        shown = state["name"] if state["type"] == "COMPLETED" else f"{state['type']} ({state['name']})"
        runs[pipeline] = Run(pipeline, shown, state.get("message") or "", worker, start, end)
    return created_at, due_at, runs


def worker_of(server: PrefectServer, run_id: str, names: list[str]) -> str:
    """The worker that ran a flow run (both workers may try to submit it; the loser logs an aborted submission)."""
    for name in names:
        log = server.log(f"worker-{name}")
        if f"submitting flow run '{run_id}'" in log and f"Aborted submission of flow run '{run_id}'" not in log:
            return name
    return "?"


def moment(stamp: str | None, default: float) -> float:
    """Epoch seconds of a timestamp of the Prefect API (the server runs on this host: the same clock)."""
    return datetime.fromisoformat(stamp).timestamp() if stamp else default


def scenario(name: str, pipelines: tuple[str, ...], sizes: Sizes, stack: Stack, workdir: Path) -> Outcome:
    """A fresh world, two workers pointing at it, the setup, then the runs of `pipelines` created at once."""
    from models.settings import get_settings

    print(f"[{time.strftime('%H:%M:%S')}] scenario {name}: {', '.join(pipelines)}", flush=True)
    world = seed_world(sizes)
    with ExitStack() as scope:
        urls = {api: scope.enter_context(ServedSimulator(sim)).url for api, sim in world.simulators().items()}
        database = scope.enter_context(
            fresh_database(sizes.postgres, f"timebridge_bench_{name.replace('-', '_')}", "postgresql+psycopg")
        )
        env = timebridge_env(urls, database or f"sqlite:///{workdir}/{name}.db", sizes)
        os.environ.update(env)  # for the Upwork connection made from this process
        get_settings.cache_clear()
        names = scope.enter_context(workers(stack, name, env))
        parameters = prepare(world, stack, sizes)
        before = records(world)
        fresh_limits(world, stack.server)
        marks = {api: sim.log.mark() for api, sim in world.simulators().items()}
        created_at, due_at, runs = run_at_once(stack, pipelines, parameters, names)
        traffic = {api: sim.log.since(marks[api]) for api, sim in world.simulators().items()}
        after = records(world)
    written = {p: (after[p][0] - before[p][0], after[p][1] - before[p][1]) for p in PIPELINES}
    outcome = Outcome(pipelines, created_at, due_at, runs, traffic, written)
    print(f"[{time.strftime('%H:%M:%S')}] scenario {name}: {outcome.wall:.1f} s", flush=True)
    return outcome


def acquisition_cost(stack: Stack) -> dict[str, tuple[float, float]]:
    """Seconds per request spent in the rate limiter, one thread, after the scenarios (the server idle): with the
    shared limits (a Prefect global concurrency limit per API limit) and with this process's token buckets alone.
    Within each limit's burst, so the figures show the round trips, not the limits themselves."""
    from connectors.http import RateLimit, RateLimiter

    probes = {"awork": ([RateLimit(n, w) for n, w in AWORK_LIMITS], 60), "upwork": ([RateLimit(10, 1.0)], 20)}
    reset_concurrency_limits(stack.server)
    costs = {}
    for api, (limits, count) in probes.items():
        spent = []
        for limiter in (RateLimiter(limits, shared_api=api), RateLimiter(limits)):
            limiter.acquire()  # the shared one creates its limits (they exist already) and takes its first batch
            started = time.perf_counter()
            for _ in range(count):
                limiter.acquire()
            spent.append((time.perf_counter() - started) / count)
        costs[api] = (spent[0], spent[1])
    return costs


def probe_rows(costs: dict[str, tuple[float, float]]) -> list[tuple[str, str]]:
    return [
        (
            f"{api}: rate limiter per request, one thread, idle server: shared / local buckets only",
            f"{shared * 1000:.0f} / {local * 1000:.0f} ms (at most {1 / shared:.1f} / {1 / local:.1f} per s)",
        )
        for api, (shared, local) in costs.items()
    ]


def server_stalls(server: PrefectServer) -> list[tuple[str, str]]:
    """What the Prefect server's log says of its database over the whole benchmark: "database is locked" errors
    and the longest of its background jobs that failed (on SQLite a writer waits up to the 60 s busy timeout, and
    every rate-limit slot, state change and artifact waits behind it)."""
    text = server.log("server")
    locked = text.count("sqlite3.OperationalError: database is locked")
    failed_jobs = [int(ms) for ms in re.findall(r"↩ \[\s*(\d+)ms\]", text)]
    longest = f"; longest failed background job {max(failed_jobs) / 1000:.0f} s" if failed_jobs else ""
    return [("Prefect server log, whole benchmark: 'database is locked' errors", f"{locked}{longest}")]


# --- figures ------------------------------------------------------------------------------------------------------
def is_write(api: str, entry: LoggedRequest) -> bool:
    """Upwork's GraphQL requests are all POSTs: its writes are mutations and token grants."""
    if api == "upwork":
        return not (entry.path.endswith("/graphql") and "mutation" not in str(entry.body)[:40])
    return entry.is_write


def pipeline_of(api: str, entry: LoggedRequest) -> str:
    """Which pipeline sent a write: the import writes MOCO projects (the awork link) and awork projects, tasks,
    lists and companies; the push MOCO activities, contracts and tasks; the backfill awork time entries."""
    if api == "upwork":
        return BACKFILL
    if api == "moco":
        return IMPORT if entry.route == "/projects/{id}" else PUSH
    return BACKFILL if (entry.route or "").startswith("/timeentries") else IMPORT


def writes(outcome: Outcome) -> dict[str, int]:
    """Successful writes (status < 400) of each pipeline, over all APIs."""
    counted = dict.fromkeys(PIPELINES, 0)
    for api, log in outcome.traffic.items():
        for entry in log:
            if is_write(api, entry) and entry.status < 400:
                counted[pipeline_of(api, entry)] += 1
    return counted


def floors(outcome: Outcome, sizes: Sizes) -> dict[str, float]:
    """Per API: the requests it accepted (429s take no slot) over its documented rate, the tightest window."""
    limits = sizes.limits()
    accepted = {api: sum(e.status != 429 for e in log) for api, log in outcome.traffic.items()}
    return {api: max(accepted[api] * window / limit for limit, window in limits[api]) for api in limits}


def refused(outcome: Outcome) -> dict[str, int]:
    return {api: sum(e.status == 429 for e in log) for api, log in outcome.traffic.items()}


def achieved_rate(log: list[LoggedRequest]) -> str:
    """Accepted requests per second between the first and the last one."""
    moments = [e.at for e in log if e.status != 429]
    if len(moments) < 2:
        return "-"
    return f"{(len(moments) - 1) / (moments[-1] - moments[0]):.2f}/s over {moments[-1] - moments[0]:.0f} s"


def per_record(count: int, records: int) -> str:
    return f"{count / records:.3f}" if records else "-"


def limit_text(limits: tuple[tuple[int, float], ...]) -> str:
    return " and ".join(f"{n} per {w:g} s" for n, w in limits)


def render(alone: dict[str, Outcome], together: Outcome, sizes: Sizes, extra: list[tuple[str, str]]) -> str:
    """The results as markdown: parameters, the run of the three at once, per pipeline alone and together, per
    API."""
    floor = floors(together, sizes)
    bottleneck = max(floor, key=floor.get)
    limits = sizes.limits()
    store = "PostgreSQL" if sizes.postgres else "SQLite"
    first_start = min(r.start for r in together.runs.values())
    last_end = max(r.end for r in together.runs.values())
    machine = f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    summary = [
        ("machine", machine),
        ("import: flagged MOCO projects × tasks", f"{sizes.projects} × {sizes.tasks}"),
        ("push: awork entries (linked projects / users)", f"{sizes.entries} ({PUSH_PROJECTS} / {PUSH_USERS})"),
        ("backfill: Upwork contracts × days", f"{sizes.contracts} × {sizes.days} (3 organisations)"),
        ("MOCO limit", f"{sizes.moco_plan} plan: {limit_text(limits['moco'])}"),
        ("awork / Upwork limits", f"{limit_text(AWORK_LIMITS)} / {limit_text(UPWORK_LIMITS)}"),
        ("rate limits shared through Prefect", "TIMEBRIDGE_SHARED_RATE_LIMITS=true (global concurrency limits)"),
        (
            "Prefect",
            f"prefect server start, deploy --all, {WORKERS} process workers --limit {WORKER_LIMIT}, "
            f"polling every {WORKER_QUERY_SECONDS} s",
        ),
        ("store and Prefect database", store),
        ("runs created, then due (their scheduled start)", f"{SCHEDULE_LEAD_SECONDS:g} s later"),
        ("together: wall time (runs due → last run finished)", f"{together.wall:.1f} s"),
        ("together: runs created → last run finished", f"{together.wall_since_created:.1f} s"),
        ("together: first run running → last run finished", f"{last_end - first_start:.1f} s"),
        ("together: floor per API (MOCO / awork / Upwork)", " / ".join(f"{floor[a]:.1f}" for a in floor) + " s"),
        ("together: combined floor (the largest)", f"{floor[bottleneck]:.1f} s ({bottleneck})"),
        ("together: wall / floor (target ≤ 1.15)", f"{together.wall / floor[bottleneck]:.2f}"),
        ("together: 429 answers MOCO / awork / Upwork (target 0)", " / ".join(map(str, refused(together).values()))),
        ("alone, one after the other: sum of wall times", f"{sum(o.wall for o in alone.values()):.1f} s"),
    ]
    summary += extra
    lines = [f"# bench/concurrent_pipelines.py ({time.strftime('%Y-%m-%d')})", "", table(("measure", "value"), summary)]
    lines += [
        "",
        "Per pipeline, alone (a fresh world each) and together (records and writes counted at the simulators; "
        "writes are successful write requests):",
        "",
        pipeline_table(alone, together, sizes),
    ]
    lines += [
        "",
        "Per API (requests the runs sent; the floor is accepted requests at the documented rate):",
        "",
        api_table(alone, together, sizes),
    ]
    return "\n".join(lines) + "\n"


def table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    head = "| " + " | ".join(header) + " |\n|" + "---|" * len(header)
    return head + "\n" + "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows)


def pipeline_table(alone: dict[str, Outcome], together: Outcome, sizes: Sizes) -> str:
    rows = []
    together_writes = writes(together)
    for p in PIPELINES:
        solo = alone[p]
        solo_writes = writes(solo)
        solo_records, together_records = solo.records[p][0], together.records[p][0]
        duplicates = (solo_records - solo.records[p][1], together_records - together.records[p][1])
        solo_floor = max(floors(solo, sizes).values())
        stray = sum(n for q, n in solo_writes.items() if q != p)  # writes attributed to a pipeline that did not run
        rows.append(
            (
                p,
                f"{solo.runs[p].state} / {together.runs[p].state}",
                f"{solo_records} / {together_records}",
                f"{duplicates[0]} / {duplicates[1]}",
                f"{solo_writes[p]} / {together_writes[p]}" + (f" ({stray} stray)" if stray else ""),
                f"{per_record(solo_writes[p], solo_records)} / {per_record(together_writes[p], together_records)}",
                f"{solo.wall:.1f} / {together.runs[p].end - together.due_at:.1f} s",
                f"{together.runs[p].start - together.due_at:.1f} s",
                f"{solo_floor:.1f} s ({solo.wall / solo_floor:.2f})" if solo_floor else "-",
                together.runs[p].worker,
            )
        )
    header = (
        "pipeline",
        "state alone / together",
        "records",
        "duplicates",
        "writes",
        "writes per record",
        "finished after (alone / together)",
        "together: running after (due → running)",
        "alone: floor (wall/floor)",
        "worker (together)",
    )
    return table(header, rows)


def api_table(alone: dict[str, Outcome], together: Outcome, sizes: Sizes) -> str:
    rows = []
    floor, limits = floors(together, sizes), sizes.limits()
    for api, log in together.traffic.items():
        solo = sum(len(o.traffic[api]) for o in alone.values())
        solo_refused = sum(refused(o)[api] for o in alone.values())
        rows.append(
            (
                api,
                limit_text(limits[api]),
                f"{solo} / {len(log)}",
                f"{solo_refused} / {refused(together)[api]}",
                f"{floor[api]:.1f} s",
                achieved_rate(log),
            )
        )
    header = (
        "API",
        "documented limit",
        "requests: alone (sum) / together",
        "429s: alone / together",
        "together: floor",
        "together: accepted rate",
    )
    return table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=40, help="flagged MOCO projects the import creates in awork")
    parser.add_argument("--tasks", type=int, default=8, help="tasks per imported project")
    parser.add_argument("--entries", type=int, default=1000, help="awork time entries the push brings to MOCO")
    parser.add_argument("--contracts", type=int, default=8, help="Upwork contracts the backfill reads")
    parser.add_argument("--days", type=int, default=30, help="days of Upwork work (and of push entries)")
    parser.add_argument("--moco-plan", choices=sorted(MOCO_PLANS), default="unlimited")
    parser.add_argument("--postgres", help="a PostgreSQL URL for the store and the Prefect server (else SQLite)")
    args = parser.parse_args()
    sizes = Sizes(args.projects, args.tasks, args.entries, args.contracts, args.days, args.moco_plan, args.postgres)

    workdir = Path(tempfile.mkdtemp(prefix="timebridge-bench-concurrent-"))
    with prefect_stack(workdir, sizes.postgres) as stack:
        alone = {p: scenario(f"alone-{p}", (p,), sizes, stack, workdir) for p in PIPELINES}
        together = scenario("together", PIPELINES, sizes, stack, workdir)
        extra = probe_rows(acquisition_cost(stack)) + server_stalls(stack.server)
    report = render(alone, together, sizes, extra)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "concurrent_pipelines.md").write_text(report)


if __name__ == "__main__":
    main()
