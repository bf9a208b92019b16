"""Last-layer retraining (DFR, Kirichenko et al. 2023) of a finished training run.

    kedro run --pipelines preprocessing --env scratch \\
        --params seed=1,image_size=[64,64],raw_data_dir=../shared/data/brain_tumor_mri
    python experiments/dfr.py --run-id RUN [--split-dir data/05_model_input]

The backbone of the run's model ``model`` is frozen; its pooled features are taken
for the run's ``val`` split (cached by the preprocessing run above at the run's seed
and size: the script checks that the original head scores the run's logged
``val_accuracy`` and recall of every class on it) and for ``test`` and ``test_dedup``.

``val`` is cut in two halves, stratified by class x source group and seeded by the
run's seed: a logistic-regression head is fitted on half A with every class x source
cell weighted alike, at each strength of ``C_GRID``; the strength is chosen on half
B by the screening criterion (``core/source_groups.screening_score``: the lowest
tumour sensitivity over the source groups with ``HALF_MIN_IMAGES`` tumours or more,
half of ``source_groups.min_images`` as a half holds half the images, with the
specificity guard of ``screening.min_specificity``), against the original head on the
same half B. The head kept is refitted on the whole of ``val`` at that strength and
only measured on ``test`` and ``test_dedup`` (labels never used to choose), with
bootstrap 95 % intervals. Prints one Markdown table row per split.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brain_tumor_mri.core.bootstrap import headline_intervals
from brain_tumor_mri.core.model import OUTPUT_LAYER
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.core.source_groups import screening_score, source_group_metrics
from brain_tumor_mri.datasets.logged_models import load_keras_model, run_model_uri

PROJECT = Path(__file__).resolve().parents[1]
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
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
    return yaml.safe_load((PROJECT / "conf" / "base" / "parameters.yml").read_text())


def load_split(split_dir: Path, split: str) -> dict[str, np.ndarray]:
    return {
        key: np.load(split_dir / split / f"{key}.npy")
        for key in ("images", "labels", "groups")
    }


def screening(
    probabilities: np.ndarray,
    split: dict[str, np.ndarray],
    params: dict[str, Any],
    min_images: int,
) -> float:
    """The screening score of ``probabilities`` on ``split``."""
    names = [entry["name"] for entry in params["classes"]]
    negative = names.index(params["negative_class"])
    groups = source_group_metrics(
        split["labels"],
        probabilities,
        split["groups"],
        names,
        params["negative_class"],
        min_images,
    )
    healthy = split["labels"] == negative
    specificity = float((probabilities[healthy].argmax(1) == negative).mean())
    score = screening_score(
        groups["min_group_tumour_sensitivity"],
        groups["worst_group_accuracy"],
        specificity,
        params["screening"]["min_specificity"],
    )
    return float("nan") if score is None else score


def cell_weights(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """A weight per image such that every class x source cell weighs the same."""
    cells = np.char.add(labels.astype(str), np.asarray(groups, dtype=str))
    _, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return weights * len(weights) / weights.sum()


def strata(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The class x source cell of each image; an image alone in its cell (too few to
    stratify) joins its class's largest cell."""
    cells = np.char.add(labels.astype(str), np.asarray(groups, dtype=str))
    names, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    for image in np.flatnonzero(counts[inverse] == 1):
        same_class = np.flatnonzero(labels == labels[image])
        largest = np.argmax(counts[inverse[same_class]])
        cells[image] = names[inverse[same_class[largest]]]
    return cells


def fit_head(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, c: float):
    head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    head.fit(
        features,
        labels,
        logisticregression__sample_weight=cell_weights(labels, groups),
    )
    return head


def head_probabilities(head, features: np.ndarray, classes: int) -> np.ndarray:
    """The head's probabilities with a column for every class (a class absent from
    its training half gets 0)."""
    probabilities = np.zeros((len(features), classes))
    probabilities[:, head.classes_] = head.predict_proba(features)
    return probabilities


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
    features_of = keras.Model(model.inputs, model.get_layer(OUTPUT_LAYER).input)
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
    features = {
        name: predict_in_batches(features_of, split["images"], BATCH_SIZE)
        for name, split in splits.items()
    }

    half_a, half_b = train_test_split(
        np.arange(len(val["labels"])),
        test_size=0.5,
        stratify=strata(val["labels"], val["groups"]),
        random_state=seed,
    )
    b = {key: values[half_b] for key, values in val.items()}
    half_min = min_images // 2
    scores = {"original": screening(original[half_b], b, params, half_min)}
    for c in C_GRID:
        head = fit_head(
            features["val"][half_a], val["labels"][half_a], val["groups"][half_a], c
        )
        probabilities = head_probabilities(head, features["val"][half_b], len(names))
        scores[c] = screening(probabilities, b, params, half_min)
    chosen = max(C_GRID, key=lambda c: scores[c])
    show(
        f"Run {args.run_id} (seed {seed}): val half B screening score, original head "
        f"{scores['original']:.3f}; DFR by C: "
        + ", ".join(f"{c}: {scores[c]:.3f}" for c in C_GRID)
        + f"; chosen C = {chosen}\n"
    )
    head = fit_head(features["val"], val["labels"], val["groups"], chosen)
    show(
        "| split | head | accuracy | glioma recall | tumour sensitivity | "
        "tumour sensitivity, other sources | tumour specificity |"
    )
    show("|---|---|---|---|---|---|---|")
    for split in MEASURED_SPLITS:
        rows = {
            "original": predict_in_batches(model, splits[split]["images"], BATCH_SIZE),
            f"DFR (C={chosen})": head_probabilities(head, features[split], len(names)),
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
