"""What every flow does around its work: the run record, the writer lease, the sync issues, the summary and issue
artifacts, and the final state the Prefect UI shows."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from uuid import UUID

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, State
from prefect.utilities.urls import url_for

from models.lease import writer_lease
from models.settings import get_settings
from models.store import IssueDraft, Store, open_store
from tasks.shared import in_sync

# Write scopes: one writer at a time per scope, whoever starts the run (CLI, deployment, worker on any host).
IMPORT_SCOPE = "awork projects from MOCO"
PUSH_SCOPE = "MOCO activities from awork"
UPWORK_SCOPE = "awork entries from Upwork"  # backfill-upwork and sync-upwork write the same awork days
ABSENCE_SCOPE = "awork absences from MOCO"


def run_status(issues: Sequence[IssueDraft], failed: bool = False) -> str:
    if failed:
        return "failed"
    return "completed with issues" if issues else "completed"


def issues_markdown(flow: str, issues: Sequence[IssueDraft]) -> str:
    """The run's sync issues as a markdown list a person can act on."""
    if not issues:
        return f"# {flow}: no sync issues\n"
    lines = [f"# {flow}: {len(issues)} sync issue(s)", "", "| kind | object | what to do |", "|---|---|---|"]
    lines += [f"| {i.kind} | {i.object_ref} | {i.message.replace('|', '/')} |" for i in issues]
    return "\n".join(lines) + "\n"


def issues_link(flow: str, artifact_id: UUID) -> str:
    """Where the run's issues are: the artifact's page in the Prefect UI, else its key."""
    return url_for("artifact", obj_id=artifact_id) or f"artifact {flow}-issues"


def publish_run(flow: str, counts: Mapping[str, Any], issues: Sequence[IssueDraft], status: str) -> str:
    """The sync-issue markdown artifact and the summary table artifact (which links the issues) of a run; returns
    the link to the issues."""
    issues_id = in_sync(
        create_markdown_artifact(
            markdown=issues_markdown(flow, issues), key=f"{flow}-issues", description=f"{flow}: sync issues"
        )
    )
    link = issues_link(flow, issues_id)
    rows = [{"what": key, "count": value} for key, value in counts.items()]
    rows.append({"what": "status: " + status, "count": len(issues)})
    description = f"{flow}: what this run did; {len(issues)} sync issue(s): [{link}]({link})"
    create_table_artifact(table=rows, key=f"{flow}-summary", description=description)
    return link


def run_label(flow: str) -> str:
    """Who is running: the flow, Prefect's name of the run, process and host (named by the writer lease)."""
    name = flow_run.name or "outside Prefect"
    return f"{flow} flow run '{name}' (pid {os.getpid()} on {socket.gethostname()})"


class RecordedRun:
    """The bookkeeping of one flow run, opened and closed by `recorded_run`: the flow tells it what it did."""

    def __init__(self, store: Store, flow: str, run_id: int, issue_flow: str) -> None:
        self.store, self.flow, self.run_id, self.issue_flow = store, flow, run_id, issue_flow
        self.counts: dict[str, Any] = {}
        self.issues: list[IssueDraft] = []
        self.checked_refs: Sequence[str] | None = None
        self.status = "running"
        self.issues_link = ""
        self._decided_status: str | None = None

    def finish(
        self,
        counts: Mapping[str, Any],
        issues: Sequence[IssueDraft] = (),
        checked_refs: Sequence[str] | None = None,
        status: str | None = None,
    ) -> None:
        """What the run did: its counts, its sync issues, the objects it checked (issues of other objects stay
        open; None: all of the flow's), and a status of its own (reports) instead of the issue rule."""
        self.counts, self.issues, self.checked_refs = dict(counts), list(issues), checked_refs
        self._decided_status = status

    def close(self, publish: bool) -> None:
        self.status = self._decided_status or run_status(self.issues)
        self.store.record_issues(self.issue_flow, self.issues, checked=self.checked_refs)
        self.store.finish_run(self.run_id, self.status, {**self.counts, "sync issues": len(self.issues)})
        if publish:
            self.issues_link = publish_run(self.flow, self.counts, self.issues, self.status)

    def fail(self) -> None:
        self.status = "failed"
        self.store.finish_run(self.run_id, self.status, {})

    def final_state(self, result: Any) -> State:
        """The flow's return value: a Completed state named after the status, so a run that left sync issues
        ("Completed with issues") shows apart from a clean one in the Prefect UI; it carries `result`."""
        message = self.status
        if self.issues:
            message = f"{len(self.issues)} open sync issue(s): {self.issues_link}"
        return Completed(name=self.status[:1].upper() + self.status[1:], message=message, data=result)


@contextmanager
def recorded_run(
    flow: str,
    *,
    dry_run: bool = False,
    writes: str | None = None,
    issue_flow: str | None = None,
    publish: bool = True,
) -> Iterator[RecordedRun]:
    """Record a flow run in the store from start to end, holding the writer lease of scope `writes` (not in a dry
    run), then record its sync issues (under `issue_flow`, default the flow) and publish its artifacts. A run
    that raises is recorded as failed and the error goes on (Prefect marks the run Failed)."""
    settings = get_settings()
    store = open_store(settings.database_url)
    run = RecordedRun(store, flow, store.start_run(flow, dry_run=dry_run), issue_flow or flow)
    lease = (
        writer_lease(
            store.engine,
            writes,
            run_label(flow),
            wait_seconds=settings.lease_wait_seconds,
            ttl_seconds=settings.lease_ttl_seconds,
        )
        if writes and not dry_run
        else nullcontext()
    )
    try:
        with lease:  # a lease lost meanwhile fails the run when the block ends
            yield run
            run.close(publish)
    except BaseException:
        run.fail()
        raise
