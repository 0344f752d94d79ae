"""A run that leaves open sync issues ends in its own Completed state, read back through the Prefect API, and its
summary artifact links the issues."""

from __future__ import annotations

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client

from flows.import_moco_projects import import_moco_projects
from tests.test_import_moco_projects import agency  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("prefect_harness")


def read_state(flow_run_id):
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def test_a_run_with_sync_issues_ends_completed_with_issues(sims, agency, settings):  # noqa: F811
    sims.moco.add_project(
        "Unbekannte Vorlage",
        identifier="P9",
        customer_id=agency["shop"]["customer"]["id"],
        tags=["Sync to awork"],
        custom_properties={"awork Projektvorlage": "Kampagne"},  # awork has no such template: a sync issue
    )

    state = import_moco_projects(return_state=True)

    stored = read_state(state.state_details.flow_run_id)
    assert (stored.type.value, stored.name) == ("COMPLETED", "Completed with issues")
    assert stored.message.startswith("1 open sync issue(s): ")
    summary = Artifact.get("import-moco-projects-summary")
    issues = Artifact.get("import-moco-projects-issues")
    assert "1 sync issue(s)" in summary.description and "import-moco-projects-issues" in summary.description
    assert "Kampagne" in issues.data and "P9" in issues.data


def test_a_clean_run_ends_completed(sims, agency, settings):  # noqa: F811
    import_moco_projects()
    state = import_moco_projects(return_state=True)  # the second run: nothing to do, no issue

    stored = read_state(state.state_details.flow_run_id)
    assert (stored.type.value, stored.name, stored.message) == ("COMPLETED", "Completed", "completed")
