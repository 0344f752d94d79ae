"""`timebridge webhooks …`: the receiver that turns awork and MOCO deliveries into Prefect events, and our
webhooks in both APIs (register, status, unregister)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.console import console, counts_table, print_rows
from models.settings import get_settings

app = typer.Typer(help="Webhooks: awork and MOCO changes as Prefect events, in near real time.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="The interface to listen on (0.0.0.0: all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8790,
) -> None:
    """Receive the webhooks of awork (`/timebridge/awork`) and MOCO (`/timebridge/moco`) and emit one Prefect
    event per authenticated delivery, to the Prefect server of PREFECT_API_URL (whose triggers react to them).
    Put it behind an HTTPS reverse proxy: the APIs post to the public URL given to `register`."""
    import uvicorn
    from prefect.settings import PREFECT_API_URL

    from tasks.webhooks import awork_webhook_token
    from webhooks.receiver import create_app

    if not PREFECT_API_URL.value():
        console.print("[red]Not serving:[/] set PREFECT_API_URL to the Prefect server whose triggers use the events.")
        raise typer.Exit(1)
    settings = get_settings()
    token = awork_webhook_token(settings)
    if token is None:
        console.print(
            "[yellow]No awork webhook token:[/] awork deliveries are refused until `timebridge webhooks register` "
            "ran or TIMEBRIDGE_AWORK_WEBHOOK_TOKEN is set."
        )
    if not settings.moco_webhook_secret.get_secret_value():
        console.print(
            "[yellow]TIMEBRIDGE_MOCO_WEBHOOK_SECRET is not set:[/] MOCO deliveries are refused; copy the signing key "
            "from MOCO (Settings > Extensions > API & Webhooks)."
        )
    uvicorn.run(create_app(settings, token), host=host, port=port, log_level="info")


@app.command()
def register(
    public_url: Annotated[
        str, typer.Option(help="Where awork and MOCO reach `webhooks serve`, e.g. https://hooks.example.com.")
    ],
) -> None:
    """Create or update our webhooks in awork (time entries, projects, absences) and MOCO (projects, tasks,
    contracts, schedules) so that they post to PUBLIC_URL; a second call changes nothing."""
    from tasks.webhooks import register as register_webhooks

    settings = get_settings()
    for api, done in register_webhooks(settings, public_url).items():
        console.print(counts_table(f"{api} webhooks", done or {"unchanged": "all"}))
    if not settings.moco_webhook_secret.get_secret_value():
        console.print(
            "MOCO signs its deliveries with the key shown in MOCO (Settings > Extensions > API & Webhooks): set it "
            "as TIMEBRIDGE_MOCO_WEBHOOK_SECRET where `webhooks serve` runs."
        )
    status()


@app.command()
def status() -> None:
    """Our webhooks in awork and MOCO: events, URL, state and awork's last failure."""
    from tasks.webhooks import webhook_status

    rows = [row.model_dump() for row in webhook_status(get_settings())]
    if not rows:
        console.print("No webhooks of timebridge in awork or MOCO: run `timebridge webhooks register`.")
    print_rows({"webhooks of timebridge": rows})


@app.command()
def unregister() -> None:
    """Delete our webhooks in awork and MOCO (others' webhooks stay)."""
    from tasks.webhooks import unregister as unregister_webhooks

    console.print(counts_table("webhooks deleted", unregister_webhooks(get_settings())))
