"""`timebridge sandbox` and `timebridge demo`, added to the `timebridge` command through the entry point group
`timebridge.commands` when the `sandbox` extra is installed (without its dependencies this module does not import,
and the two commands are absent)."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from sandbox.demo import run_demo, start_sandbox

app = typer.Typer()


@app.command()
def sandbox(
    moco_port: int = typer.Option(8801, help="Port of the MOCO simulator."),
    awork_port: int = typer.Option(8802, help="Port of the awork simulator."),
    upwork_port: int = typer.Option(8803, help="Port of the Upwork simulator."),
    rate_limits: bool = typer.Option(True, help="Enforce the APIs' documented rate limits."),
) -> None:
    """Serve the simulators on loopback with demo data, until interrupted."""
    console = Console()
    with start_sandbox(moco_port, awork_port, upwork_port, rate_limits) as sims:
        console.print("Simulators are running. Point timebridge at them with:")
        for name, value in sims.environment().items():
            console.print(f"  export {name}={value}")
        console.print("Ctrl-C stops them.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command()
def demo() -> None:
    """Start the simulators with demo data, run the flows end to end, and print what they did."""
    run_demo(Console())
