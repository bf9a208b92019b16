"""The ResNet-50 classifier: structure, preprocessing, weights, head and precision."""

from __future__ import annotations

import socket
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from kedro_datasets.tensorflow import TensorFlowModelDataset

from brain_tumor_mri.core.model import (
    BLOCKS_PER_STAGE,
    IMAGENET_FILE,
    ModelConfigError,
    build_classifier,
    layer_stage,
    set_trainable_stages,
    with_precision,
)

SIZE = [32, 32]
HEAD = {
    "pooling": "avg",
    "hidden_units": [],
    "activation": "relu",
    "batch_norm": False,
    "dropout": 0.3,
}
NOTEBOOK_HEAD = {
    "pooling": "flatten",
    "hidden_units": [1024, 512],
    "activation": "relu",
    "batch_norm": True,
    "dropout": 0.5,
}
RESNET50_NOTOP_PARAMETERS = 23_587_712


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_classifier(SIZE, 4, HEAD)


def backbone_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer_stage(layer.name)]


def test_backbone_is_keras_resnet50_inside_a_flat_model(model: keras.Model):
    names = [layer.name for layer in model.layers]
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    for stage, blocks in BLOCKS_PER_STAGE.items():
        stage_blocks = {
            n.split("_")[1] for n in names if n.startswith(f"{stage}_block")
        }
        assert len(stage_blocks) == blocks
        # Bottleneck blocks (1x1, 3x3, 1x1); the first of each stage is a
        # convolution block (projection shortcut), the others identity blocks.
        for block in range(1, blocks + 1):
            assert {f"{stage}_block{block}_{i}_conv" for i in (1, 2, 3)} <= set(names)
            assert (f"{stage}_block{block}_0_conv" in names) == (block == 1)
    assert model.get_layer("conv5_block3_out").output.shape[-1] == 2048
    reference = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(*SIZE, 3)
    )
    assert [layer.name for layer in backbone_layers(model)] == [
        layer.name for layer in reference.layers[1:]
    ]
    backbone = sum(layer.count_params() for layer in backbone_layers(model))
    assert backbone == reference.count_params() == RESNET50_NOTOP_PARAMETERS
    # + the frozen preprocessing (3x3 kernel, 3 biases) + the softmax (2048x4 + 4).
    assert model.count_params() == backbone + 12 + 2048 * 4 + 4


def test_input_and_output_contract(model: keras.Model):
    assert model.input_shape == (None, *SIZE, 3)
    output = model.get_layer("predictions")
    assert output.activation is keras.activations.softmax
    assert model.output_shape == (None, 4)
    images = np.random.default_rng(1).integers(0, 256, (3, *SIZE, 3), dtype=np.uint8)
    probabilities = keras.ops.convert_to_numpy(model(images))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_preprocessing_inside_the_model_is_resnet50_preprocess_input(
    model: keras.Model,
):
    preprocessing = keras.Model(model.input, model.get_layer("preprocess_input").output)
    images = np.random.default_rng(2).integers(0, 256, (2, *SIZE, 3), dtype=np.uint8)
    images[0, 0, 0] = [255, 0, 128]
    expected = keras.applications.resnet50.preprocess_input(images.astype("float32"))
    actual = keras.ops.convert_to_numpy(preprocessing(images))
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_allclose(
        actual[0, 0, 0], [128 - 103.939, -116.779, 255 - 123.68], rtol=1e-6
    )
    assert not model.get_layer("preprocess_input").trainable


def test_model_reloads_with_safe_mode(model: keras.Model, tmp_path: Path):
    dataset = TensorFlowModelDataset(filepath=str(tmp_path / "model.keras"))
    dataset.save(model)
    reloaded = dataset.load()
    images = np.random.default_rng(3).integers(0, 256, (2, *SIZE, 3), dtype=np.uint8)
    np.testing.assert_allclose(reloaded(images), model(images), rtol=1e-6)
    assert reloaded.get_layer("conv5_block3_out") is not None


def write_legacy_h5(model: keras.Model, path: Path) -> None:
    """The Keras 2 weights layout, the one of Keras' ImageNet file."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        file.attrs["backend"] = b"tensorflow"
        file.attrs["keras_version"] = b"2.2.4"
        for layer in model.layers:
            group = file.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
            group.attrs["weight_names"] = names
            for name, value in zip(names, layer.get_weights(), strict=True):
                group.create_dataset(name, data=value)


@pytest.fixture(scope="module")
def source() -> keras.Model:
    """A ResNet-50 without top whose random weights differ from the model's."""
    keras.utils.set_random_seed(7)
    return keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(*SIZE, 3)
    )


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
def test_weights_from_a_local_file(source: keras.Model, tmp_path: Path, suffix: str):
    path = tmp_path / f"resnet50_notop{suffix}"
    if suffix == ".weights.h5":
        source.save_weights(path)
    else:
        write_legacy_h5(source, path)
    keras.utils.set_random_seed(8)
    model = build_classifier(SIZE, 4, HEAD, weights=str(path))
    loaded = 0
    for layer in (layer for layer in source.layers if layer.weights):
        for expected, actual in zip(
            layer.get_weights(), model.get_layer(layer.name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(actual, expected)
            loaded += expected.size
    assert loaded == RESNET50_NOTOP_PARAMETERS


def test_unreadable_weights_file_is_named(tmp_path: Path):
    path = tmp_path / "notes.weights.h5"
    path.write_text("not weights")
    with pytest.raises(ModelConfigError, match="not a ResNet-50 weights file"):
        build_classifier(SIZE, 4, HEAD, weights=str(path))


def internet_reaches_keras_weights() -> bool:
    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=3).close()
    except OSError:
        return False
    return True


def test_imagenet_without_internet_says_where_to_put_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    if internet_reaches_keras_weights():
        pytest.skip("this machine can download the ImageNet weights")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelConfigError) as error:
        build_classifier(SIZE, 4, HEAD, weights="imagenet")
    message = str(error.value)
    assert IMAGENET_FILE in message
    assert str(tmp_path / "models") in message
    assert "null" in message


def test_notebook_head():
    model = build_classifier(SIZE, 4, NOTEBOOK_HEAD)
    head = model.layers[model.layers.index(model.get_layer("conv5_block3_out")) + 1 :]
    assert [type(layer).__name__ for layer in head] == [
        "Flatten",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
    ]
    assert [layer.units for layer in head if isinstance(layer, keras.layers.Dense)] == [
        1024,
        512,
        4,
    ]
    assert {
        layer.rate for layer in head if isinstance(layer, keras.layers.Dropout)
    } == {0.5}


def test_too_small_images_are_refused():
    with pytest.raises(ModelConfigError, match="at least 32x32"):
        build_classifier([16, 16], 4, HEAD)


def test_mixed_precision_keeps_float32_output(model: keras.Model):
    mixed = with_precision(model, "mixed_float16")
    assert mixed.get_layer("conv1_conv").dtype_policy.compute_dtype == "float16"
    assert mixed.get_layer("predictions").dtype_policy.compute_dtype == "float32"
    assert mixed.get_layer("preprocess_input").dtype_policy.compute_dtype == "float32"
    assert mixed.output.dtype == "float32"
    images = np.random.default_rng(4).integers(0, 256, (2, *SIZE, 3), dtype=np.uint8)
    assert keras.ops.convert_to_numpy(mixed(images)).dtype == np.float32


def test_freezing_stages(model: keras.Model):
    model = with_precision(model, "float32")

    def trainable_stages() -> set[str]:
        return {
            layer_stage(layer.name)
            for layer in model.layers
            if layer.trainable and layer.weights and layer_stage(layer.name)
        }

    set_trainable_stages(model, 0, train_batch_norm=False)
    assert trainable_stages() == set()
    assert [w.path for w in model.trainable_weights] == [
        "predictions/kernel",
        "predictions/bias",
    ]
    set_trainable_stages(model, 2, train_batch_norm=False)
    assert trainable_stages() == {"conv4", "conv5"}
    assert not model.get_layer("conv5_block1_1_bn").trainable
    set_trainable_stages(model, "all", train_batch_norm=True)
    assert trainable_stages() == {"conv1", "conv2", "conv3", "conv4", "conv5"}
    assert model.get_layer("conv1_bn").trainable
    assert not model.get_layer("preprocess_input").trainable
    with pytest.raises(ModelConfigError, match="'all' or 0 to 5"):
        set_trainable_stages(model, 6, train_batch_norm=False)
