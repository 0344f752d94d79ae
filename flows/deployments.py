"""The deployments of prefect.yaml as Python objects, for `timebridge serve` (no worker needed)."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval

from flows.import_moco_projects import import_moco_projects
from flows.push_awork_times import push_awork_times


def deployments() -> list[RunnerDeployment]:
    """Every deployment with its schedule and a limit of one run at a time (keep in step with prefect.yaml)."""
    return [
        import_moco_projects.to_deployment(
            "import-moco-projects", interval=900, concurrency_limit=1, parameters={"dry_run": False}
        ),
        push_awork_times.to_deployment(
            "push-awork-times",
            schedules=[
                Interval(600, slug="every-10-minutes"),
                Cron("30 2 * * *", timezone="Europe/Berlin", slug="nightly-35-days", parameters={"last_days": 35}),
            ],
            concurrency_limit=1,
        ),
    ]
