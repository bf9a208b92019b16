"""Wall time of a whole ``kedro run``, node by node: where a run spends its time.

Runs ``kedro run --pipelines PIPELINE --env ENV`` on the shared data set, in a copy of
the project (its ``conf`` and ``src``) with a throw-away MLflow store, and reads the
time of every node from Kedro's own log: the runner logs ``Completed node: NAME`` once
a node's inputs are loaded, its function has run and its outputs are saved, so the
time between two such lines is the later node's whole cost. ``--before DIR`` runs the
same command in another checkout of this project (e.g. a worktree at an older commit)
too; the sides take turns, the order reversed every other run.

    python benchmarks/pipeline_run.py [--env quick] [--pipeline training] [--runs 1]
        [--before DIR] [--top 12]

The quick profile's training run is what the test suite runs three times
(``tests/conftest.py``'s ``quick_training_run``, the MLflow UI comparison, the DICOM
run), so its time is most of the suite's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from support import DATA, ROOT, project_copy

TIMEOUT_S = 1800
LOGGING = """
version: 1
disable_existing_loggers: false
formatters:
  timed:
    format: "%(created).3f|%(name)s|%(message)s"
handlers:
  console:
    class: logging.StreamHandler
    formatter: timed
    stream: ext://sys.stdout
loggers:
  kedro:
    level: INFO
root:
  level: WARNING
  handlers: [console]
"""
COMPLETED = re.compile(
    r"^(?P<time>\d+\.\d+)\|kedro\.runner[^|]*\|Completed node: (?P<node>\S+)$"
)
STARTED = re.compile(r"^(?P<time>\d+\.\d+)\|kedro\.[^|]*\|Running node: ")


def show(line: str) -> None:
    print(line, flush=True)  # noqa: T201 (the benchmark's report)


def node_seconds(log: str) -> dict[str, float]:
    """Seconds of every node, from the first ``Running node`` line on."""
    seconds: dict[str, float] = {}
    previous = None
    for line in log.splitlines():
        if previous is None and (started := STARTED.match(line)):
            previous = float(started["time"])
        elif previous is not None and (completed := COMPLETED.match(line)):
            now = float(completed["time"])
            seconds[completed["node"]] = now - previous
            previous = now
    return seconds


def timed_run(checkout: Path, env: str, pipeline: str) -> tuple[float, dict]:
    """Seconds of one ``kedro run`` (the whole process) and of each of its nodes."""
    project = project_copy("pipeline_run-", checkout)
    (project / "logging.yml").write_text(LOGGING)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", pipeline, "--env", env]
        + ["--params", f"raw_data_dir={DATA}"],
        cwd=project,
        env={
            **os.environ,
            "PYTHONPATH": str(project / "src"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
            "KEDRO_LOGGING_CONFIG": str(project / "logging.yml"),
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    total = time.perf_counter() - start
    shutil.rmtree(project)
    if result.returncode:
        raise SystemExit(f"kedro run failed in {checkout}:\n{result.stderr[-3000:]}")
    return total, node_seconds(result.stdout + result.stderr)


def report(runs: dict[str, list[tuple[float, dict]]], top: int) -> None:
    sides = list(runs)
    show("| side | median s, whole run | nodes | median s, sum of nodes |")
    show("|---|---:|---:|---:|")
    for side, values in runs.items():
        totals = [total for total, _ in values]
        sums = [sum(nodes.values()) for _, nodes in values]
        show(
            f"| {side} | {statistics.median(totals):.1f} | {len(values[0][1])} "
            f"| {statistics.median(sums):.1f} |"
        )
    medians = {
        side: {
            node: statistics.median(nodes[node] for _, nodes in values)
            for node in values[0][1]
        }
        for side, values in runs.items()
    }
    slowest = sorted(medians[sides[0]], key=medians[sides[0]].get, reverse=True)
    show("\n| node | " + " | ".join(f"{side}, median s" for side in sides) + " |")
    show("|---|" + "---:|" * len(sides))
    for node in slowest[:top]:
        cells = [f"{medians[side].get(node, float('nan')):.1f}" for side in sides]
        show(f"| `{node}` | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="quick")
    parser.add_argument("--pipeline", default="training")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    checkouts = {"this project": ROOT}
    if args.before is not None:
        checkouts["before"] = args.before.resolve()
    show(
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}: kedro run --pipelines {args.pipeline} "
        f"--env {args.env}, {args.runs} run(s) a side"
    )
    runs: dict[str, list[tuple[float, dict]]] = {side: [] for side in checkouts}
    for run in range(args.runs):
        order = list(checkouts.items())
        if run % 2:
            order.reverse()
        for side, checkout in order:
            runs[side].append(timed_run(checkout, args.env, args.pipeline))
    show(f"load average at the end {os.getloadavg()[0]:.1f}\n")
    report(runs, args.top)


if __name__ == "__main__":
    main()
