"""What every flow does around its work: the run record, the sync issues, the summary and issue artifacts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models.store import IssueDraft, Store


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


def publish_run(flow: str, counts: Mapping[str, int], issues: Sequence[IssueDraft], status: str) -> None:
    """The summary table artifact and the sync-issue markdown artifact of a run."""
    rows = [{"what": key, "count": value} for key, value in counts.items()]
    rows.append({"what": "status: " + status, "count": len(issues)})
    create_table_artifact(table=rows, key=f"{flow}-summary", description=f"{flow}: what this run did")
    create_markdown_artifact(
        markdown=issues_markdown(flow, issues), key=f"{flow}-issues", description=f"{flow}: sync issues"
    )


def finish_run(
    store: Store,
    run_id: int,
    flow: str,
    counts: Mapping[str, int],
    issues: Sequence[IssueDraft],
    checked_refs: Sequence[str] | None,
    failed: bool = False,
) -> str:
    """Record the issues (resolving those that went through) and close the run record; returns the status."""
    status = run_status(issues, failed)
    store.record_issues(flow, issues, checked=checked_refs)
    store.finish_run(run_id, status, {**counts, "sync issues": len(issues)})
    return status
