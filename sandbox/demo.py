"""Demo data for the simulators, serving them on loopback, and `timebridge demo` end to end."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from sandbox.awork import AworkSimulator
from sandbox.core import ServedSimulator
from sandbox.moco import MocoSimulator
from sandbox.upwork import UpworkSimulator

MOCO_KEY = "moco-sandbox-key"
MOCO_RATE_LIMIT = 1200  # per 2 minutes: the sandbox account is on MOCO's unlimited plan (the standard plan has 120)
AWORK_KEY = "awork-sandbox-key"
AWORK_APP_URL = "https://sandbox.awork.com"
DEMO_DATABASE = Path(".timebridge/demo.db")
UPWORK_CLIENT_ID, UPWORK_CLIENT_SECRET = "upwork-sandbox-client", "upwork-sandbox-secret"
UPWORK_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEMO_SECRET_KEY = "sandbox-only-secret-key-for-token-encryption"
# Upwork contract of the sandbox -> awork project (by project key) the demo maps it to
DEMO_CONTRACT_PROJECTS = {
    "Website Relaunch – Frontend": "P24001",
    "Onlineshop Wartung": "P24003",
    "Intranet Support": "INTRA",
    "Kampagnen-Landingpage": "P24002",
    "UX Research": "P24002",
}


def seed_demo(moco: MocoSimulator, awork: AworkSimulator) -> None:
    """An agency's MOCO account and awork workspace: five projects flagged for sync (one with a template awork
    does not have), one linked by hand to an existing awork project, one not flagged. Lena leads them all; Anna
    is staffed on the website, Ben on the campaign."""
    lena, anna, ben = (
        moco.add_user(first, last, f"{first.lower()}@pixelwerk.de")["id"]
        for first, last in (("Lena", "Fischer"), ("Anna", "Schmidt"), ("Ben", "Weber"))
    )
    moco.define_custom_property("Sync zu awork", "Boolean")
    moco.define_custom_property("awork Projekt", "Link")
    moco.define_custom_property("awork Projektvorlage", "Select", defaults=["Website", "Kampagne", "Retainer"])
    awork.add_template("Website", task_lists={"Konzept": ["Kickoff", "Sitemap"], "Umsetzung": ["Frontend"]})
    awork.add_template("Kampagne", task_lists={"Kampagne": ["Briefing"]})
    awork.add_company("Nordlicht AG")
    intranet = awork.add_project("Intranet", project_key="INTRA")

    pixelwerk = moco.add_company("Pixelwerk GmbH")["id"]
    nordlicht = moco.add_company("Nordlicht AG")["id"]
    baeckerei = moco.add_company("Bäckerei Schmidt")["id"]
    stadtwerke = moco.add_company("Stadtwerke Kiel")["id"]
    tag = ["Sync to awork"]
    moco.add_project(
        "Website Relaunch",
        identifier="P24001",
        customer_id=pixelwerk,
        tags=tag,
        custom_properties={"awork Projektvorlage": "Website"},
        start_date="2026-01-05",
        finish_date="2026-06-30",
        tasks=["Projektleitung", "Konzeption", "Design", "Entwicklung"],
        leader_id=lena,
    )
    moco.add_project(
        "Frühjahrskampagne",
        identifier="P24002",
        customer_id=nordlicht,
        custom_properties={"Sync zu awork": "1", "awork Projektvorlage": "Kampagne"},
        start_date="2026-02-01",
        finish_date="2026-04-30",
        tasks=["Projektleitung", "Kreation", "Mediaplanung"],
        leader_id=lena,
    )
    moco.add_project(
        "Onlineshop Wartung",
        identifier="P24003",
        customer_id=baeckerei,
        tags=tag,
        tasks=["Support", "Hosting"],
        leader_id=lena,
    )
    moco.add_project(
        "Intranet",
        identifier="P24004",
        customer_id=stadtwerke,
        tags=tag,
        custom_properties={"awork Projekt": f"{AWORK_APP_URL}/projects/{intranet['id']}"},
        tasks=["Projektleitung", "Entwicklung"],
        leader_id=lena,
    )
    moco.add_project(
        "Jahresvertrag",
        identifier="P24005",
        customer_id=pixelwerk,
        tags=tag,
        custom_properties={"awork Projektvorlage": "Retainer"},
        tasks=["Betreuung"],
        leader_id=lena,
    )
    moco.add_project(
        "Interne Weiterbildung", identifier="P24006", customer_id=pixelwerk, tasks=["Schulung"], leader_id=lena
    )
    projects = {p["identifier"]: p["id"] for p in moco.projects()}
    moco.add_contract(projects["P24001"], anna)
    moco.add_contract(projects["P24002"], ben)


@dataclass
class Sandbox:
    moco: ServedSimulator
    awork: ServedSimulator
    upwork: ServedSimulator

    def environment(self) -> dict[str, str]:
        """The settings that point timebridge at these simulators (the secret key is for the sandbox only)."""
        return {
            "TIMEBRIDGE_MOCO_BASE_URL": self.moco.url,
            "TIMEBRIDGE_MOCO_API_KEY": MOCO_KEY,
            "TIMEBRIDGE_MOCO_RATE_LIMIT": str(MOCO_RATE_LIMIT),
            "TIMEBRIDGE_AWORK_BASE_URL": self.awork.url,
            "TIMEBRIDGE_AWORK_API_KEY": AWORK_KEY,
            "TIMEBRIDGE_AWORK_APP_URL": AWORK_APP_URL,
            "TIMEBRIDGE_UPWORK_GRAPHQL_URL": f"{self.upwork.url}/graphql",
            "TIMEBRIDGE_UPWORK_TOKEN_URL": f"{self.upwork.url}/api/v3/oauth2/token",
            "TIMEBRIDGE_UPWORK_AUTHORIZE_URL": f"{self.upwork.url}/ab/account-security/oauth2/authorize",
            "TIMEBRIDGE_UPWORK_CLIENT_ID": UPWORK_CLIENT_ID,
            "TIMEBRIDGE_UPWORK_CLIENT_SECRET": UPWORK_CLIENT_SECRET,
            "TIMEBRIDGE_UPWORK_REDIRECT_URI": UPWORK_REDIRECT_URI,
            "TIMEBRIDGE_SECRET_KEY": DEMO_SECRET_KEY,
        }


@contextmanager
def start_sandbox(
    moco_port: int = 0, awork_port: int = 0, upwork_port: int = 0, rate_limits: bool = True
) -> Iterator[Sandbox]:
    """The three simulators, seeded with the demo data, served on loopback while the context is open."""
    moco = MocoSimulator(api_keys=[MOCO_KEY], rate_limit=MOCO_RATE_LIMIT if rate_limits else None)
    awork = AworkSimulator(
        api_keys=[AWORK_KEY], per_second=50 if rate_limits else None, per_minute=1000 if rate_limits else None
    )
    upwork = UpworkSimulator(
        UPWORK_CLIENT_ID, UPWORK_CLIENT_SECRET, (UPWORK_REDIRECT_URI,), requests_per_second=10 if rate_limits else None
    )
    seed_demo(moco, awork)
    seed_demo_people(moco, awork)
    upwork.seed_demo(datetime.now(UTC).date())
    with (
        ServedSimulator(moco, moco_port) as moco_server,
        ServedSimulator(awork, awork_port) as awork_server,
        ServedSimulator(upwork, upwork_port) as upwork_server,
    ):
        yield Sandbox(moco_server, awork_server, upwork_server)


def seed_demo_people(moco: MocoSimulator, awork: AworkSimulator) -> None:
    """The team in awork (Anna, Ben and Lena are in MOCO already, see `seed_demo`); Max tracks time in awork but
    has no MOCO account (a sync issue). The Upwork freelancers Jörg, John and Jana work in awork and MOCO under
    their own e-mails (Upwork shows John's name only: "John S.")."""
    awork.add_user("Anna", "Schmidt", "Anna@Pixelwerk.de")  # the same e-mail, in other case
    awork.add_user("Ben", "Weber", "ben@pixelwerk.de")
    awork.add_user("Lena", "Fischer", "lena@pixelwerk.de")
    awork.add_user("Max", "Klein", "max@freelance.example")
    for first, last, email in (
        ("Jörg", "Müller", "joerg.mueller@pixelwerk.example"),
        ("John", "Smith", "john.smith@pixelwerk.example"),
        ("Jana", "Novak", "jana@novak.example"),
    ):
        awork.add_user(first, last, email)
        moco.add_user(first, last, email)
    for name in ("Design", "Entwicklung", "Beratung", "Upwork"):
        awork.add_type_of_work(name)


def seed_demo_times(awork: AworkSimulator, today: date) -> int:
    """Two weeks of time entries on the imported projects (run after the import); returns how many."""
    users = {u["firstName"]: u["id"] for u in awork.users()}
    types = {t["name"]: t["id"] for t in awork.types_of_work()}
    projects = [p for p in awork.projects() if p.get("projectKey") in ("P24001", "P24002", "P24003", "INTRA")]
    berlin = ZoneInfo("Europe/Berlin")
    count = 0
    for offset in range(14, 0, -1):
        day = today - timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for index, (person, kind) in enumerate((("Anna", "Design"), ("Ben", "Entwicklung"), ("Lena", "Beratung"))):
            project = projects[(offset + index) % len(projects)]
            tasks = awork.project_tasks(project["id"])
            awork.add_time_entry(
                user_id=users[person],
                project_id=project["id"],
                task_id=tasks[0]["id"] if person == "Anna" and tasks else None,
                type_of_work_id=types[kind],
                start=datetime.combine(day, time(9 + index * 2), tzinfo=berlin),
                duration=3600 + 900 * index,
                note=f"{kind} {project['name']}" if index != 2 else None,
                is_billable=person != "Lena",
            )
            count += 1
    awork.add_time_entry(
        user_id=users["Max"],
        project_id=projects[0]["id"],
        type_of_work_id=types["Entwicklung"],
        start=datetime.combine(today - timedelta(days=1), time(23, 30), tzinfo=berlin),
        duration=1800,
    )
    return count + 1


def seed_demo_absences(moco: MocoSimulator, today: date) -> int:
    """Absences entered in MOCO over the next two weeks (after the absence sync's first run); returns how many
    days: Anna's holiday from a Thursday to the next Tuesday, Ben's sick morning, Lena's holiday from Wednesday
    noon to Friday noon, Jana's full week off."""
    users = {u["firstname"]: u["id"] for u in moco.users()}
    monday = today + timedelta(days=7 - today.weekday())
    days = [("Anna", offset, "4", "", "Skiurlaub") for offset in (3, 4, 7, 8)]
    days += [("Ben", 1, "3", "am", None), ("Lena", 2, "4", "pm", None), ("Lena", 3, "4", "", None)]
    days += [("Lena", 4, "4", "am", None)] + [("Jana", offset, "4", "", None) for offset in range(7, 12)]
    for person, offset, code, half, comment in days:
        moco.add_absence(
            user_id=users[person],
            date=monday + timedelta(days=offset),
            absence_code=code,
            am=half != "pm",
            pm=half != "am",
            comment=comment,
        )
    return len(days)


def run_demo(console: Console) -> None:
    """Sandbox + the import, the Upwork connection and backfill, then the push of awork times (Upwork hours
    included); each flow twice (the second run writes nothing). Drives timebridge as a user does: its flows, its
    `timebridge` command, its settings in the environment."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the tables below say what happened
    from flows.backfill_upwork import backfill_upwork
    from flows.import_moco_projects import import_moco_projects
    from flows.push_awork_times import push_awork_times
    from flows.sync_moco_absences import sync_moco_absences
    from models.settings import get_settings

    DEMO_DATABASE.unlink(missing_ok=True)
    with start_sandbox() as sims:
        os.environ.update(sims.environment())
        os.environ["TIMEBRIDGE_DATABASE_URL"] = f"sqlite:///{DEMO_DATABASE}"
        get_settings.cache_clear()  # the settings are read once per process: read them from the sandbox's now
        console.rule("import MOCO projects")
        summary = import_moco_projects()
        _print_run(console, summary.status, summary, summary.created)
        console.print(_awork_projects_table(sims.awork.app))
        staffed = [p for p in sims.awork.app.projects() if p["members"]]
        console.print(
            f"{summary.members_added} project members arrived in awork (MOCO leaders and staff) on {len(staffed)} "
            f"projects"
        )

        console.rule("Upwork: connect, confirm the suggested mappings, backfill 90 days")
        connect_and_map_upwork(console, sims)
        backfilled = backfill_upwork()
        _print_run(console, f"{backfilled.first_day} to {backfilled.last_day}: {backfilled.status}", backfilled)
        console.out(timebridge("upwork", "status"), highlight=False, end="")

        console.rule("push awork times")
        entries = seed_demo_times(sims.awork.app, datetime.now(ZoneInfo("Europe/Berlin")).date())
        console.print(f"{entries} time entries tracked in awork over the last two weeks")
        pushed = push_awork_times()
        _print_run(console, f"{pushed.first_day} to {pushed.last_day}: {pushed.status}", pushed)
        console.print(_moco_activities_table(sims.moco.app))
        followed = import_moco_projects()  # the push staffed people in MOCO: the import makes them members
        console.print(f"staffing the push added in MOCO followed into awork: {followed.members_added} members added")

        console.rule("sync MOCO absences")
        first = sync_moco_absences()  # what MOCO had before the first run stays out, as with awork's add-on
        console.print(f"first run: {first.status}, {first.absences_created} absences carried")
        days = seed_demo_absences(sims.moco.app, datetime.now(ZoneInfo("Europe/Berlin")).date())
        console.print(f"{days} absence days entered in MOCO since")
        absences = sync_moco_absences()
        _print_run(console, f"{absences.first_day} to {absences.last_day}: {absences.status}", absences)
        console.print(f"{absences.absences_created} absences arrived in awork")
        console.print(_awork_absences_table(sims.awork.app))

        console.rule("second runs")
        flows = (
            ("import MOCO projects", import_moco_projects),
            ("backfill Upwork", backfill_upwork),
            ("push awork times", push_awork_times),
            ("sync MOCO absences", sync_moco_absences),
        )
        for name, flow in flows:
            marks = sims.moco.app.log.mark(), sims.awork.app.log.mark(), sims.upwork.app.log.mark()
            again = flow()
            requests = [
                entry
                for sim, mark in zip((sims.moco, sims.awork, sims.upwork), marks, strict=True)
                for entry in sim.app.log.since(mark)
            ]
            writes = sum(entry.is_write for entry in requests if not entry.path.endswith("/graphql"))
            console.print(f"{name}: {again.status}, {len(requests) - writes} read requests, {writes} write requests")


def connect_and_map_upwork(console: Console, sims: Sandbox) -> None:
    """What a person does once, with `timebridge upwork`: connect (approving in the browser, here: following the
    authorize redirect), refresh, map each contract to an imported awork project, and confirm the awork user
    timebridge suggests for its freelancer (a freelancer who is not in awork stays unmapped)."""
    import httpx

    started = timebridge("upwork", "connect", input="\n")  # Enter at the prompt: finish with the redirect URL later
    redirect = httpx.get(_find(r"(\S+/oauth2/authorize\?\S+)", started), follow_redirects=False).headers["location"]
    connected_as = _find(r"Connected as (.+?)\. ", timebridge("upwork", "connect", "--redirect-url", redirect))
    console.print(f"connected to Upwork as {connected_as}")
    projects = {p.get("projectKey"): p["id"] for p in sims.awork.app.projects()}
    in_awork = {(u["firstName"], u["lastName"]) for u in sims.awork.app.users()}
    for contract in sims.upwork.app.contracts():
        key = DEMO_CONTRACT_PROJECTS.get(contract["title"])
        if key is None:
            continue
        # the agency's or freelancer's side of a shared contract syncs it (not the client's too: no double hours)
        org, freelancer = contract["vendorOrganization"]["id"], contract["freelancer"]
        timebridge("upwork", "map-contract", contract["id"], "--org", org, "--project", projects[key])
        console.print(f"  mapped {contract['title']} -> awork project {key}")
        if (freelancer["firstName"], freelancer["lastName"]) in in_awork:
            confirmed = timebridge("upwork", "map-user", freelancer["id"], "--org", org, "--confirm")
            console.print(f"  {freelancer['name']}: {' '.join(confirmed.split())}")
        else:
            console.print(f"  left unmapped: {freelancer['name']} is not in awork")
    console.out(timebridge("upwork", "users"), highlight=False, end="")


def timebridge(*args: str, input: str | None = None) -> str:
    """The output of `timebridge ARGS`, run in this process; a command that fails stops the demo with its output."""
    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, list(args), input=input)
    if result.exit_code != 0:
        raise RuntimeError(f"`timebridge {' '.join(args)}` failed ({result.exit_code}):\n{result.output}")
    return result.output


def _find(pattern: str, output: str) -> str:
    """The first group of `pattern` in a command's output (lines wrapped by the terminal joined again)."""
    found = re.search(pattern, " ".join(output.split()))
    if found is None:
        raise RuntimeError(f"expected {pattern!r} in the output:\n{output}")
    return found.group(1)


def _print_run(console: Console, title: str, summary: Any, created: Sequence[str] = ()) -> None:
    """A flow run's counts, what it created, and its sync issues."""
    console.print(
        _table(title, ("what", "count"), [(k.replace("_", " "), str(v)) for k, v in summary.counts().items()])
    )
    for line in created:
        console.print(f"  created {line}")
    for issue in summary.issues:
        console.print(f"  [yellow]sync issue[/] {issue.kind}: {issue.message}")


def _moco_activities_table(moco: MocoSimulator) -> Table:
    totals: dict[tuple[str, str, str], list[float]] = {}
    for activity in moco.activities():
        user = f"{activity['user']['firstname']} {activity['user']['lastname']}"
        row = totals.setdefault((activity["project"]["name"], activity["task"]["name"], user), [0, 0.0, 0.0])
        row[0] += 1
        row[1] += activity["seconds"] / 3600
        row[2] += activity["seconds"] / 3600 if activity["billable"] else 0
    return _table(
        "MOCO activities from awork, per project and task",
        ("project", "task", "user", "activities", "hours", "billable hours"),
        [
            (project, task_name, user, str(int(count)), f"{hours:.2f}", f"{billable:.2f}")
            for (project, task_name, user), (count, hours, billable) in sorted(totals.items())
        ],
    )


def _awork_absences_table(awork: AworkSimulator) -> Table:
    names = {u["id"]: f"{u['firstName']} {u['lastName']}" for u in awork.users()}
    rows = []
    for absence in sorted(awork.absences(), key=lambda a: (a["startOn"], names.get(a["userId"], ""))):
        first, last = absence["startOn"][:10], absence["endOn"][:10]
        halves = (absence["isHalfDayOnStart"], absence["isHalfDayOnEnd"])
        words = ("morning", "afternoon") if first == last else ("from noon", "until noon")
        half = " and ".join(word for word, flag in zip(words, halves, strict=True) if flag)
        rows.append((names.get(absence["userId"], ""), first, last, half, absence["description"] or ""))
    return _table("awork absences now", ("user", "from", "to", "half days", "description"), rows)


def _awork_projects_table(awork: AworkSimulator) -> Table:
    templates = {t["id"]: t["name"] for t in awork.templates()}
    rows = []
    for project in awork.projects():
        lists = awork.task_lists(project["id"])
        moco_list = next((tl["id"] for tl in lists if tl["name"] == "MOCO"), None)
        tasks = [t["name"] for t in awork.project_tasks(project["id"]) if any(r["id"] == moco_list for r in t["lists"])]
        rows.append(
            (
                project.get("projectKey") or "",
                project["name"],
                (project.get("company") or {}).get("name", ""),
                templates.get(project.get("createdByProjectTemplateId") or "", ""),
                ", ".join(tl["name"] for tl in lists),
                ", ".join(tasks),
            )
        )
    columns = ("key", "name", "client", "template", "task lists", "tasks in MOCO list")
    return _table("awork projects now", columns, rows)


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table
