"""`timebridge doctor`: the whole setup checked against the live APIs, the store and Prefect, a line per check."""

from __future__ import annotations

import typer
from rich.text import Text

from cli.console import console
from models.settings import get_settings

STYLES = {"OK": "green", "PROBLEM": "bold red", "INFO": "cyan"}


def doctor() -> None:
    """Check the setup: the MOCO and awork keys, MOCO's custom fields and sync tag, the people on both sides, the
    store, the Upwork connection and the Prefect server's deployments. Each line is OK, a PROBLEM with its fix, or
    INFO; exits 0 only when no check finds a problem."""
    from flows.deployments import deployment_specs
    from tasks.doctor import run_checks

    checks = run_checks(get_settings(), deployment_specs())
    for check in checks:
        line = Text.assemble((f"{check.status:<8}", STYLES[check.status]), f"{check.name}: {check.detail}")
        console.print(line, soft_wrap=True)
        if check.fix:
            console.print(Text(f"{'':8}fix: {check.fix}"), soft_wrap=True)
    problems = sum(check.status == "PROBLEM" for check in checks)
    console.print(f"{problems} problem(s) to fix" if problems else "all is well", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
