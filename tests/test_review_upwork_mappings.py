"""The review of Upwork mappings in the Prefect UI: the run pauses with a form, the manager's answer (sent as the
UI sends it, through Prefect's API) is stored when the run resumes. Plus the rules of the form without I/O."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateName,
)
from prefect.flow_runs import resume_flow_run

from flows.review_upwork_mappings import FLOW_NAME, ReviewSummary, review_upwork_mappings
from models.settings import get_settings
from models.upwork_store import CONFIRMED, SUGGESTED, UpworkContract, UpworkContractMapping, UpworkUserMapping
from tasks.shared import upwork_store
from tasks.upwork_review import apply_answer, item_key, questions, questions_markdown
from tests.test_upwork_connection import connect, freelancer_id, org_id


def paused_run_id(timeout: float = 60) -> str:
    """The id of the review run once it waits for input (fails the test after `timeout`)."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))),
            )
            if runs:
                return str(runs[0].id)
            time.sleep(0.2)
    raise AssertionError(f"no {FLOW_NAME} run paused within {timeout} s")


@pytest.mark.usefixtures("prefect_harness")
def test_the_review_pauses_for_the_form_and_stores_the_answer_when_resumed(upwork, awork_people, sims):
    connect(upwork)
    project = sims.awork.add_project("Website Relaunch", project_key="P24001")
    done: list[ReviewSummary] = []
    context = contextvars.copy_context()  # the harness's Prefect settings live in context variables
    review = threading.Thread(target=lambda: done.append(context.run(review_upwork_mappings)))
    review.start()
    run_id = paused_run_id()

    store = upwork_store(get_settings())
    agency = org_id(upwork, "Pixelwerk Agency")
    john = item_key(agency, freelancer_id(upwork, "John"))
    relaunch = next(c for c in store.contracts(agency) if c.title.startswith("Website Relaunch"))
    assert store.user_mapping(agency, freelancer_id(upwork, "John")).state == SUGGESTED  # nothing stored yet
    resume_flow_run(run_id, run_input={"confirm": [john], "projects": {item_key(agency, relaunch.id): project["id"]}})
    review.join(timeout=60)

    assert done and done[0].confirmed == [john] and done[0].mapped == [item_key(agency, relaunch.id)]
    mapping = store.user_mapping(agency, freelancer_id(upwork, "John"))
    assert (mapping.state, mapping.locked, mapping.awork_user_id) == (CONFIRMED, True, awork_people["john"]["id"])
    contract = store.contract_mappings()[(agency, relaunch.id)]
    assert (contract.awork_project_id, contract.enabled) == (project["id"], True)
    others = [m for m in store.user_mappings() if m.state == CONFIRMED]
    assert [m.freelancer_id for m in others] == [freelancer_id(upwork, "John")]  # only what the manager kept


def suggestion(org: str, freelancer: str, user: str | None = "u1", state: str = SUGGESTED) -> UpworkUserMapping:
    return UpworkUserMapping(
        organization_id=org, freelancer_id=freelancer, awork_user_id=user, state=state, reason="same name"
    )


def contract(org: str, contract_id: str, kind: str = "hourly") -> UpworkContract:
    return UpworkContract(
        organization_id=org, id=contract_id, freelancer_id="f", title=f"Contract {contract_id}", kind=kind, status="x"
    )


def test_the_form_asks_about_open_suggestions_and_hourly_contracts_without_project():
    users = [suggestion("o1", "f1"), suggestion("o1", "f2", state=CONFIRMED), suggestion("o1", "f3", None)]
    users.append(suggestion("o2", "f4"))  # an organisation not reviewed
    contracts = [contract("o1", "c1"), contract("o1", "c2"), contract("o1", "c3", kind="fixed")]
    mappings = {
        ("o1", "c1"): UpworkContractMapping(organization_id="o1", contract_id="c1"),
        ("o1", "c2"): UpworkContractMapping(organization_id="o1", contract_id="c2", awork_project_id="p"),
        ("o1", "c3"): UpworkContractMapping(organization_id="o1", contract_id="c3"),
    }
    asked = questions(users, contracts, mappings, ["o1"])
    assert list(asked.suggestions) == ["o1/f1"] and list(asked.contracts) == ["o1/c1"]
    text = questions_markdown(asked, {}, {"u1": "John Smith"})
    assert "- `o1/f1`: f1 → John Smith (same name)" in text and "- `o1/c1`: Contract c1" in text


def test_the_answer_confirms_what_was_kept_and_maps_what_was_filled_in():
    users = [suggestion("o1", "f1"), suggestion("o1", "f2")]
    mappings = {("o1", "c1"): UpworkContractMapping(organization_id="o1", contract_id="c1")}
    mappings[("o1", "c2")] = UpworkContractMapping(organization_id="o1", contract_id="c2")
    asked = questions(users, [contract("o1", "c1"), contract("o1", "c2")], mappings, ["o1"])
    answered = apply_answer(asked, mappings, ["o1/f2", "o1/f9"], {"o1/c1": " p1 ", "o1/c2": "", "o1/c9": "p"})
    assert [m.freelancer_id for m in answered.confirmed] == ["f2"] and users[1].locked and users[0].state == SUGGESTED
    assert [(m.contract_id, m.awork_project_id, m.enabled) for m in answered.mapped] == [("c1", "p1", True)]
    assert mappings[("o1", "c2")].awork_project_id is None and answered.ignored == ["o1/f9", "o1/c9"]
