"""The deployments of prefect.yaml as Python objects, for `timebridge serve` (no worker needed)."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval

from flows.backfill_upwork import backfill_upwork
from flows.import_moco_projects import import_moco_projects
from flows.push_awork_times import push_awork_times
from flows.reconcile_hours import reconcile_hours
from flows.sync_upwork import sync_upwork


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
        sync_upwork.to_deployment("sync-upwork", interval=3600, concurrency_limit=1),
        backfill_upwork.to_deployment("backfill-upwork", concurrency_limit=1),
        reconcile_hours.to_deployment(
            "reconcile-hours",
            schedules=[Cron("15 3 * * *", timezone="Europe/Berlin", slug="nightly")],
            concurrency_limit=1,
            parameters={"by": "project"},
        ),
    ]
