"""Flow "refresh Upwork": organisations, contracts, freelancers and rates into the store, with mapping
suggestions. Also the first step of every Upwork sync."""

from __future__ import annotations

from prefect import flow, get_run_logger
from pydantic import BaseModel

from models import clock
from models.store import IssueDraft
from tasks.runs import recorded_run
from tasks.upwork_refresh import OrganizationRefresh, read_awork_people, refresh_organization, refresh_organizations

FLOW_NAME = "refresh-upwork"


class RefreshSummary(BaseModel):
    status: str = "completed"
    organizations: list[OrganizationRefresh] = []
    issues: list[IssueDraft] = []

    def counts(self) -> dict[str, int]:
        return {
            "organisations": len(self.organizations),
            "contracts": sum(o.contracts for o in self.organizations),
            "new contracts": sum(o.new_contracts for o in self.organizations),
            "freelancers": sum(o.freelancers for o in self.organizations),
            "mapping suggestions": sum(o.suggestions for o in self.organizations),
        }


@flow(name=FLOW_NAME, timeout_seconds=3600)
def refresh_upwork(organization_ids: list[str] | None = None) -> RefreshSummary:
    """Refresh the connected Upwork organisations (all, or those given): contracts with their rate history and
    freelancers; suggest awork users for unmapped freelancers and pre-fill rates of new contracts."""
    with recorded_run(FLOW_NAME) as run:
        organizations = refresh_organizations()
        people = read_awork_people()
        today = clock.today()  # Upwork days are UTC days
        wanted = [o for o in organizations if organization_ids is None or o.id in organization_ids]
        summary = RefreshSummary(organizations=[refresh_organization(o, people, today) for o in wanted])
        run.finish(summary.counts(), summary.issues)
    summary.status = run.status
    get_run_logger().info("%s: %s", summary.status, run.counts)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state
