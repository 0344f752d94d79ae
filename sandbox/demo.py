"""Demo data for the simulators, serving them on loopback, and `timebridge demo` end to end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
    with ServedSimulator(moco, moco_port) as moco_server, ServedSimulator(awork, awork_port) as awork_server:
        yield Sandbox(moco_server, awork_server)


def run_demo(console: Console) -> None:
    """Sandbox + the import flow twice (the second run writes nothing), printing what happened."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the tables below say what happened
    from flows.console import counts_table, print_issues
    from flows.import_moco_projects import import_moco_projects
    from models.settings import get_settings

    DEMO_DATABASE.unlink(missing_ok=True)
    with start_sandbox() as sims:
        os.environ.update(sims.environment())
        os.environ["TIMEBRIDGE_DATABASE_URL"] = f"sqlite:///{DEMO_DATABASE}"
        get_settings.cache_clear()
        console.rule("import MOCO projects: first run")
        summary = import_moco_projects()
        console.print(counts_table(summary.status, summary.counts()))
        for line in summary.created:
            console.print(f"  created {line}")
        print_issues(console, summary.issues)
        console.print(_awork_projects_table(sims.awork.app))
        console.rule("import MOCO projects: second run")
        mark_moco, mark_awork = sims.moco.app.log.mark(), sims.awork.app.log.mark()
        again = import_moco_projects()
        writes = len(sims.moco.app.log.writes(mark_moco)) + len(sims.awork.app.log.writes(mark_awork))
        reads = len(sims.moco.app.log.since(mark_moco)) + len(sims.awork.app.log.since(mark_awork)) - writes
        console.print(f"second run: {again.status}, {reads} read requests, {writes} write requests")


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
