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

With ``--policies float32 mixed_bfloat16`` it compares precision policies instead:
the project's pipeline (``tfdata``) under each, in fresh processes, with the ratio of
images/s to the first policy, the training FLOP rate (3 x the forward pass's
multiply-adds x 2, counted from the model's convolution and dense layers) and its
share of this CPU's peak, measured as the FLOP rate of a large matrix product in
the policy's compute dtype.
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

from support import SMALL_HEAD

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


def training_flops_per_image(model: keras.Model) -> float:
    """FLOPs of one training step per image: 3 x the forward pass (the backward pass
    costs about twice the forward), counting the convolutions and dense layers."""
    forward = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            kernel_h, kernel_w = layer.kernel_size
            channels_in = layer.input.shape[-1]
            forward += (
                2.0 * height * width * kernel_h * kernel_w * channels_in * channels_out
            )
        elif isinstance(layer, keras.layers.Dense):
            forward += 2.0 * layer.input.shape[-1] * layer.units
        elif isinstance(layer, keras.Model):
            forward += training_flops_per_image(layer) / 3
    return 3 * forward


def peak_matmul_flops(dtype: str, size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a ``size`` x ``size`` matrix product in ``dtype`` on this machine."""
    a = tf.random.uniform((size, size), dtype="float32")
    a = tf.cast(a, dtype)
    product = tf.function(lambda x: tf.matmul(x, x))
    product(a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        product(a).numpy()
    return 2.0 * size**3 * repeats / (time.perf_counter() - start)


def compute_dtype(policy: str) -> str:
    return {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(
        policy, "float32"
    )


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
        build_classifier(size, num_classes, SMALL_HEAD),
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
    result = {
        "variant": variant,
        "precision": args.precision,
        "images_per_s": args.batch * len(measured) / seconds,
        "steps_measured": len(measured),
        "peak_rss_mib": peak_rss_mib(),
    }
    if args.policies:
        result["train_flops_per_image"] = training_flops_per_image(model)
        result["peak_flops"] = peak_matmul_flops(compute_dtype(args.precision))
    return result


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
    parser.add_argument(
        "--policies", nargs="+", help="compare these precision policies (tfdata)"
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:
        show(json.dumps(measure(args.variant, args)))
        return
    if args.policies:
        compare_policies(args)
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


def run_variant(variant: str, precision: str, args: argparse.Namespace) -> dict:
    """``measure`` in a fresh process."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            f"--variant={variant}",
            f"--cache={args.cache}",
            f"--batch={args.batch}",
            f"--warmup={args.warmup}",
            f"--steps={args.steps}",
            f"--precision={precision}",
            *(["--xla"] if args.xla else []),
            *(["--policies", *args.policies] if args.policies else []),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"The {variant} variant failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_policies(args: argparse.Namespace) -> None:
    """The project's pipeline under each of ``args.policies``, one table."""
    with tempfile.TemporaryDirectory() as workdir:
        if args.cache is None:
            args.cache = make_cache(args.data.resolve(), args.size, Path(workdir))
        results = [run_variant("tfdata", policy, args) for policy in args.policies]
    show(
        f"machine: {machine()}; {args.size}x{args.size} images, batch {args.batch}, "
        f"XLA {'on' if args.xla else 'off'}, {args.steps} steps measured after "
        f"{args.warmup}; training FLOPs per image "
        f"{results[0]['train_flops_per_image'] / 1e9:.2f} G"
    )
    show(
        "| policy | images/s | vs first | training GFLOP/s | peak matmul GFLOP/s "
        "(its dtype) | share of peak |"
    )
    show("|---|---|---|---|---|---|")
    for result in results:
        rate = result["images_per_s"] * result["train_flops_per_image"]
        show(
            f"| {result['precision']} | {result['images_per_s']:.1f} "
            f"| {result['images_per_s'] / results[0]['images_per_s']:.2f}x "
            f"| {rate / 1e9:.0f} | {result['peak_flops'] / 1e9:.0f} "
            f"| {rate / result['peak_flops']:.0%} |"
        )


if __name__ == "__main__":
    main()
