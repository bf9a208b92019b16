"""Batch inference benchmark: ``kedro run --pipelines inference`` on the official test
images, its prediction step against the bare Keras model, and Grad-CAM's cost.

It builds the project's ResNet-50 classifier at ``--size`` px (random weights: the
weights change no timing), logs it as the ``model`` of a finished run with a
``calibration.json`` that carries the base ``image_preprocessing``, in a throw-away
copy of the project with its own SQLite store, then runs the real ``inference``
pipeline in a Kedro session on ``<data>/Testing`` (394 images), timing each node and
each dataset save (the Grad-CAM overlays are drawn when they are saved). On the images
that run decoded, in the same process, it then times, batch by batch as the node does
(``inference.batch_size``):

- the bare model: ``model.predict_on_batch`` per batch, nothing else;
- the prediction step: ``predict_in_batches`` and the predictions table
  (``prediction_table``), what the node does before Grad-CAM;
- Grad-CAM: the heatmaps (``make_gradcam_heatmaps``) and, from the run, the overlays.

    python benchmarks/inference.py [--size 64] [--repeats 5]
        [--data ../shared/data/brain_tumor_mri]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import mlflow
import yaml
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.gradcam import make_gradcam_heatmaps
from brain_tumor_mri.core.model import build_classifier
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.pipelines.inference.nodes import prediction_table

from support import DATA, ROOT, SMALL_HEAD, project_copy


def show(line: str) -> None:
    print(line, flush=True)  # noqa: T201 (the benchmark's report)


class Profile:
    """A Kedro hook: each node's and each dataset save's wall seconds, and the outputs
    of the decoding node."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.decoded: dict[str, Any] = {}
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node, outputs) -> None:
        self.seconds[node.name] = time.perf_counter() - self._started[node.name]
        self.decoded.update(outputs.get("decoded_inference_images", {}))

    @hook_impl
    def before_dataset_saved(self, dataset_name) -> None:
        self._started[dataset_name] = time.perf_counter()

    @hook_impl
    def after_dataset_saved(self, dataset_name) -> None:
        self.seconds[f"save {dataset_name}"] = (
            time.perf_counter() - self._started[dataset_name]
        )


def log_model(size: int, parameters: dict) -> str:
    """The classifier at ``size`` px as the ``model`` of a finished run; its URI."""
    keras.utils.set_random_seed(0)
    model = build_classifier(
        [size, size], len(class_names(parameters["classes"])), SMALL_HEAD, None
    )
    mlflow.set_experiment("inference_benchmark")
    with mlflow.start_run() as run:
        mlflow.keras.log_model(model, name="model")
        mlflow.log_dict(
            {
                "image_preprocessing": parameters["image_preprocessing"],
                "temperature": 1.3,
                "confidence_threshold": 0.9,
                "target_accuracy": 0.95,
                "target_reached": True,
                "fitted_on": "val",
            },
            "calibration.json",
        )
    return f"runs:/{run.info.run_id}/model"


def best_of(*calls, repeats: int) -> list[float]:
    """The shortest wall seconds of each call over ``repeats`` rounds (after one untimed
    round); each round runs every call once, in turn, so all see the same load."""
    for call in calls:
        call()
    best = [float("inf")] * len(calls)
    for _ in range(repeats):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    parameters = yaml.safe_load((ROOT / "conf/base/parameters.yml").read_text())
    inference = yaml.safe_load(
        (ROOT / "conf/base/parameters_inference.yml").read_text()
    )
    gradcam = parameters["gradcam"]
    batch_size = int(inference["inference"]["batch_size"])
    names = class_names(parameters["classes"])

    project = project_copy("bench_inference_")
    os.chdir(project)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    uri = log_model(args.size, parameters)
    profile = Profile()
    start = time.perf_counter()
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project,
        runtime_params={"input_dir": str(args.data / "Testing"), "model_uri": uri},
    ) as session:
        session._hook_manager.register(profile)
        session.run(pipeline_names=["inference"])
    run_s = time.perf_counter() - start

    from brain_tumor_mri.datasets.logged_models import load_keras_model  # noqa: PLC0415

    model = load_keras_model(uri)
    images = profile.decoded["images"]
    count = len(images)

    def bare() -> None:
        for first in range(0, count, batch_size):
            model.predict_on_batch(images[first : first + batch_size])

    def prediction_step() -> None:
        probabilities = predict_in_batches(model, images, batch_size)
        prediction_table(
            profile.decoded["files"], probabilities, profile.decoded["errors"], names
        )

    probabilities = predict_in_batches(model, images, batch_size)
    bare_s, step_s = best_of(bare, prediction_step, repeats=args.repeats)
    (heatmaps_s,) = best_of(
        lambda: make_gradcam_heatmaps(
            model,
            images,
            probabilities.argmax(-1),
            gradcam["layer"],
            int(gradcam["batch_size"]),
        ),
        repeats=1,
    )
    overlays_s = profile.seconds["save inference_gradcam_overlays"]
    shutil.rmtree(project)

    show(
        f"`kedro run --pipelines inference` on {count} images at {args.size} px: "
        f"{run_s:.1f} s in all (session start-up, model loading, nodes, saves)"
    )
    for name, seconds in profile.seconds.items():
        show(f"- {name}: {seconds:.2f} s")
    show("")
    show(
        "| step | s (best of rounds) | images/s | vs bare model (target >= 0.8) "
        "| ms per image |"
    )
    show("|---|---:|---:|---:|---:|")
    rows = (
        ("bare model, `predict_on_batch` per batch", bare_s),
        ("prediction step (predict + table)", step_s),
        ("Grad-CAM heatmaps", heatmaps_s),
        ("Grad-CAM overlays (drawn when saved, from the run)", overlays_s),
        ("Grad-CAM in all", heatmaps_s + overlays_s),
        ("prediction step with Grad-CAM", step_s + heatmaps_s + overlays_s),
    )
    for name, seconds in rows:
        show(
            f"| {name} | {seconds:.2f} | {count / seconds:.1f} "
            f"| {bare_s / seconds:.2f} | {1000 * seconds / count:.1f} |"
        )


if __name__ == "__main__":
    main()
