"""Training throughput benchmark: the project's tf.data pipeline vs its alternatives.

Three ways to feed the same model (ResNet-50 classifier, same image size, batch,
precision and XLA setting), each in a fresh Python process:

- ``tfdata``: the project's pipeline (memory-mapped uint8 cache, shuffle, batch,
  augmentation, prefetch), as the training node uses it;
- ``synthetic``: one in-memory batch repeated (no input cost: the ceiling);
- ``notebook``: the original notebook's way, the whole split as a float32 array in
  memory and ``model.fit`` on NumPy.

Each reports steady-state images/s (after ``--warmup`` steps, so without tracing and
compilation) and its process' peak resident memory. Without ``--cache``, the
preprocessing pipeline first caches the full data set at ``--size`` in a temporary
project copy.

    python benchmarks/training_throughput.py [--data ../shared/data/brain_tumor_mri]
        [--size 64] [--batch 32] [--warmup 5] [--steps 10]
        [--precision float32] [--xla] [--cache data/05_model_input/train]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.core.model import build_classifier, with_precision
from brain_tumor_mri.datasets import NumpyArraysDataset
from brain_tumor_mri.pipelines.model_training.tf_data import training_dataset

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("synthetic", "tfdata", "notebook")
# The augmentation of conf/base/parameters_model_training.yml.
AUGMENTATION = {
    "flip": "horizontal",
    "rotation": 0.05,
    "zoom": 0.1,
    "brightness": 0.1,
    "contrast": 0.1,
}


def show(line: str) -> None:
    print(line)  # noqa: T201 (the benchmark's report)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """CPU model and count, and the GPUs if any."""
    cpu = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpus = (
        subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if shutil.which("nvidia-smi")
        else ""
    )
    return f"{cpu}, {os.cpu_count()} CPUs" + (f", GPU: {gpus}" if gpus else ", no GPU")


def make_cache(data: Path, size: int, workdir: Path) -> Path:
    """Run the preprocessing pipeline on ``data`` at ``size`` in a project copy."""
    project = workdir / "project"
    shutil.copytree(ROOT / "conf", project / "conf")
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("*.egg-info")
    )
    shutil.copy2(ROOT / "pyproject.toml", project)
    (project / "conf" / "local").mkdir(exist_ok=True)
    (project / "conf" / "local" / "parameters.yml").write_text(
        f"image_size: [{size}, {size}]\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "preprocessing"]
        + ["--params", f"raw_data_dir={data}"],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return project / "data" / "05_model_input" / "train"


def measure(variant: str, args: argparse.Namespace) -> dict:
    """Train for ``warmup + steps`` batches; images/s over the last ``steps``."""
    keras.utils.set_random_seed(0)
    cache = NumpyArraysDataset(path=args.cache).load()
    size = cache["images"].shape[1:3]
    num_classes = 4
    model = with_precision(
        build_classifier(size, num_classes, {"pooling": "avg", "dropout": 0.3}),
        args.precision,
    )
    optimizer = keras.optimizers.Adam(1e-3)
    if args.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=args.xla,
    )

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.ends.append(time.perf_counter())
            if len(self.ends) == args.warmup + args.steps:
                self.model.stop_training = True

    timer = Timer()
    total = args.warmup + args.steps
    if variant == "synthetic":
        images = tf.random.uniform((args.batch, *size, 3), 0, 255)
        labels = tf.one_hot(tf.range(args.batch) % num_classes, num_classes)
        data = tf.data.Dataset.from_tensors((images, labels)).repeat()
        model.fit(data, steps_per_epoch=total, callbacks=[timer], verbose=0)
    elif variant == "tfdata":
        data = training_dataset(
            cache,
            num_classes,
            args.batch,
            0,
            augmentation=AUGMENTATION,
            epochs=range(99),
        )
        model.fit(data, steps_per_epoch=total, callbacks=[timer], verbose=0)
    else:
        images = np.asarray(cache["images"], dtype=np.float32)
        labels = keras.utils.to_categorical(cache["labels"], num_classes)
        model.fit(images, labels, batch_size=args.batch, callbacks=[timer], verbose=0)
    measured = timer.ends[args.warmup :]
    seconds = measured[-1] - timer.ends[args.warmup - 1]
    return {
        "variant": variant,
        "images_per_s": args.batch * len(measured) / seconds,
        "steps_measured": len(measured),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared/data/brain_tumor_mri"
    )
    parser.add_argument(
        "--cache", type=Path, help="a cached split (folder of .npy files)"
    )
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:
        show(json.dumps(measure(args.variant, args)))
        return

    with tempfile.TemporaryDirectory() as workdir:
        if args.cache is None:
            args.cache = make_cache(args.data.resolve(), args.size, Path(workdir))
        options = [
            f"--cache={args.cache}",
            f"--batch={args.batch}",
            f"--warmup={args.warmup}",
            f"--steps={args.steps}",
            f"--precision={args.precision}",
            *(["--xla"] if args.xla else []),
        ]
        results = {}
        for variant in VARIANTS:
            done = subprocess.run(
                [sys.executable, __file__, f"--variant={variant}", *options],
                check=False,
                capture_output=True,
                text=True,
            )
            if done.returncode:
                sys.exit(f"The {variant} variant failed:\n{done.stderr[-3000:]}")
            results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    show(
        f"machine: {machine()}; {args.size}x{args.size} images, batch {args.batch}, "
        f"precision {args.precision}, XLA {'on' if args.xla else 'off'}, "
        f"{args.steps} steps measured after {args.warmup}"
    )
    for result in results.values():
        show(
            f"{result['variant']:>10}: {result['images_per_s']:7.2f} images/s, "
            f"peak RSS {result['peak_rss_mib']:7.0f} MiB"
        )
    tfdata, synthetic, notebook = (
        results[v] for v in ("tfdata", "synthetic", "notebook")
    )
    show(
        f"tf.data / synthetic throughput: {tfdata['images_per_s'] / synthetic['images_per_s']:.2f}; "
        f"tf.data / notebook throughput: {tfdata['images_per_s'] / notebook['images_per_s']:.2f}; "
        f"tf.data / notebook peak memory: {tfdata['peak_rss_mib'] / notebook['peak_rss_mib']:.2f}"
    )


if __name__ == "__main__":
    main()
