"""Last-layer retraining (DFR, Kirichenko et al. 2023) of a finished training run.

    kedro run --pipelines preprocessing --env scratch \\
        --params seed=1,image_size=[64,64],raw_data_dir=../shared/data/brain_tumor_mri
    python experiments/dfr.py --run-id RUN [--split-dir data/05_model_input]

The backbone of the run's model ``model`` is frozen; its pooled features are taken
for the run's ``val`` split (cached by the preprocessing run above at the run's seed
and size: the script checks that the original head scores the run's logged
``val_accuracy`` and recall of every class on it).

``val`` is cut in two halves, stratified by class x source group and seeded by the
run's seed: a logistic-regression head is fitted on half A with every class x source
cell weighted alike, at each strength of ``evaluation.last_layer_retraining.strengths``
(conf/base); the strength is chosen on half B by the screening criterion
(``core/source_groups.screening_scorer``: the lowest tumour sensitivity over the
source groups with half of ``source_groups.min_images`` tumours or more, as a half
holds half the images, with the specificity guard of ``screening.min_specificity``),
against the original head on the same half B. The head kept is refitted on the whole
of ``val`` at that strength, put in the place of the model's output layer and only
measured on ``test`` and ``test_dedup`` (labels never used to choose), with bootstrap
95 % intervals. Prints one Markdown table row per split. The evaluation pipeline does
the same (``core/last_layer.py``) in every training run since it has
``evaluation.last_layer_retraining`` (its ``test_dfr`` rows); this script is for the
runs made before.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import yaml

from brain_tumor_mri.core.bootstrap import headline_intervals
from brain_tumor_mri.core.last_layer import (
    penultimate_features,
    refit_output_layer,
    with_output_layer,
)
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.core.source_groups import screening_scorer
from brain_tumor_mri.datasets.logged_models import load_keras_model, run_model_uri

PROJECT = Path(__file__).resolve().parents[1]
BATCH_SIZE = 64
MEASURED_SPLITS = ("test", "test_dedup")
RESAMPLES = 1000


COLUMNS = (
    "accuracy",
    "recall_glioma_tumor",
    "tumour_sensitivity",
    "tumour_sensitivity_other_source",
    "tumour_specificity",
)


def interval(value: dict[str, float | None] | None) -> str:
    """An estimate with its bootstrap interval, as a table cell."""
    if value is None or value["estimate"] is None:
        return "n/a"
    if value["low"] is None:
        return f"{value['estimate']:.3f}"
    return f"{value['estimate']:.3f} ({value['low']:.2f}-{value['high']:.2f})"


def show(line: str) -> None:
    print(line, flush=True)  # noqa: T201 (the script's output)


def base_parameters() -> dict[str, Any]:
    """Every parameter group of conf/base."""
    params = {}
    for path in sorted((PROJECT / "conf" / "base").glob("parameters*.yml")):
        params.update(yaml.safe_load(path.read_text()) or {})
    return params


def load_split(split_dir: Path, split: str) -> dict[str, np.ndarray]:
    return {
        key: np.load(split_dir / split / f"{key}.npy")
        for key in ("images", "labels", "groups")
    }


def scores_as_logged(
    probabilities: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    logged: dict[str, float],
) -> bool:
    """Whether these images are as many as the run's ``val`` split and its model
    scores on them the accuracy and the recall of every class that the run logged."""
    predicted = probabilities.argmax(1)
    measured = {
        "val_n_samples": len(labels),
        "val_accuracy": (predicted == labels).mean(),
    }
    for index, name in enumerate(names):
        if (labels == index).any():
            measured[f"val_recall_{name}"] = (
                predicted[labels == index] == index
            ).mean()
    return all(
        np.isclose(value, logged.get(key, np.nan)) for key, value in measured.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--split-dir", type=Path, default=Path("data/05_model_input"))
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"),
    )
    args = parser.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    params = base_parameters()
    run = mlflow.get_run(args.run_id)
    seed = int(run.data.params["seed"])
    names = [entry["name"] for entry in params["classes"]]
    min_images = params["source_groups"]["min_images"]

    model = load_keras_model(run_model_uri(args.run_id))
    splits = {
        name: load_split(args.split_dir, name) for name in ("val", *MEASURED_SPLITS)
    }
    val = splits["val"]
    original = predict_in_batches(model, val["images"], BATCH_SIZE)
    if not scores_as_logged(original, val["labels"], names, run.data.metrics):
        raise SystemExit(
            f"{args.split_dir / 'val'} is not run {args.run_id}'s val split: cache it "
            f"with the run's seed ({seed}) and image_size first (see the docstring)."
        )
    strengths = [
        float(c) for c in params["evaluation"]["last_layer_retraining"]["strengths"]
    ]
    refit = refit_output_layer(
        penultimate_features(model, val["images"], BATCH_SIZE),
        val["labels"],
        val["groups"],
        original,
        strengths,
        screening_scorer(
            names,
            params["negative_class"],
            min_images // 2,
            params["screening"]["min_specificity"],
        ),
        seed,
    )
    scores = refit["half_b_scores"]
    show(
        f"Run {args.run_id} (seed {seed}): val half B screening score, original head "
        f"{refit['half_b_score_original']:.3f}; DFR by C: "
        + ", ".join(f"{c}: {scores[c]:.3f}" for c in strengths)
        + f"; chosen C = {refit['strength']}\n"
    )
    refitted = with_output_layer(model, refit["kernel"], refit["bias"])
    show(
        "| split | head | accuracy | glioma recall | tumour sensitivity | "
        "tumour sensitivity, other sources | tumour specificity |"
    )
    show("|---|---|---|---|---|---|---|")
    for split in MEASURED_SPLITS:
        images = splits[split]["images"]
        rows = {
            "original": predict_in_batches(model, images, BATCH_SIZE),
            f"DFR (C={refit['strength']})": predict_in_batches(
                refitted, images, BATCH_SIZE
            ),
        }
        for label, probabilities in rows.items():
            ci = headline_intervals(
                splits[split]["labels"],
                probabilities,
                splits[split]["groups"],
                names,
                params["negative_class"],
                min_images,
                RESAMPLES,
                0.95,
                seed,
            )
            show(
                f"| `{split}` | {label} | "
                + " | ".join(interval(ci.get(name)) for name in COLUMNS)
                + " |"
            )


if __name__ == "__main__":
    main()
