"""Start-up of the ``kedro`` CLI: this project against a bare project made by
``kedro new``, side by side in one run.

Makes the bare project in a temporary folder (``kedro new --name bare --tools none
--example n``, with this project's ``.telemetry`` so that neither side asks for or
sends telemetry), then times ``--runs`` runs of each command in each project, one
after the other in turn (the order of the projects reversed every other run), so that
a load that comes and goes hits every side alike. Each run is a fresh
``python -m kedro ...`` in the project's folder with ``PYTHONPATH=<project>/src``;
one untimed run of each comes first. ``--before DIR`` adds a third side: another
checkout of this project (e.g. a worktree at an older commit), used read-only.

    python benchmarks/cli_startup.py [--runs 5] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import ROOT

COMMANDS = (("--help",), ("registry", "list"))
TIMEOUT_S = 600


def show(line: str) -> None:
    print(line, flush=True)  # noqa: T201 (the benchmark's report)


def kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m kedro ARGS`` in ``project``, with its ``src`` first on the path."""
    return subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=True,
    )


def bare_project(folder: Path) -> Path:
    """A project made by ``kedro new`` with no tools and no example pipeline."""
    subprocess.run(
        [sys.executable, "-m", "kedro", "new", "--name", "bare"]
        + ["--tools", "none", "--example", "n"],
        cwd=folder,
        capture_output=True,
        check=True,
        timeout=TIMEOUT_S,
    )
    project = folder / "bare"
    shutil.copy2(ROOT / ".telemetry", project / ".telemetry")
    return project


def timed(project: Path, command: tuple[str, ...]) -> float:
    start = time.perf_counter()
    kedro(project, *command)
    return time.perf_counter() - start


def measure(projects: dict[str, Path], runs: int) -> dict[tuple, list[float]]:
    """Seconds of every run, by (command, side), the sides taken in turn."""
    for project in projects.values():
        for command in COMMANDS:
            kedro(project, *command)
    times: dict[tuple, list[float]] = {}
    for run in range(runs):
        order = list(projects.items())
        if run % 2:
            order.reverse()
        for command in COMMANDS:
            for side, project in order:
                seconds = timed(project, command)
                times.setdefault((command, side), []).append(seconds)
    return times


def report(times: dict[tuple, list[float]], sides: list[str]) -> None:
    show(
        "| command | project | median s | min s | max s | median / bare | min / bare |"
    )
    show("|---|---|---:|---:|---:|---:|---:|")
    for command in COMMANDS:
        bare = times[(command, "bare")]
        for side in sides:
            values = times[(command, side)]
            median = statistics.median(values)
            show(
                f"| `kedro {' '.join(command)}` | {side} | {median:.2f} "
                f"| {min(values):.2f} | {max(values):.2f} "
                f"| {median / statistics.median(bare):.2f}x "
                f"| {min(values) / min(bare):.2f}x |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cli_startup-") as folder:
        projects = {"bare": bare_project(Path(folder)), "this project": ROOT}
        if args.before is not None:
            projects["before"] = args.before.resolve()
        show(
            f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}, {args.runs} runs each"
        )
        times = measure(projects, args.runs)
        show(f"load average at the end {os.getloadavg()[0]:.1f}\n")
        report(times, list(projects))


if __name__ == "__main__":
    main()
