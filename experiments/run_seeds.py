"""Run one candidate of ``experiments/`` at several seeds, one run after the other.

    python experiments/run_seeds.py experiments/p0_control_64px.yml --seeds 1 2 3
    python experiments/run_seeds.py experiments/p0_control_64px.yml --seeds 1 2 \\
        --variant float32 --params model_training.precision=float32

Each seed is one ``kedro run --config`` of the candidate's file with ``seed`` set, in
its own MLflow run named ``<candidate>[_<variant>]_s<seed>`` and tagged ``candidate``,
``seed`` and ``command`` (the line that reproduces it), which
``experiments/summarise.py`` groups by. Quality runs are meant to run alone on the
machine: a second job on 2 cores halves the speed of both.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from mlflow import MlflowClient

PROJECT = Path(__file__).resolve().parents[1]
EXPERIMENT = "brain_tumor_mri"


def parse_overrides(pairs: list[str]) -> dict:
    """``a.b=value`` pairs as a nested dict, each value read as YAML."""
    nested: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        *parents, leaf = key.split(".")
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = yaml.safe_load(value)
    return nested


def merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in, key by key at every depth."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def run_seed(config: Path, name: str, seed: int, overrides: dict, log: Path) -> None:
    """One ``kedro run`` of ``config`` at ``seed``; raises if it fails."""
    spec = yaml.safe_load(config.read_text())
    params = merge(spec["run"].get("params", {}), overrides)
    spec["run"]["params"] = {**params, "seed": seed, "run_name": name}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(spec, handle)
    try:
        with log.open("w") as output:
            subprocess.run(
                ["kedro", "run", "--config", handle.name],
                cwd=PROJECT,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
            )
    finally:
        os.unlink(handle.name)


def tag_run(client: MlflowClient, name: str, candidate: str, tags: dict) -> str:
    """Tag the newest finished run called ``name``; its id."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    run = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.run_name = '{name}'",
        order_by=["start_time DESC"],
        max_results=1,
    )[0]
    for key, value in {"candidate": candidate, **tags}.items():
        client.set_tag(run.info.run_id, key, str(value))
    return run.info.run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", type=Path, help="a candidate's file in experiments/")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variant", help="suffix of the candidate's name")
    parser.add_argument(
        "--params", nargs="*", default=[], help="overrides, a.b=value (YAML values)"
    )
    parser.add_argument("--logs", type=Path, default=Path("data/09_experiments"))
    args = parser.parse_args()
    candidate = args.config.stem + (f"_{args.variant}" if args.variant else "")
    args.logs.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    for seed in args.seeds:
        name = f"{candidate}_s{seed}"
        command = shlex.join(
            [
                "python",
                "experiments/run_seeds.py",
                str(args.config),
                "--seeds",
                str(seed),
                *(["--variant", args.variant] if args.variant else []),
                *(["--params", *args.params] if args.params else []),
            ]
        )
        print(f"{name}: running", flush=True)
        run_seed(
            args.config,
            name,
            seed,
            parse_overrides(args.params),
            args.logs / f"{name}.log",
        )
        run_id = tag_run(client, name, candidate, {"seed": seed, "command": command})
        print(f"{name}: MLflow run {run_id}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
