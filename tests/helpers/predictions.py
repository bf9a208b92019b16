"""Small models, cached splits and evaluation parameters shared by the evaluation and
reporting tests."""

from __future__ import annotations

import keras
import numpy as np

from tests.helpers.raw_folders import CLASSES

NAMES = [c["name"] for c in CLASSES]
# The evaluation group of conf/base/parameters_evaluation.yml, with 10 ECE bins and
# 200 bootstrap resamples.
EVALUATION = {
    "batch_size": 32,
    "tta_flip": False,
    "ece_bins": 10,
    "review": {"target_accuracy": 0.95},
    "adapt_batch_norm": False,
    "tent": {
        "enabled": False,
        "steps": 1,
        "learning_rate": 0.001,
        "diversity_weight": 1.0,
    },
    "last_layer_retraining": {
        "enabled": True,
        "strengths": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    },
    "bootstrap": {"resamples": 200, "confidence": 0.95},
}
# The shared seed (conf/base/parameters.yml) that evaluation seeds its bootstrap with.
SEED = 42
# The shared screening group as conf/base/parameters.yml ships it.
SCREENING = {"min_specificity": 0.75}
# A head of model_construction (every key of its schema): pooling into the softmax.
SMALL_HEAD = {
    "pooling": "avg",
    "hidden_units": [],
    "activation": "relu",
    "batch_norm": False,
    "dropout": 0.0,
}
# The shared gradcam group as conf/base/parameters.yml ships it.
GRADCAM = {"layer": "conv5_block3_out", "alpha": 0.4, "batch_size": 16}
CALIBRATION = {
    "temperature": 1.5,
    "confidence_threshold": 0.3,
    "target_accuracy": 0.95,
    "target_reached": True,
}


def split_cache(count: int, size: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """A cached split of ``count`` random images, the classes in turn, two source
    groups."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int64) % 4
    return {
        "images": rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8),
        "labels": labels,
        "paths": np.array(
            [f"Testing/{NAMES[k]}/{i}.jpg" for i, k in enumerate(labels)]
        ),
        "groups": np.array(["512px_source", "other_source"] * (count // 2))[:count],
    }


def small_model() -> keras.Model:
    """A tiny random four-class CNN on 32x32 images."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)
