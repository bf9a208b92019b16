"""The nodes of the model training pipeline, on a small model and small caches."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from brain_tumor_mri.pipelines.model_training.checkpoints import weights_digest
from brain_tumor_mri.pipelines.model_training.nodes import (
    attach_input_example,
    describe_training_run,
    select_training_setup,
    train_model,
)
from tests.helpers.training_projects import (
    HISTORY_KEYS,
    SELECTION_PARAMS,
    small_classifier,
    training_params,
)

SOURCE_GROUPS = {"rules": [], "default": "other", "min_images": 2}


def small_cache(count: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` random 32x32 images of 4 classes, in two source groups."""
    rng = np.random.default_rng(seed)
    return {
        "images": rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8),
        "labels": np.arange(count) % 4,
        "groups": np.array(["a", "b"] * (count // 2)),
        "paths": np.array([f"image_{seed}_{i}.png" for i in range(count)]),
    }


def train_small_model(checkpoint_dir: Path) -> tuple[keras.Model, dict[str, list]]:
    """``train_model`` with the shipped parameters, cut to 2 epochs, on a small model."""
    params = training_params(
        epochs=2, batch_size=8, verbose=0, checkpoint_dir=str(checkpoint_dir)
    )
    setup = select_training_setup(params, {"weights": None})
    keras.utils.set_random_seed(0)
    model = small_classifier(32)
    return train_model(
        model,
        small_cache(24, 1),
        small_cache(8, 2),
        setup,
        7,
        params,
        SOURCE_GROUPS,
        *SELECTION_PARAMS.values(),
    )


def test_train_model_takes_the_shipped_parameters_and_repeats_itself(tmp_path: Path):
    first, history = train_small_model(tmp_path / "first")
    again, same = train_small_model(tmp_path / "again")
    assert set(history) == HISTORY_KEYS
    assert history["epoch"] == [1, 2]
    assert history == same
    assert weights_digest(first) == weights_digest(again)
    assert first.dtype_policy.name == "float32"
    assert not list((tmp_path / "first").glob("*/*"))


def test_training_setup_and_its_tags_on_cpu():
    setup = select_training_setup(training_params(), {"weights": "imagenet"})
    tags = describe_training_run(setup)
    assert setup["pretrained"] is True
    assert tags["device"] == "CPU"
    assert tags["precision"] in {"float32", "mixed_bfloat16"}
    assert tags["precision_reason"].startswith("auto: the CPU has")
    assert (tags["xla"], tags["pretrained"]) == ("false", "true")
    assert tags["distribution_strategy"] == "DefaultStrategy (1 replica)"
    assert tags["keras_version"] == keras.__version__


def test_input_example_is_the_first_validation_image():
    cache = small_cache(4, 3)
    with_example = attach_input_example(small_classifier(32), cache)
    np.testing.assert_array_equal(with_example.input_example, cache["images"][:1])
