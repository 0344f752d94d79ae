"""Terminal output of flow results (the CLI and the demo print the same tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from models.store import IssueDraft


def counts_table(title: str, counts: Mapping[str, object]) -> Table:
    """A two-column table of a run's counts."""
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(key.replace("_", " "), str(value))
    return table


def print_issues(console: Console, issues: Sequence[IssueDraft]) -> None:
    for issue in issues:
        console.print(f"  [yellow]sync issue[/] {issue.kind}: {issue.message}")
