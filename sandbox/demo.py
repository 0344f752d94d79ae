"""Demo data for the simulators, serving them on loopback, and `timebridge demo` end to end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from sandbox.awork import AworkSimulator
from sandbox.core import ServedSimulator
from sandbox.moco import MocoSimulator

MOCO_KEY = "moco-sandbox-key"
AWORK_KEY = "awork-sandbox-key"
AWORK_APP_URL = "https://sandbox.awork.com"
DEMO_DATABASE = Path(".timebridge/demo.db")


def seed_demo(moco: MocoSimulator, awork: AworkSimulator) -> None:
    """An agency's MOCO account and awork workspace: five projects flagged for sync (one with a template awork
    does not have), one linked by hand to an existing awork project, one not flagged."""
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
    )
    moco.add_project(
        "Frühjahrskampagne",
        identifier="P24002",
        customer_id=nordlicht,
        custom_properties={"Sync zu awork": "1", "awork Projektvorlage": "Kampagne"},
        start_date="2026-02-01",
        finish_date="2026-04-30",
        tasks=["Projektleitung", "Kreation", "Mediaplanung"],
    )
    moco.add_project(
        "Onlineshop Wartung", identifier="P24003", customer_id=baeckerei, tags=tag, tasks=["Support", "Hosting"]
    )
    moco.add_project(
        "Intranet",
        identifier="P24004",
        customer_id=stadtwerke,
        tags=tag,
        custom_properties={"awork Projekt": f"{AWORK_APP_URL}/projects/{intranet['id']}"},
        tasks=["Projektleitung", "Entwicklung"],
    )
    moco.add_project(
        "Jahresvertrag",
        identifier="P24005",
        customer_id=pixelwerk,
        tags=tag,
        custom_properties={"awork Projektvorlage": "Retainer"},
        tasks=["Betreuung"],
    )
    moco.add_project("Interne Weiterbildung", identifier="P24006", customer_id=pixelwerk, tasks=["Schulung"])


@dataclass
class Sandbox:
    moco: ServedSimulator
    awork: ServedSimulator

    def environment(self) -> dict[str, str]:
        """The settings that point timebridge at these simulators."""
        return {
            "TIMEBRIDGE_MOCO_BASE_URL": self.moco.url,
            "TIMEBRIDGE_MOCO_API_KEY": MOCO_KEY,
            "TIMEBRIDGE_AWORK_BASE_URL": self.awork.url,
            "TIMEBRIDGE_AWORK_API_KEY": AWORK_KEY,
            "TIMEBRIDGE_AWORK_APP_URL": AWORK_APP_URL,
        }


@contextmanager
def start_sandbox(moco_port: int = 0, awork_port: int = 0, rate_limits: bool = True) -> Iterator[Sandbox]:
    """Both simulators, seeded with the demo data, served on loopback while the context is open."""
    moco = MocoSimulator(api_keys=[MOCO_KEY], rate_limit=120 if rate_limits else None)
    awork = AworkSimulator(
        api_keys=[AWORK_KEY], per_second=50 if rate_limits else None, per_minute=1000 if rate_limits else None
    )
    seed_demo(moco, awork)
    seed_demo_people(moco, awork)
    with ServedSimulator(moco, moco_port) as moco_server, ServedSimulator(awork, awork_port) as awork_server:
        yield Sandbox(moco_server, awork_server)


def seed_demo_people(moco: MocoSimulator, awork: AworkSimulator) -> None:
    """The team on both sides: Anna is staffed on the website project, Ben and Lena are not yet; Max tracks time
    in awork but has no MOCO account (a sync issue)."""
    for first, last in (("Anna", "Schmidt"), ("Ben", "Weber"), ("Lena", "Fischer")):
        moco.add_user(first, last, f"{first.lower()}@pixelwerk.de")
    awork.add_user("Anna", "Schmidt", "Anna@Pixelwerk.de")  # the same e-mail, in other case
    awork.add_user("Ben", "Weber", "ben@pixelwerk.de")
    awork.add_user("Lena", "Fischer", "lena@pixelwerk.de")
    awork.add_user("Max", "Klein", "max@freelance.example")
    for name in ("Design", "Entwicklung", "Beratung"):
        awork.add_type_of_work(name)


def seed_demo_times(moco: MocoSimulator, awork: AworkSimulator, today: date) -> int:
    """Two weeks of time entries on the imported projects (run after the import); returns how many."""
    anna = next(u["id"] for u in moco.users() if u["email"] == "anna@pixelwerk.de")
    website = next(p for p in moco.projects() if p["identifier"] == "P24001")
    if anna not in {c["user_id"] for c in moco.contracts(website["id"])}:
        moco.add_contract(website["id"], anna)
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


def run_demo(console: Console) -> None:
    """Sandbox + the import, then the push of awork times; each flow twice (the second run writes nothing)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the tables below say what happened
    from flows.console import counts_table, print_issues
    from flows.import_moco_projects import import_moco_projects
    from flows.push_awork_times import push_awork_times
    from models.settings import get_settings

    DEMO_DATABASE.unlink(missing_ok=True)
    with start_sandbox() as sims:
        os.environ.update(sims.environment())
        os.environ["TIMEBRIDGE_DATABASE_URL"] = f"sqlite:///{DEMO_DATABASE}"
        get_settings.cache_clear()
        console.rule("import MOCO projects")
        summary = import_moco_projects()
        console.print(counts_table(summary.status, summary.counts()))
        for line in summary.created:
            console.print(f"  created {line}")
        print_issues(console, summary.issues)
        console.print(_awork_projects_table(sims.awork.app))

        console.rule("push awork times")
        entries = seed_demo_times(sims.moco.app, sims.awork.app, datetime.now(ZoneInfo("Europe/Berlin")).date())
        console.print(f"{entries} time entries tracked in awork over the last two weeks")
        pushed = push_awork_times()
        console.print(counts_table(f"{pushed.first_day} to {pushed.last_day}: {pushed.status}", pushed.counts()))
        print_issues(console, pushed.issues)
        console.print(_moco_activities_table(sims.moco.app))

        console.rule("second runs")
        for name, flow in (("import MOCO projects", import_moco_projects), ("push awork times", push_awork_times)):
            marks = sims.moco.app.log.mark(), sims.awork.app.log.mark()
            again = flow()
            requests = sims.moco.app.log.since(marks[0]) + sims.awork.app.log.since(marks[1])
            writes = sum(entry.is_write for entry in requests)
            console.print(f"{name}: {again.status}, {len(requests) - writes} read requests, {writes} write requests")


def _moco_activities_table(moco: MocoSimulator) -> Table:
    table = Table(title="MOCO activities from awork, per project and task")
    for column in ("project", "task", "user", "activities", "hours", "billable hours"):
        table.add_column(column)
    totals: dict[tuple[str, str, str], list[float]] = {}
    for activity in moco.activities():
        user = f"{activity['user']['firstname']} {activity['user']['lastname']}"
        row = totals.setdefault((activity["project"]["name"], activity["task"]["name"], user), [0, 0.0, 0.0])
        row[0] += 1
        row[1] += activity["seconds"] / 3600
        row[2] += activity["seconds"] / 3600 if activity["billable"] else 0
    for (project, task_name, user), (count, hours, billable) in sorted(totals.items()):
        table.add_row(project, task_name, user, str(int(count)), f"{hours:.2f}", f"{billable:.2f}")
    return table


def _awork_projects_table(awork: AworkSimulator) -> Table:
    table = Table(title="awork projects now")
    for column in ("key", "name", "client", "template", "task lists", "tasks in MOCO list"):
        table.add_column(column)
    templates = {t["id"]: t["name"] for t in awork.templates()}
    for project in awork.projects():
        lists = awork.task_lists(project["id"])
        moco_list = next((tl["id"] for tl in lists if tl["name"] == "MOCO"), None)
        tasks = [t["name"] for t in awork.project_tasks(project["id"]) if any(r["id"] == moco_list for r in t["lists"])]
        table.add_row(
            project.get("projectKey") or "",
            project["name"],
            (project.get("company") or {}).get("name", ""),
            templates.get(project.get("createdByProjectTemplateId") or "", ""),
            ", ".join(tl["name"] for tl in lists),
            ", ".join(tasks),
        )
    return table
