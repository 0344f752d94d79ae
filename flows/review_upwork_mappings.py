"""Flow "review Upwork mappings": refresh, then pause for the manager's answer in the Prefect UI (a form with the
suggested freelancer matches and the contracts without an awork project), then store what was confirmed."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field

from flows.refresh_upwork import refresh_upwork
from models.settings import get_settings
from tasks.runs import recorded_run
from tasks.shared import upwork_store
from tasks.upwork_refresh import read_awork_people
from tasks.upwork_review import apply_answer, item_key, questions, questions_markdown

FLOW_NAME = "review-upwork-mappings"
POLL_SECONDS = 2  # how soon the paused run notices it was resumed


class ReviewAnswer(RunInput):
    """The form of the paused run."""

    confirm: list[str] = Field(default_factory=list, description="Suggestions to confirm, as ORG/FREELANCER")
    projects: dict[str, str] = Field(default_factory=dict, description="awork project id per contract, ORG/CONTRACT")


class ReviewSummary(BaseModel):
    status: str = "completed"
    confirmed: list[str] = []
    mapped: list[str] = []
    ignored: list[str] = []


@flow(name=FLOW_NAME, timeout_seconds=7 * 24 * 3600)
def review_upwork_mappings(organization_ids: list[str] | None = None, wait_hours: int = 72) -> ReviewSummary:
    """Refresh the selected organisations (all, or those given), then wait up to `wait_hours` for the manager to
    confirm suggested awork users and fill in awork projects for contracts in the run's form (Prefect UI: the
    paused run's "Resume" button); store the answer as `timebridge upwork map-user --confirm` and `map-contract
    --project` would."""
    refresh_upwork(organization_ids)
    store = upwork_store(get_settings())
    wanted = [o.id for o in store.organizations() if o.selected]
    wanted = [o for o in wanted if not organization_ids or o in organization_ids]
    contract_mappings = store.contract_mappings()
    asked = questions(store.user_mappings(), store.contracts(), contract_mappings, wanted)
    users = {p.id: f"{p.first_name} {p.last_name}".strip() for p in read_awork_people()}
    form = ReviewAnswer.with_initial_data(
        description=questions_markdown(asked, store.freelancers(), users),
        confirm=list(asked.suggestions),
        projects=dict.fromkeys(asked.contracts, ""),
    )
    answer = pause_flow_run(wait_for_input=form, timeout=wait_hours * 3600, poll_interval=POLL_SECONDS)
    with recorded_run(FLOW_NAME) as run:
        answered = apply_answer(asked, contract_mappings, answer.confirm, answer.projects)
        for mapping in answered.confirmed:
            store.save_user_mapping(mapping)
        for contract_mapping in answered.mapped:
            store.save_contract_mapping(contract_mapping)
        summary = ReviewSummary(
            confirmed=[item_key(m.organization_id, m.freelancer_id) for m in answered.confirmed],
            mapped=[item_key(m.organization_id, m.contract_id) for m in answered.mapped],
            ignored=answered.ignored,
        )
        run.finish({"confirmed": len(answered.confirmed), "mapped": len(answered.mapped)})
    summary.status = run.status
    get_run_logger().info("%s: %s", summary.status, run.counts)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state
