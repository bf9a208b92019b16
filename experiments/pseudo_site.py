"""Site adaptation on a pseudo-site, without the target's labels for choosing.

    python experiments/pseudo_site.py --run-id RUN [--val-dir data/05_model_input/val]

Takes the Keras model ``model`` that a finished training run logged and its
``calibration.json``, rebuilds that run's validation split from the cached split
(``images``, ``labels``, ``groups``), and takes its images of the source group
``other_source`` as a pseudo-site: images from other scanners than most of training,
whose labels are known. Adapts the model to them, no label used, with no adaptation,
``adabn``, and ``tent`` after 1, 3 and 10 steps (``conf/base``'s
``site_adaptation`` settings otherwise), and prints a Markdown table of accuracy,
tumour sensitivity, predicted class mix and the share flagged ``needs_review``; then
how the calibration behaves: the ECE and the accuracy and coverage at the review
threshold, with the run's temperature and threshold kept. The labels are used only
to score, never to choose.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import yaml

from brain_tumor_mri.core.adaptation import adapt_batch_norm, tent_adapt
from brain_tumor_mri.core.calibration import apply_temperature, needs_review
from brain_tumor_mri.core.metrics import expected_calibration_error, reliability_bins
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.datasets.logged_models import (
    load_keras_model,
    load_run_calibration,
    run_model_uri,
)

PROJECT = Path(__file__).resolve().parents[1]
PSEUDO_SITE = "other_source"
TENT_STEPS = (1, 3, 10)


def show(line: str) -> None:
    print(line)  # noqa: T201 (the script's output)


def parameters() -> dict[str, Any]:
    """The shared and site adaptation parameters of ``conf/base``."""
    base = PROJECT / "conf" / "base"
    shared = yaml.safe_load((base / "parameters.yml").read_text())
    site = yaml.safe_load((base / "parameters_site_adaptation.yml").read_text())
    return {**shared, **site}


def scores(
    probabilities: np.ndarray,
    labels: np.ndarray,
    calibration: dict[str, Any],
    negative: int,
) -> dict[str, Any]:
    """Accuracy, tumour sensitivity, class mix, share flagged, ECE and the accuracy
    and coverage at the review threshold, of calibrated probabilities."""
    calibrated = apply_temperature(probabilities, calibration["temperature"])
    predicted = calibrated.argmax(1)
    tumour = labels != negative
    flagged = needs_review(calibrated, calibration)
    kept = ~flagged
    return {
        "accuracy": float((predicted == labels).mean()),
        "tumour sensitivity": float((predicted[tumour] != negative).mean()),
        "class mix": np.bincount(predicted, minlength=calibrated.shape[1])
        / len(predicted),
        "flagged": float(flagged.mean()),
        "ECE": expected_calibration_error(reliability_bins(labels, calibrated, 15)),
        "accuracy at threshold": float((predicted[kept] == labels[kept]).mean())
        if kept.any()
        else float("nan"),
        "coverage at threshold": float(kept.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--val-dir", default="data/05_model_input/val")
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"),
    )
    args = parser.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    params = parameters()
    site = params["site_adaptation"]
    names = [entry["name"] for entry in params["classes"]]
    negative = names.index(params["negative_class"])

    model = load_keras_model(run_model_uri(args.run_id))
    calibration = load_run_calibration(args.run_id)
    val = {
        key: np.load(Path(args.val_dir) / f"{key}.npy")
        for key in ("images", "labels", "groups")
    }
    chosen = val["groups"] == PSEUDO_SITE
    images, labels = val["images"][chosen], val["labels"][chosen]
    if images.shape[1:3] != tuple(model.input_shape[1:3]):
        raise SystemExit(
            f"The cached val images are {images.shape[1:3]}, the model takes "
            f"{model.input_shape[1:3]}: cache val at the run's image_size first."
        )

    adabn = adapt_batch_norm(model, images, site["batch_size"])
    models = {"none": model, "adabn": adabn}
    for steps in TENT_STEPS:
        models[f"tent, {steps} step{'s' * (steps > 1)}"] = tent_adapt(
            adabn,
            images,
            batch_size=site["batch_size"],
            steps=steps,
            learning_rate=site["tent"]["learning_rate"],
            diversity_weight=site["tent"]["diversity_weight"],
            seed=params["seed"],
        )[0]
    results = {
        method: scores(
            predict_in_batches(adapted, images, site["batch_size"]),
            labels,
            calibration,
            negative,
        )
        for method, adapted in models.items()
    }
    truth = np.bincount(labels, minlength=len(names)) / len(labels)
    show(
        f"Pseudo-site: the {len(labels)} `{PSEUDO_SITE}` images of run "
        f"{args.run_id}'s val (true class mix "
        + ", ".join(f"{n} {s:.2f}" for n, s in zip(names, truth, strict=True))
        + "); temperature and review threshold of the run kept.\n"
    )
    columns = (
        "accuracy",
        "tumour sensitivity",
        "flagged",
        "ECE",
        "accuracy at threshold",
        "coverage at threshold",
    )
    show(
        "| method | "
        + " | ".join(columns)
        + " | class mix ("
        + ", ".join(names)
        + ") |"
    )
    show("|---" * (len(columns) + 2) + "|")
    for method, result in results.items():
        show(
            f"| {method} | "
            + " | ".join(f"{result[column]:.3f}" for column in columns)
            + " | "
            + ", ".join(f"{share:.2f}" for share in result["class mix"])
            + " |"
        )


if __name__ == "__main__":
    main()
