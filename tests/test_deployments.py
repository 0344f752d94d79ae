"""prefect.yaml and `timebridge serve` declare the same deployments (one source), as DESIGN.md describes them."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest

from flows.deployments import deployment_specs, deployments, entrypoint_flow

SPECS = {spec["name"]: spec for spec in deployment_specs()}


def schedule_of(spec: dict) -> dict:
    """A prefect.yaml schedule in the shape the served deployment stores it."""
    if "cron" in spec:
        what = {"cron": spec["cron"], "timezone": spec.get("timezone")}
    else:
        what = {"interval": timedelta(seconds=spec["interval"]), "timezone": spec.get("timezone")}
    return {**what, "slug": spec["slug"], "active": spec.get("active", True), "parameters": spec.get("parameters")}


def served_schedule(schedule) -> dict:
    inner = schedule.schedule
    if hasattr(inner, "cron"):
        what = {"cron": inner.cron, "timezone": inner.timezone}
    else:
        what = {"interval": inner.interval, "timezone": spec_zone(inner.timezone)}
    return {**what, "slug": schedule.slug, "active": schedule.active, "parameters": schedule.parameters or None}


def spec_trigger(spec: dict) -> dict:
    """A prefect.yaml trigger in the shape the served deployment keeps it."""
    return {
        "name": spec["name"],
        "match": spec["match"],
        "expect": set(spec["expect"]),
        "within": timedelta(seconds=spec["within"]),
        "threshold": spec["threshold"],
        "posture": spec["posture"],
        "schedule_after": timedelta(seconds=spec["schedule_after"]),
        "enabled": spec["enabled"],
    }


def served_trigger(trigger) -> dict:
    return {
        "name": trigger.name,
        "match": trigger.match.model_dump(),
        "expect": trigger.expect,
        "within": trigger.within,
        "threshold": trigger.threshold,
        "posture": trigger.posture.value,
        "schedule_after": trigger.schedule_after,
        "enabled": trigger.enabled,
    }


def spec_zone(zone: str | None) -> str | None:
    return None if zone in (None, "UTC") else zone  # an interval without a zone is stored in UTC


@pytest.mark.parametrize("served", deployments(), ids=lambda d: d.name)
def test_served_deployment_equals_prefect_yaml(served):
    spec = SPECS[served.name]
    flow = entrypoint_flow(spec["entrypoint"])
    assert served.flow_name == flow.name == spec["name"]
    assert served.description == spec["description"]
    assert served.tags == spec["tags"]
    assert served.parameters == spec["parameters"]
    assert [served_schedule(s) for s in served.schedules] == [schedule_of(s) for s in spec.get("schedules", [])]
    assert [served_trigger(t) for t in served.triggers] == [spec_trigger(t) for t in spec.get("triggers", [])]
    limit = spec["concurrency_limit"]
    assert (served.concurrency_limit, served.concurrency_options.collision_strategy.value) == (
        limit["limit"],
        limit["collision_strategy"],
    )


def test_every_deployment_is_served_and_every_schedule_has_a_slug():
    assert sorted(d.name for d in deployments()) == sorted(SPECS)
    for spec in SPECS.values():
        assert all(schedule.get("slug") for schedule in spec.get("schedules", [])), spec["name"]
        assert spec["work_pool"]["name"] == "process"


def test_deployment_parameters_are_parameters_of_their_flows():
    for spec in SPECS.values():
        flow = entrypoint_flow(spec["entrypoint"])
        accepted = set(inspect.signature(flow.fn).parameters)
        overrides = [s.get("parameters") or {} for s in spec.get("schedules", []) + spec.get("triggers", [])]
        for parameters in [spec["parameters"], *overrides]:
            assert set(parameters) <= accepted, (spec["name"], set(parameters) - accepted)


def test_schedules_are_those_the_design_names():
    every = {
        name: [s.get("interval") or s.get("cron") for s in spec.get("schedules", [])] for name, spec in SPECS.items()
    }
    assert every == {
        "import-moco-projects": [3600],
        "push-awork-times": [3600, "30 2 * * *"],
        "sync-upwork": [3600],
        "sync-moco-absences": [3600],
        "backfill-upwork": [],
        "review-upwork-mappings": [],
        "reconcile-hours": ["15 3 * * *"],
        "doctor": [],
    }
    assert SPECS["push-awork-times"]["schedules"][1]["parameters"] == {"last_days": 35, "safety_net": True}
    for name in ("import-moco-projects", "push-awork-times", "sync-moco-absences"):  # the safety net of the events
        assert all(s["parameters"]["safety_net"] for s in SPECS[name]["schedules"]), name


def test_webhook_events_trigger_their_deployments_once_per_window_and_the_run_waits_as_long():
    expected = {
        "import-moco-projects": {"timebridge.moco.project.*", "timebridge.moco.task.*", "timebridge.moco.contract.*"},
        "push-awork-times": {"timebridge.awork.timetracking.*"},
        "sync-moco-absences": {"timebridge.moco.schedule.*", "timebridge.awork.absence.*"},
    }
    triggered = {d.name: d.triggers for d in deployments() if d.triggers}
    assert {name: set().union(*(t.expect for t in found)) for name, found in triggered.items()} == expected
    for name, found in triggered.items():
        for trigger in found:
            assert (trigger.posture.value, trigger.threshold) == ("Reactive", 1), name
            assert trigger.schedule_after == trigger.within, name  # reads once the changes of the window are made
            assert trigger.parameters is None, name  # the deployment's: safety_net false
        assert SPECS[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}, name
