"""A real `prefect server start` for the tests of the production path: its own PREFECT_HOME and port, its database
in PostgreSQL when the suite has one (else SQLite), and helpers to run the Prefect CLI, workers and `timebridge`
processes against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from uuid import UUID

import httpx
import psycopg
from sqlalchemy.engine import make_url

from sandbox.core import _free_port

BIN = Path(sys.executable).parent
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def checkout_copy(target: Path) -> Path:
    """A clone of this checkout as it is now (tracked and new files, not ignored ones), like a fresh deployment."""
    root = Path(__file__).resolve().parent.parent
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = root / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@contextmanager
def fresh_database(postgres_url: str | None, name: str, driver: str = "postgresql+asyncpg") -> Iterator[str | None]:
    """A fresh PostgreSQL database beside the suite's (URL with `driver`: asyncpg for Prefect's own tables,
    psycopg for a store), dropped afterwards; None when the suite has no PostgreSQL."""
    if not postgres_url:
        yield None
        return
    url = make_url(postgres_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername=driver, database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PrefectServer:
    """`prefect server start` on a free port; `env` is what every process talking to it needs."""

    def __init__(self, home: Path, database_url: str | None, scheduler_loop_seconds: int = 5) -> None:
        self.port = _free_port("127.0.0.1")
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.home = home
        self.env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("TIMEBRIDGE_")},
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_UI_URL": f"http://127.0.0.1:{self.port}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": str(scheduler_loop_seconds),
        }
        if database_url:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 120) -> PrefectServer:
        self.spawn(["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)], self.home, "server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self._processes[0].poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"prefect server did not start: {self.log('server')[-3000:]}")

    def spawn(
        self, command: list[str], cwd: Path, log_name: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-running process (server, worker, `timebridge serve`) with its output in `<home>/<log_name>.log`."""
        executable = str(BIN / command[0])
        log = open(self.home / f"{log_name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [executable, *command[1:]],
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._processes.append(process)
        return process

    def run(
        self,
        command: list[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 180,
        expect_exit: int = 0,
    ) -> str:
        """Run a command to its end; its output, or an AssertionError with the output when it exits otherwise."""
        done = subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        assert done.returncode == expect_exit, f"{' '.join(command)} exited {done.returncode}:\n{output[-4000:]}"
        return output

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = httpx.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response

    def deployments(self) -> dict[str, dict]:
        return {d["name"]: d for d in self.api("POST", "/deployments/filter", json={}).json()}

    def flow_runs(self, deployment_id: str, states: list[str] | None = None) -> list[dict]:
        body: dict = {"deployments": {"id": {"any_": [deployment_id]}}}
        if states:
            body["flow_runs"] = {"state": {"type": {"any_": states}}}
        return self.api("POST", "/flow_runs/filter", json=body).json()

    def create_run(
        self, deployment_id: str, parameters: Mapping[str, object] | None = None, at: datetime | None = None
    ) -> str:
        """A run of a deployment, created as the UI's "Run" button (custom parameters) does; with `at`, scheduled
        for that moment as a deployment's schedule creates its runs ahead of time."""
        state: dict[str, object] = {"type": "SCHEDULED"}
        if at:
            state["state_details"] = {"scheduled_time": at.isoformat()}
        body = {"parameters": dict(parameters or {}), "state": state}
        return str(self.api("POST", f"/deployments/{deployment_id}/create_flow_run", json=body).json()["id"])

    def wait_for_run(self, run_id: str | UUID, timeout: float = 120) -> dict:
        """The run once it reached a final state (fails the test after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/flow_runs/{run_id}").json()
            if run["state"]["type"] in TERMINAL:
                return run
            time.sleep(1)
        raise AssertionError(f"flow run {run_id} did not finish in {timeout} s: {run['state']}")

    def stop_process(self, process: subprocess.Popen[bytes]) -> None:
        """Stop a process group with SIGINT (Prefect's CLI stops its children on it), then SIGKILL."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def stop(self) -> None:
        for process in reversed(self._processes):
            self.stop_process(process)


def timebridge_env() -> dict[str, str]:
    """The TIMEBRIDGE_* settings of this test (simulators, store), as a worker gets them from its environment."""
    return {name: value for name, value in os.environ.items() if name.startswith("TIMEBRIDGE_")}
