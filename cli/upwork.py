"""`timebridge upwork …`: connect over OAuth, organisations, refresh, user and contract mappings, the plan."""

from __future__ import annotations

import secrets
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from urllib.parse import parse_qs, urlparse

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from cli.console import console, print_rows, run_flow
from models import clock
from models.settings import get_settings
from models.upwork_store import (
    CONFIRMED,
    INVITED,
    SUGGESTED,
    UpworkContract,
    UpworkContractMapping,
    UpworkStore,
    UpworkUserMapping,
)
from tasks.upwork_review import confirm_suggestion, select_project
from tasks.upwork_rules import mapping_sync_state

if TYPE_CHECKING:
    from connectors.upwork import UpworkOAuth  # imported by `connect`: Prefect loads only when a command needs it

app = typer.Typer(help="Upwork: connection, organisations, mappings and what will sync.", no_args_is_help=True)
OrgOption = Annotated[str | None, typer.Option("--org", help="Only this organisation (its Upwork organisation id).")]


def store() -> UpworkStore:
    from tasks.shared import upwork_store

    return upwork_store(get_settings())


def table(title: str, *columns: str) -> Table:
    result = Table(title=title)
    for column in columns:
        result.add_column(column)
    return result


@app.command()
def connect(
    redirect_url: Annotated[
        str | None, typer.Option(help="The URL Upwork redirected the browser to, after an earlier `connect`.")
    ] = None,
    code: Annotated[str | None, typer.Option(help="The authorization code from that URL (needs --state).")] = None,
    state: Annotated[str | None, typer.Option(help="The state from that URL, checked against the pending one.")] = None,
    no_state_check: Annotated[
        bool, typer.Option("--no-state-check", help="Take --code without its state (you checked the redirect).")
    ] = False,
    listen: Annotated[bool, typer.Option(help="Wait for the redirect on the loopback redirect URI.")] = False,
) -> None:
    """Connect timebridge to Upwork: open the printed URL, approve, then paste the URL Upwork redirected to, or let
    `--listen` catch it. To finish later, run `connect --redirect-url URL` (or `--code CODE --state STATE`): the
    redirect's `state` must be the one of the URL `connect` printed last."""
    from connectors.upwork import UpworkOAuth, upwork_http

    settings = get_settings()
    oauth = UpworkOAuth(settings, upwork_http(settings))
    pending = pending_state_file(settings.database_url)
    if redirect_url:
        code = code_from_redirect(redirect_url, read_pending_state(pending))
    elif code:
        if not no_state_check:
            check_state(state, read_pending_state(pending))
    else:
        expected = new_pending_state(pending)
        console.print("Open this URL, sign in to Upwork and approve timebridge:")
        console.print(oauth.authorize_url(expected), soft_wrap=True, markup=False)
        if listen:
            answer = wait_for_redirect(settings.upwork_redirect_uri)
        else:
            answer = typer.prompt("Paste the URL Upwork redirected to (Enter: later)", default="", show_default=False)
            if not answer:
                console.print("Finish with `timebridge upwork connect --redirect-url URL`.")
                return
        code = code_from_redirect(answer, expected)
    name = finish_connection(oauth, code)
    pending.unlink(missing_ok=True)  # a state is good for one connection
    console.print(f"Connected as {name}. The organisations it can act for, with their freelancers and contracts:")
    show_organizations()


def show_organizations() -> None:
    """Refresh (organisations, contracts, freelancers, rates, mapping suggestions) and print the organisations; a
    failed refresh leaves the connection as it is."""
    from flows.refresh_upwork import refresh_upwork

    try:
        refresh_upwork()
    except Exception as error:  # noqa: BLE001 - the connection stands; the person is told what to run
        console.print(f"[yellow]could not read Upwork yet:[/] {error}; run `timebridge upwork refresh` later")
        return
    console.print(organizations_table(store()))


def pending_state_file(database_url: str) -> Path:
    """Where a started `connect` keeps its OAuth state: beside the SQLite store, else in `.timebridge/`."""
    url = make_url(database_url)
    sqlite_file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    return (Path(sqlite_file).parent if sqlite_file else Path(".timebridge")) / "upwork-connect-state"


def new_pending_state(pending: Path) -> str:
    """A fresh OAuth state, kept (readable by the owner only) until its redirect comes back, maybe to a later run."""
    state = secrets.token_urlsafe(16)
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.touch(mode=0o600)
    pending.write_text(state)
    return state


def read_pending_state(pending: Path) -> str | None:
    return pending.read_text().strip() if pending.exists() else None


def code_from_redirect(redirect_url: str, expected: str | None) -> str:
    """The authorization code of Upwork's redirect, once its `state` is the pending one."""
    query = parse_qs(urlparse(redirect_url).query)
    if "error" in query:
        refuse(f"Upwork answered {query['error'][0]}: nothing was connected; run `timebridge upwork connect` again.")
    check_state(query.get("state", [None])[0], expected)
    if not query.get("code"):
        refuse("The redirect URL carries no code: paste the whole URL Upwork redirected the browser to.")
    return query["code"][0]


def check_state(received: str | None, expected: str | None) -> None:
    """Refuse a code whose state is missing or not the one of the authorize URL `connect` printed (CSRF)."""
    if expected is None:
        refuse("No connect is pending: run `timebridge upwork connect` and open the URL it prints.")
    if not received:
        refuse(
            "The redirect carries no state, so it cannot be told from a forged one: paste the whole redirect URL, "
            "or pass --state STATE with --code (or --no-state-check if you checked it yourself)."
        )
    if not secrets.compare_digest(received.encode(), expected.encode()):
        refuse(
            "The state does not match the URL `connect` printed last: this redirect may not be yours. Nothing was "
            "connected; run `timebridge upwork connect` again."
        )


def refuse(message: str) -> NoReturn:
    console.print(message, style="red", soft_wrap=True, markup=False)
    raise typer.Exit(2)


def finish_connection(oauth: UpworkOAuth, code: str) -> str:
    """Exchange the authorization code, store the tokens (encrypted) and who they act as; returns that name."""
    from connectors.upwork import UpworkClient

    keeper = store()
    keeper.save(oauth.exchange_code(code))
    with UpworkClient.from_settings(get_settings(), tokens=keeper) as upwork:
        user = upwork.current_user()
    keeper.save(keeper.load(), user_id=user.id, user_name=user.name)  # type: ignore[arg-type]
    return user.name or user.id


def wait_for_redirect(redirect_uri: str, timeout: float = 300.0) -> str:
    """Serve the loopback redirect URI until Upwork's redirect arrives; returns the full redirect URL."""
    target = urlparse(redirect_uri)
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            received.append(f"{redirect_uri.split('?')[0]}?{urlparse(self.path).query}")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"timebridge is connected to Upwork; you can close this window.")

        def log_message(self, *args: object) -> None:
            return

    with HTTPServer((target.hostname or "127.0.0.1", target.port or 80), Handler) as server:
        server.timeout = timeout
        server.handle_request()
    if not received:
        raise typer.BadParameter("no redirect arrived in time")
    return received[0]


@app.command()
def disconnect() -> None:
    """Stop syncing with Upwork: the tokens are forgotten; organisations, mappings and synced entries stay."""
    store().disconnect()
    console.print("Disconnected. Mappings and synced entries are kept; `timebridge upwork connect` resumes.")


@app.command()
def refresh() -> None:
    """Read organisations, contracts, freelancers and rates from Upwork; suggest mappings."""
    from flows.refresh_upwork import refresh_upwork

    run_flow("refresh-upwork", refresh_upwork)


@app.command()
def orgs(
    select: Annotated[list[str] | None, typer.Option("--select", help="Sync this organisation.")] = None,
    deselect: Annotated[list[str] | None, typer.Option("--deselect", help="Stop syncing it.")] = None,
) -> None:
    """The organisations: kind, freelancers, contracts, selection and refresh state."""
    keeper = store()
    for ids, selected in ((select or [], True), (deselect or [], False)):
        for missing in keeper.select_organizations(ids, selected):
            console.print(f"[yellow]no organisation {missing}; run `timebridge upwork refresh`[/]")
    connection = keeper.connection()
    console.print(f"connection: {connection.status if connection else 'not connected'}")
    console.print(organizations_table(keeper))


def organizations_table(keeper: UpworkStore) -> Table:
    """The stored organisations with kind, selection, freelancer and contract counts ("-" until refreshed)."""
    result = table("Upwork organisations", "id", "name", "kind", "selected", "freelancers", "contracts", "last refresh")
    contracts = keeper.contracts()
    for org in keeper.organizations():
        own = [c for c in contracts if c.organization_id == org.id]
        read = org.last_refresh_at is not None
        result.add_row(
            org.id,
            org.name,
            org.kind,
            "yes" if org.selected else "no",
            str(len({c.freelancer_id for c in own})) if read else "-",
            str(len(own)) if read else "-",
            f"{org.last_refresh_at:%Y-%m-%d %H:%M}" if org.last_refresh_at else "never",
        )
    return result


@app.command()
def users(org: OrgOption = None) -> None:
    """Freelancers per organisation and the awork user their time goes to (suggested or confirmed)."""
    keeper = store()
    freelancers = keeper.freelancers()
    result = table(
        "freelancer mappings",
        "org",
        "freelancer id",
        "Upwork name",
        "e-mail",
        "state",
        "awork user",
        "locked",
        "sync",
        "why",
    )
    for mapping in keeper.user_mappings(org):
        person = freelancers.get(mapping.freelancer_id)
        result.add_row(
            mapping.organization_id,
            mapping.freelancer_id,
            person.name if person else "",
            (person.email or "") if person else "",
            mapping.state,
            mapping.awork_user_id or "",
            "yes" if mapping.locked else "",
            "on" if mapping.sync_enabled else "off",
            mapping.reason or "",
        )
    console.print(result)


@app.command("map-user")
def map_user(
    freelancer_id: Annotated[str | None, typer.Argument(help="The freelancer's Upwork id.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="The organisation the mapping belongs to.")] = None,
    awork_user: Annotated[str | None, typer.Option(help="Map to this awork user id (confirms and locks).")] = None,
    confirm: Annotated[bool, typer.Option(help="Confirm (and lock) the suggested awork user.")] = False,
    confirm_all: Annotated[
        bool, typer.Option(help="Confirm every unambiguous suggestion (of --org, else of all); list the rest.")
    ] = False,
    invite: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Invite this e-mail to awork; mapped once they accept.")
    ] = None,
    unlock: Annotated[
        bool, typer.Option(help="Unlock first: a refresh may suggest again, a change may follow.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Change a locked mapping without unlocking it first.")] = False,
    sync: Annotated[bool | None, typer.Option("--sync/--no-sync", help="Sync this freelancer's time or not.")] = None,
) -> None:
    """Map a freelancer of an organisation to an awork user: confirm the suggestion, name the user or invite them;
    or confirm all unambiguous suggestions at once. A locked (confirmed) mapping changes only after --unlock."""
    keeper = store()
    if confirm_all:
        confirm_suggestions(keeper, org)
        return
    if freelancer_id is None or org is None:
        raise typer.BadParameter("name a FREELANCER and its --org (or use --confirm-all)")
    mapping = keeper.user_mapping(org, freelancer_id)
    if mapping is None:
        raise typer.BadParameter(f"no freelancer {freelancer_id} in organisation {org}; see `timebridge upwork users`")
    if unlock:
        mapping.locked, mapping.state = False, SUGGESTED if mapping.awork_user_id else mapping.state
    if invite:
        map_to_invitee(keeper, mapping, invite, force)
    elif awork_user:
        check_unlocked(mapping, awork_user, force)
        mapping.awork_user_id, mapping.state, mapping.locked, mapping.reason = (
            awork_user,
            CONFIRMED,
            True,
            "set by hand",
        )
    elif confirm:
        if not mapping.awork_user_id:
            raise typer.BadParameter("there is no suggestion to confirm; name the user with --awork-user")
        if mapping.state == INVITED:
            refuse(
                f"{mapping.freelancer_id} is invited to awork and has not accepted yet; the next refresh confirms "
                "it once they have"
            )
        confirm_suggestion(mapping)
    if sync is not None:
        mapping.sync_enabled = sync
    keeper.save_user_mapping(mapping)
    console.print(
        f"{mapping.freelancer_id} in {mapping.organization_id}: {mapping.state} -> {mapping.awork_user_id or 'nobody'}"
        f"{' (locked)' if mapping.locked else ''}, sync {'on' if mapping.sync_enabled else 'off'}"
    )


def check_unlocked(mapping: UpworkUserMapping, awork_user_id: str | None, force: bool) -> None:
    from tasks.upwork_mappings import locked_refusal

    if refusal := locked_refusal(mapping, awork_user_id, force):
        refuse(refusal)


def map_to_invitee(keeper: UpworkStore, mapping: UpworkUserMapping, email: str, force: bool) -> None:
    """Map the freelancer to the awork user with this e-mail, inviting them first if awork has none (one invitation
    however often this runs); the mapping is confirmed once they accepted."""
    from tasks.upwork_mappings import existing_invitee, invitation_state, invite

    settings = get_settings()
    invitee = existing_invitee(settings, email)
    check_unlocked(mapping, invitee.awork_user_id if invitee else None, force)
    if invitee is None:
        person = keeper.freelancers().get(mapping.freelancer_id)
        invitee = invite(settings, email, person.first_name if person else None, person.last_name if person else None)
    state, mapping.reason = invitation_state(invitee, email)
    mapping.awork_user_id, mapping.state, mapping.locked = invitee.awork_user_id, state, True
    if invitee.invited_now:
        console.print(f"invited {email} to awork")
    elif not invitee.accepted:
        console.print(f"{email} is invited already and has not accepted yet")


def confirm_suggestions(keeper: UpworkStore, org: str | None) -> None:
    """Confirm (and lock) every unambiguous suggestion; list the mappings left for a person and why."""
    from tasks.upwork_mappings import confirmable

    sure, rest = confirmable(keeper.user_mappings(org))
    for mapping in sure:
        confirm_suggestion(mapping)
        keeper.save_user_mapping(mapping)
    console.print(f"confirmed {len(sure)} suggestion(s)")
    freelancers = keeper.freelancers()
    result = table("left to map", "org", "freelancer id", "Upwork name", "state", "awork user", "why")
    for mapping in rest:
        person = freelancers.get(mapping.freelancer_id)
        result.add_row(
            mapping.organization_id,
            mapping.freelancer_id,
            person.name if person else "",
            mapping.state,
            mapping.awork_user_id or "",
            mapping.reason or "",
        )
    if rest:
        console.print(result)


@app.command()
def contracts(org: OrgOption = None) -> None:
    """Contracts with their awork project, rates and whether they sync."""
    keeper = store()
    mappings = keeper.contract_mappings()
    freelancers = keeper.freelancers()
    result = table(
        "contracts",
        "id",
        "org",
        "title",
        "kind",
        "status",
        "client",
        "freelancer",
        "awork project",
        "pay rate",
        "bill rate",
        "sync",
    )
    for contract in keeper.contracts(org):
        mapping = mappings.get((contract.organization_id, contract.id))
        syncs, why = sync_state(keeper, contract, mapping)
        person = freelancers.get(contract.freelancer_id)
        result.add_row(
            contract.id,
            contract.organization_id,
            contract.title,
            contract.kind,
            contract.status,
            contract.client_name or "",
            person.name if person else "",
            (mapping.awork_project_id or "") if mapping else "",
            money(mapping.pay_rate if mapping else None),
            money(mapping.bill_rate if mapping else None),
            "yes" if syncs else why,
        )
    console.print(result)


@app.command("map-contract")
def map_contract(
    contract_id: str,
    org: Annotated[str, typer.Option("--org", help="The organisation whose mapping this is.")],
    project: Annotated[str | None, typer.Option(help="awork project id (selecting one enables the contract).")] = None,
    new_project: Annotated[
        str | None, typer.Option(metavar="NAME", help="Map to the awork project of this name, created if missing.")
    ] = None,
    company: Annotated[
        str | None, typer.Option(metavar="NAME", help="The new project's company (found by name or created).")
    ] = None,
    task: Annotated[str | None, typer.Option(help="awork task id (optional).")] = None,
    type_of_work: Annotated[str | None, typer.Option(help="awork type of work id (optional).")] = None,
    pay_rate: Annotated[Decimal | None, typer.Option(help="What the freelancer costs per hour.")] = None,
    bill_rate: Annotated[Decimal | None, typer.Option(help="What the client is billed per hour.")] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Sync this contract or not.")] = None,
) -> None:
    """Set where a contract's time goes in awork (an existing project, or one by name, created if missing), at
    which rates, and whether it syncs."""
    keeper = store()
    mapping = keeper.contract_mappings().get((org, contract_id))
    if mapping is None:
        raise typer.BadParameter(f"no contract {contract_id} in organisation {org}; see `timebridge upwork contracts`")
    if project and new_project:
        raise typer.BadParameter("give either --project (an awork project id) or --new-project (a name), not both")
    if company and not new_project:
        raise typer.BadParameter("--company names the company of a --new-project; an existing project keeps its own")
    if new_project:
        project = project_named(new_project, company)
    if project:
        select_project(mapping, project)
    for field, value in (
        ("awork_task_id", task),
        ("awork_type_of_work_id", type_of_work),
        ("pay_rate", pay_rate),
        ("bill_rate", bill_rate),
        ("enabled", enable),
    ):
        if value is not None:
            setattr(mapping, field, value)
    keeper.save_contract_mapping(mapping)
    console.print(
        f"{contract_id}: project {mapping.awork_project_id or '-'}, pay {money(mapping.pay_rate)}, "
        f"bill {money(mapping.bill_rate)}, {'enabled' if mapping.enabled else 'disabled'}"
    )


def project_named(name: str, company: str | None) -> str:
    """The id of the awork project called `name`, created (in `company`) when awork has none."""
    from tasks.upwork_mappings import project_named as find_or_create

    awork_project, created = find_or_create(get_settings(), name, company)
    console.print(f"{'created' if created else 'found'} awork project {awork_project.name} ({awork_project.id})")
    return awork_project.id


@app.command()
def plan() -> None:
    """The review step: per selected organisation, which contracts will sync, to where, at which rates."""
    keeper = store()
    mappings = keeper.contract_mappings()
    freelancers = keeper.freelancers()
    for org in keeper.organizations():
        if not org.selected:
            continue
        result = table(
            f"{org.name} ({org.kind})", "contract", "freelancer", "awork project", "pay rate", "bill rate", "will sync"
        )
        for contract in keeper.contracts(org.id):
            mapping = mappings.get((contract.organization_id, contract.id))
            syncs, why = sync_state(keeper, contract, mapping)
            person = freelancers.get(contract.freelancer_id)
            result.add_row(
                contract.title,
                person.name if person else "",
                (mapping.awork_project_id or "") if mapping else "",
                money(mapping.pay_rate if mapping else None),
                money(mapping.bill_rate if mapping else None),
                "yes" if syncs else f"no: {why}",
            )
        console.print(result)


def sync_state(
    keeper: UpworkStore, contract: UpworkContract, mapping: UpworkContractMapping | None
) -> tuple[bool, str]:
    """Whether a contract's time will sync, and if not, why."""
    return mapping_sync_state(contract, mapping, keeper.user_mapping(contract.organization_id, contract.freelancer_id))


def money(value: Decimal | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


@app.command()
def why(contract_id: Annotated[str, typer.Argument(help="The contract's Upwork id.")], org: OrgOption = None) -> None:
    """Why a contract does (not) sync: the first condition that fails, then every condition in order."""

    from tasks.upwork_why import first_failing, read_facts
    from tasks.upwork_why import why as conditions_of

    keeper = store()
    found = [c for c in keeper.contracts(org) if c.id == contract_id]
    if not found:
        where = f" in organisation {org}" if org else ""
        refuse(f"no contract {contract_id}{where}; see `timebridge upwork contracts`")
    if len(found) > 1:
        refuse(f"contract {contract_id} is in organisations {', '.join(c.organization_id for c in found)}: add --org")
    contract = found[0]
    conditions = conditions_of(read_facts(keeper, get_settings().database_url, contract, clock.today()))
    failing = first_failing(conditions)
    verdict = f"does not sync: {failing.name} ({failing.detail})" if failing else "syncs: every condition holds"
    console.print(f"{contract.title} ({contract.organization_id}/{contract.id}) {verdict}", markup=False)
    result = table("why", "condition", "ok", "detail")
    for condition in conditions:
        result.add_row(condition.name, "yes" if condition.holds else "NO", Text(condition.detail))
    console.print(result)


@app.command()
def status() -> None:
    """Per organisation and contract what is syncing: last refresh and sync, hours synced, the last entries."""

    from tasks.upwork_status import read_status

    view = read_status(clock.today())
    connection = store().connection()
    console.print(f"Upwork connection: {connection.status if connection else 'not connected'}")
    print_rows(view.tables())
