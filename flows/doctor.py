"""Flow "doctor": the checks of `timebridge doctor` as a Prefect run, listed in the table artifact `doctor`."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import BaseModel

from flows.deployments import deployment_specs
from models.settings import get_settings
from tasks.doctor import publish_checks, run_checks
from tasks.doctor_rules import PROBLEM, Check

FLOW_NAME = "doctor"


class DoctorSummary(BaseModel):
    """The flow's result: every check, and the names of those that found a problem."""

    checks: list[Check]
    problems: list[str]


@flow(name=FLOW_NAME, timeout_seconds=600)
def doctor() -> DoctorSummary:
    """Check the whole setup (MOCO and awork keys, MOCO's custom fields and sync tag, the people on both sides, the
    store, the Upwork connection, this Prefect server's deployments) and publish the table artifact `doctor`, a row
    per check with its fix. The run fails when a check finds a problem, so Prefect's notifications of failed runs
    can tell someone. It is not recorded in the store: the store is one of the things it checks (recording would
    migrate it first, or fail with it)."""
    checks = run_checks(get_settings(), deployment_specs())
    publish_checks(checks)
    summary = DoctorSummary(checks=checks, problems=[c.name for c in checks if c.status == PROBLEM])
    get_run_logger().info("%d checks, %d problem(s): %s", len(checks), len(summary.problems), summary.problems)
    state: State = Completed(message="all is well", data=summary)
    if summary.problems:
        state = Failed(message=f"{len(summary.problems)} problem(s): {', '.join(summary.problems)}", data=summary)
    return state  # type: ignore[return-value]  # callers get the summary, the UI the state
