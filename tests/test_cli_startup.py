"""Starting `timebridge`: importing the CLI has no side effects, the entry point sets Prefect's defaults, and the
commands of plugins (the sandbox's) join it when they load and are simply absent when they don't."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import typer
from typer.testing import CliRunner

import cli
from cli import plugins

ROOT = Path(__file__).parent.parent
ANALYTICS = "PREFECT_SERVER_ANALYTICS_ENABLED"
runner = CliRunner()


def python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter in the checkout, without the analytics setting the tests' conftest sets."""
    environment = {name: value for name, value in os.environ.items() if name != ANALYTICS}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_importing_cli_changes_no_environment_variable():
    result = python(
        "import os; before = dict(os.environ); import cli; "
        "changed = sorted(set(os.environ.items()) ^ set(before.items())); assert not changed, changed"
    )
    assert result.returncode == 0, result.stderr


def test_importing_cli_loads_no_prefect_so_the_entry_points_default_comes_first():
    result = python("import sys, cli; assert 'prefect' not in sys.modules")
    assert result.returncode == 0, result.stderr


def test_main_turns_prefect_analytics_off_unless_set(monkeypatch):
    monkeypatch.setattr(cli, "app", lambda: None)
    monkeypatch.delenv(ANALYTICS, raising=False)
    cli.main()
    assert os.environ[ANALYTICS] == "false"
    monkeypatch.setenv(ANALYTICS, "true")
    cli.main()
    assert os.environ[ANALYTICS] == "true"


def test_the_sandbox_contributes_sandbox_and_demo():
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "sandbox" in result.output and "demo" in result.output


def test_a_plugin_that_fails_to_load_leaves_the_rest_of_the_cli_working(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    installed = [
        EntryPoint("unavailable", "no_such_package.cli:app", plugins.GROUP),  # its extra is not installed
        EntryPoint("broken", "broken_plugin:app", plugins.GROUP),
        EntryPoint("sandbox", "sandbox.cli:app", plugins.GROUP),
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: [e for e in installed if e.group == group])
    app = typer.Typer()

    @app.command()
    def status() -> None:
        """Last runs."""

    plugins.add_plugin_commands(app)
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0, result.output
    assert "status" in result.output and "demo" in result.output
    assert "the commands of broken are left out: boom" in capsys.readouterr().err


def test_without_the_sandbox_extra_its_commands_are_absent():
    result = python(
        "import sys; sys.modules.update(dict.fromkeys(('uvicorn', 'starlette', 'graphql')))  # not installed\n"
        "from typer.testing import CliRunner\n"
        "from cli import app\n"
        "result = CliRunner().invoke(app, ['--help']); print(result.exit_code); print(result.output)"
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    code, output = result.stdout.split("\n", 1)
    assert code == "0" and "status" in output and "upwork" in output
    assert "sandbox" not in output and "demo" not in output
