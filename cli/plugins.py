"""Commands other packages add to `timebridge`: each entry point of the group `timebridge.commands` names a Typer
app whose commands join the top level (the sandbox's `sandbox` and `demo`)."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

GROUP = "timebridge.commands"


def add_plugin_commands(app: typer.Typer) -> None:
    """Add the commands of every plugin that loads; one that does not is absent, and the rest of the CLI works."""
    for entry in entry_points(group=GROUP):
        try:
            commands = entry.load()
            if not isinstance(commands, typer.Typer):
                raise TypeError(f"{entry.value} is not a typer.Typer")
        except ImportError:
            continue  # its extra is not installed (the simulators' dependencies: `timebridge[sandbox]`)
        except Exception as error:  # a broken plugin must not take the whole command down
            print(f"timebridge: the commands of {entry.name} are left out: {error}", file=sys.stderr)
            continue
        app.add_typer(commands)
