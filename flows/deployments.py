"""The deployments of `prefect.yaml`, the one source for both `prefect deploy` and `timebridge serve`: this module
reads that file and turns each entry into the deployment `serve` registers (same name, flow, description, tags,
parameters, schedules with their slugs, event triggers, concurrency limit and collision strategy)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentTriggerTypes, TriggerTypes
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval, Schedule
from pydantic import TypeAdapter

from tasks.shared import in_sync

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
TRIGGER = TypeAdapter(DeploymentTriggerTypes)  # how `prefect deploy` reads a trigger of prefect.yaml


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments` entries of prefect.yaml, as written there."""
    return list(yaml.safe_load(path.read_text())["deployments"])


def entrypoint_flow(entrypoint: str) -> Flow[..., Any]:
    """The flow an entrypoint such as `flows/push_awork_times.py:push_awork_times` names, imported as a module of
    this package (so it shares the process's modules)."""
    file, _, name = entrypoint.partition(":")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    found = getattr(module, name)
    if not isinstance(found, Flow):
        raise TypeError(f"entrypoint {entrypoint} of prefect.yaml is not a Prefect flow")
    return found


def schedule(spec: dict[str, Any]) -> Schedule:
    """One schedule entry of prefect.yaml (`cron` or `interval`, with slug, time zone, parameters, active)."""
    options = {
        "timezone": spec.get("timezone"),
        "active": spec.get("active", True),
        "parameters": spec.get("parameters"),
        "slug": spec["slug"],
    }
    if "cron" in spec:
        return Cron(spec["cron"], **options)
    if "interval" in spec:
        return Interval(spec["interval"], **options)
    raise ValueError(f"schedule {spec['slug']} of prefect.yaml has neither cron nor interval")


def triggers(spec: dict[str, Any]) -> list[DeploymentTriggerTypes | TriggerTypes]:
    """The event triggers of one entry of prefect.yaml, read as `prefect deploy` reads them."""
    return [TRIGGER.validate_python(trigger) for trigger in spec.get("triggers") or []]


def deployment(spec: dict[str, Any]) -> RunnerDeployment:
    """The deployment `timebridge serve` registers for one entry of prefect.yaml."""
    limit = spec.get("concurrency_limit")
    made = entrypoint_flow(spec["entrypoint"]).to_deployment(
        spec["name"],
        description=spec.get("description"),
        tags=spec.get("tags"),
        parameters=spec.get("parameters") or {},
        schedules=[schedule(s) for s in spec.get("schedules") or []],
        triggers=triggers(spec),
        concurrency_limit=ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else limit,
    )
    return in_sync(made)


def deployments(path: Path = PREFECT_YAML) -> list[RunnerDeployment]:
    """Every deployment of prefect.yaml, ready for `prefect.serve`."""
    return [deployment(spec) for spec in deployment_specs(path)]


def pool_deployments(served: list[RunnerDeployment]) -> dict[str, tuple[UUID, str]]:
    """Those of `served` that the Prefect server already has on a work pool (from `prefect deploy`), by
    "flow/deployment" name: their id and pool. Serving one of them would leave it without its pull step."""
    found = {}
    with get_client(sync_client=True) as client:
        for deployment in served:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                found[name] = (existing.id, existing.work_pool_name)
    return found


def delete_deployments(ids: list[UUID]) -> None:
    """Delete deployments from the Prefect server (their flow runs stay in the run history of their flows)."""
    with get_client(sync_client=True) as client:
        for deployment_id in ids:
            client.delete_deployment(deployment_id)
