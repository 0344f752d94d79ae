"""The deployments of prefect.yaml as Python objects, for `timebridge serve` (no worker needed)."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment

from flows.import_moco_projects import import_moco_projects


def deployments() -> list[RunnerDeployment]:
    """Every deployment with its schedule and a limit of one run at a time (keep in step with prefect.yaml)."""
    return [
        import_moco_projects.to_deployment(
            "import-moco-projects", interval=900, concurrency_limit=1, parameters={"dry_run": False}
        ),
    ]
