"""The hardware a training run uses: accelerators, precision, XLA and tf.distribute,
and the model copies made for it and back for one device."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from brain_tumor_mri.core.model import set_trainable_stages, with_precision
from brain_tumor_mri.framework.distribution import (
    distribution_strategy,
    strategy_description,
)
from brain_tumor_mri.framework.multi_worker import tf_config_workers


def gpu_names() -> list[str]:
    """The model name of every GPU TensorFlow sees (empty on CPU)."""
    return [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def device_description(gpus: list[str]) -> str:
    """``CPU``, the GPU's name, or ``2 x <name>`` for several GPUs."""
    if not gpus:
        return "CPU"
    return ", ".join(
        name if count == 1 else f"{count} x {name}"
        for name, count in Counter(gpus).items()
    )


# CPU flags of native bfloat16 arithmetic (Linux ``/proc/cpuinfo``): AVX512-BF16
# (Cooper Lake, Zen 4 and later) and AMX-BF16 (Sapphire Rapids and later), which
# oneDNN uses for TensorFlow's bfloat16 matrix multiplications and convolutions.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CPU_INFO = Path("/proc/cpuinfo")


def cpu_flags(cpu_info: Path = CPU_INFO) -> frozenset[str]:
    """The feature flags of this machine's CPU (empty where ``/proc/cpuinfo`` is absent)."""
    try:
        text = cpu_info.read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def automatic_precision(gpus: int, flags: frozenset[str]) -> tuple[str, str]:
    """The precision policy that ``precision: auto`` picks, and why.

    ``mixed_float16`` on a GPU (tensor cores); ``mixed_bfloat16`` on a CPU with native
    bfloat16 arithmetic (1.4x to 1.5x the images per second of float32 on this
    project's 2-core machine, docs/benchmarks.md); ``float32`` on other CPUs, where
    bfloat16 is emulated and slower.
    """
    if gpus:
        return "mixed_float16", "a GPU is present"
    native = sorted(BF16_CPU_FLAGS & flags)
    if native:
        return "mixed_bfloat16", f"the CPU has native bfloat16 ({', '.join(native)})"
    return "float32", "the CPU has no native bfloat16 (no avx512_bf16 or amx_bf16)"


def with_batch_norm_synchronized(model: keras.Model, synchronized: bool) -> keras.Model:
    """A copy whose BatchNormalization layers use the statistics of the global batch.

    With several replicas, each normalises its own part of a batch and keeps its own
    moving averages unless ``synchronized``: then every replica (of every worker)
    uses the whole batch's mean and variance, as one device would, and the replicas
    end with the same weights. ``synchronized=False`` gives a model for one device.
    """
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["synchronized"] = synchronized
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def replica_model(model: keras.Model, precision: str, replicas: int) -> keras.Model:
    """An uncompiled copy that trains at ``precision`` on ``replicas`` replicas, its
    BatchNormalization synchronized where there are several."""
    copy = with_precision(model, precision)
    if replicas > 1:
        copy = with_batch_norm_synchronized(copy, True)
    return copy


def single_device_model(model: keras.Model, replicas: int) -> keras.Model:
    """The float32 copy for one device of a model that ``replica_model`` made and
    training changed, every layer trainable."""
    copy = with_precision(model, "float32")
    if replicas > 1:
        copy = with_batch_norm_synchronized(copy, False)
    set_trainable_stages(copy, "all", train_batch_norm=True)
    return copy


def resolve_training_setup(
    *,
    precision: str,
    jit_compile: str | bool,
    deterministic: str | bool,
    distribution: str,
) -> dict[str, Any]:
    """Turn ``auto`` settings into the device, precision, XLA and strategy to use.

    On a GPU, mixed float16 and XLA are on by default; on CPU, XLA is off, ops are
    deterministic, and the precision is bfloat16 where the CPU computes it natively
    (``automatic_precision``). Several GPUs use ``MirroredStrategy``; a ``TF_CONFIG`` with
    several workers uses ``MultiWorkerMirroredStrategy``. The values were checked
    with the other parameters (``params.ModelTrainingParams``).
    """
    gpus = gpu_names()
    if distribution == "auto":
        if tf_config_workers() > 1:
            distribution = "multi_worker"
        elif len(gpus) > 1:
            distribution = "mirrored"
        else:
            distribution = "default"
    strategy = distribution_strategy(distribution)
    if precision == "auto":
        precision, reason = automatic_precision(len(gpus), cpu_flags())
        precision_reason = f"auto: {reason}"
    else:
        precision_reason = "set in model_training.precision"
    return {
        "device": device_description(gpus),
        "gpus": len(gpus),
        "precision": precision,
        "precision_reason": precision_reason,
        "jit_compile": bool(gpus) if jit_compile == "auto" else jit_compile,
        "deterministic": not gpus if deterministic == "auto" else deterministic,
        "distribution": distribution,
        "strategy": strategy_description(strategy),
        "replicas": strategy.num_replicas_in_sync,
    }


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow; make TensorFlow ops deterministic if asked."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
