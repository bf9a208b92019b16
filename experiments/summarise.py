"""Rank the candidates of ``experiments/`` by the screening criterion, over their seeds.

    python experiments/summarise.py                     # every tagged candidate
    python experiments/summarise.py --candidates s00_control_64px s01_acquisition_groups_64px

Reads the MLflow runs that ``experiments/run_seeds.py`` tagged ``candidate`` and
``seed`` (finished runs of the ``brain_tumor_mri`` experiment) and prints three
Markdown tables: one row per candidate (mean and standard deviation over its seeds),
one per run (its seed, kept epoch, wall time, run id and command), and the ranking.

The criterion, declared before the runs (docs/accuracy.md): the highest mean
``val_screening_score`` (first the lowest tumour sensitivity over the source groups
of ``val`` with 20 tumours or more, then ``val``'s worst class x source group
accuracy); where the best two are within the seeds' spread (the larger of their
standard deviations), the simpler recipe, that is the one named first in
``--candidates`` (simplest first). The ``test`` columns are measured, never used.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import defaultdict

from mlflow import MlflowClient

EXPERIMENT = "brain_tumor_mri"
CRITERION = "val_screening_score"
# (header, MLflow metric): chosen-on columns first, then the measured-only ones.
COLUMNS = (
    ("val screening score", CRITERION),
    ("val min-group tumour sensitivity", "val_min_group_tumour_sensitivity"),
    ("val worst-group accuracy", "val_worst_group_accuracy"),
    ("val accuracy", "val_accuracy"),
    ("test accuracy", "test_accuracy"),
    ("test glioma recall", "test_recall_glioma_tumor"),
    ("test tumour sensitivity", "test_tumour_sensitivity"),
    ("test tumour sensitivity, other sources", "test_tumour_sensitivity_other_source"),
    ("test_adapted accuracy", "test_adapted_accuracy"),
    (
        "test_adapted tumour sensitivity, other sources",
        "test_adapted_tumour_sensitivity_other_source",
    ),
    ("test_dedup accuracy", "test_dedup_accuracy"),
)


def show(line: str) -> None:
    print(line)  # noqa: T201 (the script's output)


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(
        values
    ) > 1 else 0.0


def cell(values: list[float]) -> str:
    if not values:
        return "n/a"
    mean, sd = mean_sd(values)
    return f"{mean:.3f} ± {sd:.3f}" if len(values) > 1 else f"{mean:.3f}"


def tagged_runs(client: MlflowClient) -> dict[str, list]:
    """The finished runs of each candidate, by seed."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.candidate != '' and attributes.status = 'FINISHED'",
        order_by=["start_time ASC"],
    )
    by_candidate: dict[str, list] = defaultdict(list)
    for run in runs:
        by_candidate[run.data.tags["candidate"]].append(run)
    for group in by_candidate.values():
        group.sort(key=lambda run: int(run.data.tags.get("seed", 0)))
    return by_candidate


def candidate_table(by_candidate: dict[str, list]) -> None:
    show("| candidate | seeds | " + " | ".join(header for header, _ in COLUMNS) + " |")
    show("|---" * (len(COLUMNS) + 2) + "|")
    for name, runs in by_candidate.items():
        values = [
            [run.data.metrics[metric] for run in runs if metric in run.data.metrics]
            for _, metric in COLUMNS
        ]
        show(f"| {name} | {len(runs)} | " + " | ".join(map(cell, values)) + " |")


def run_table(by_candidate: dict[str, list]) -> None:
    show(
        "| candidate | seed | val screening score | test accuracy | kept epoch "
        "| wall (min) | MLflow run id | command |"
    )
    show("|---|---|---|---|---|---|---|---|")
    for name, runs in by_candidate.items():
        for run in runs:
            metrics = run.data.metrics
            minutes = (run.info.end_time - run.info.start_time) / 60000
            show(
                f"| {name} | {run.data.tags.get('seed', '?')} "
                f"| {metrics.get(CRITERION, float('nan')):.3f} "
                f"| {metrics.get('test_accuracy', float('nan')):.3f} "
                f"| {metrics.get('kept_epoch', float('nan')):.0f} | {minutes:.0f} "
                f"| `{run.info.run_id}` | `{run.data.tags.get('command', '')}` |"
            )


def ranking(by_candidate: dict[str, list], simplest_first: list[str]) -> None:
    """The candidates by mean criterion, and the choice the criterion makes."""
    scores = {
        name: mean_sd(
            [
                run.data.metrics[CRITERION]
                for run in runs
                if CRITERION in run.data.metrics
            ]
        )
        for name, runs in by_candidate.items()
        if any(CRITERION in run.data.metrics for run in runs)
    }
    ranked = sorted(scores, key=lambda name: scores[name][0], reverse=True)
    for place, name in enumerate(ranked, start=1):
        mean, sd = scores[name]
        show(f"{place}. {name}: {CRITERION} {mean:.3f} ± {sd:.3f}")
    if len(ranked) < 2:
        return
    best, runner_up = ranked[:2]
    spread = max(scores[best][1], scores[runner_up][1])
    chosen = best
    if scores[best][0] - scores[runner_up][0] <= spread and simplest_first:
        order = {name: i for i, name in enumerate(simplest_first)}
        chosen = min((best, runner_up), key=lambda name: order.get(name, len(order)))
        show(
            f"The best two are within the seeds' spread ({spread:.3f}): "
            f"the simpler recipe, {chosen}."
        )
    show(f"Chosen: {chosen}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--candidates", nargs="*", default=[], help="these only, simplest first"
    )
    args = parser.parse_args()
    client = MlflowClient(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    by_candidate = tagged_runs(client)
    if args.candidates:
        by_candidate = {
            name: by_candidate[name] for name in args.candidates if name in by_candidate
        }
    candidate_table(by_candidate)
    show("")
    run_table(by_candidate)
    show("")
    ranking(by_candidate, args.candidates)


if __name__ == "__main__":
    main()
