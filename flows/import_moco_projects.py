"""Flow "import MOCO projects": MOCO projects flagged for sync become awork projects with their tasks."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.futures import wait

from models.plans import ImportPlan, ImportResult, PlannedProject, SafetyNetFigure
from models.settings import get_settings
from models.store import Store
from tasks.import_projects import (
    apply_project_batch,
    close_projects,
    ensure_companies,
    import_names,
    read_awork_project_keys,
    read_awork_templates,
    read_moco_projects,
    read_people,
    rename_companies,
)
from tasks.project_rules import (
    PROJECT_CLOSED,
    PROJECT_MEMBERS,
    ImportLinks,
    batches,
    customer_ref,
    plan_import,
)
from tasks.runs import IMPORT_SCOPE, recorded_run
from tasks.shared import thread_pool

FLOW_NAME = "import-moco-projects"


class ImportSummary(ImportResult, SafetyNetFigure):
    """The flow's return value: what was planned and done, and how the run ended."""

    status: str = "completed"
    dry_run: bool = False
    planned: dict[str, int] = {}


@flow(name=FLOW_NAME, task_runner=thread_pool(4), log_prints=False, timeout_seconds=3600)
def import_moco_projects(dry_run: bool = False, safety_net: bool = False) -> ImportSummary:
    """Create or link an awork project for every MOCO project flagged for sync, with its customer, template,
    tasks (task list `MOCO`) and members (leader and staff), write the awork link back to MOCO, and follow later
    MOCO changes: renames, staffing, deactivated or deleted tasks (closed in awork), projects archived or no longer
    flagged (closed in awork), renamed customers.

    With `dry_run` the run stops after the plan and publishes it. `safety_net` (set by the schedule beside the
    webhooks' trigger) reports the writes the run had to make as "missed by events"."""
    with recorded_run(FLOW_NAME, dry_run=dry_run, writes=IMPORT_SCOPE) as run:
        plan = plan_run(run.store)
        checked = list(plan.checked_refs)
        if dry_run:
            summary = ImportSummary(dry_run=True, planned=plan.counts(), issues=plan.issues)
        else:
            summary = apply_plan(plan)
            summary.missed_by_events = summary.writes() if safety_net else None
            checked += {customer_ref(p.draft.customer.moco_id) for p in plan.projects}  # their companies ensured
        run.finish(summary.planned if dry_run else summary.counts(), summary.issues, checked)
    summary.status = run.status
    get_run_logger().info("%s: %s", summary.status, run.counts)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state


def plan_run(store: Store) -> ImportPlan:
    """Read both sides and the store's links, and compute the plan."""
    settings = get_settings()
    projects = read_moco_projects()
    templates = read_awork_templates()
    links = ImportLinks(
        projects=store.links("project"),
        tasks=store.links("task"),
        task_lists=store.links("task_list"),
        members=store.links(PROJECT_MEMBERS),
        closed=store.links(PROJECT_CLOSED),
        companies=store.links("company"),
    )
    return plan_import(projects, templates, links, import_names(settings), settings.awork_app_url)


def apply_plan(plan: ImportPlan) -> ImportSummary:
    """Close the projects that left the scope, rename companies, ensure the companies, then apply the projects in
    batches (bounded parallelism)."""
    settings = get_settings()
    total = ImportResult(issues=list(plan.issues))
    if plan.close_projects:
        total = total.merge(close_projects(plan.close_projects))
    if plan.rename_companies:
        total = total.merge(rename_companies(plan.rename_companies))
    if plan.projects:
        customers = {p.draft.customer.moco_id: p.draft.customer for p in plan.projects}
        company_ids, companies = ensure_companies(list(customers.values()))
        total = total.merge(companies)
        creating = any(p.steps.create_project for p in plan.projects)
        awork_by_key = read_awork_project_keys() if creating else {}
        people = read_people() if any(p.steps.sync_members for p in plan.projects) else None
        futures = [
            apply_project_batch.with_options(task_run_name=f"apply-projects {batch_names(batch)}").submit(
                batch, company_ids, awork_by_key, people
            )
            for batch in batches(plan.projects, settings.import_batch_size)
        ]
        wait(futures)  # let every batch finish (and commit its links) before a failed one fails the run
        for future in futures:
            total = total.merge(future.result())
    return ImportSummary(**total.model_dump(), planned=plan.counts())


def batch_names(batch: list[PlannedProject]) -> str:
    """The MOCO project numbers of a batch, for the names of task runs."""
    numbers = [p.draft.identifier or str(p.draft.moco_id) for p in batch]
    return ", ".join(numbers) if len(numbers) <= 3 else f"{numbers[0]} to {numbers[-1]} ({len(numbers)} projects)"
