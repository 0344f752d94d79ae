"""Benchmark output: a markdown table on stdout and in `bench/results/<name>.md`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def write_report(name: str, rows: Sequence[tuple[str, object]]) -> None:
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(f"# bench/{name}.py ({time.strftime('%Y-%m-%d')})\n\n{table}\n")
