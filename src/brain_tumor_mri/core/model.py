"""The ResNet-50 classifier: Keras' ResNet-50 backbone with its preprocessing and a head.

The model is flat: the backbone's layers (``conv1_conv`` ... ``conv5_block3_out``) are
layers of the model itself, so that Grad-CAM can reach them with ``model.get_layer``.
It holds only built-in Keras layers, so it loads with ``safe_mode=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from brain_tumor_mri.core.images.limits import MIN_IMAGE_SIDE

PREPROCESSING_LAYER = "preprocess_input"
OUTPUT_LAYER = "predictions"
FEATURES_LAYER = "conv5_block3_out"

# Stages of ResNet-50 from the input up; a layer's stage is the prefix of its name
# (``pool1_pool`` belongs to the stem, ``conv1``).
STAGES = ("conv1", "conv2", "conv3", "conv4", "conv5")
BLOCKS_PER_STAGE = {"conv2": 3, "conv3": 4, "conv4": 6, "conv5": 3}

# Layers that compute in float32 whatever the precision policy: the input preprocessing
# (pixel values up to 255 minus the mean) and the softmax output.
FLOAT32_LAYERS = (PREPROCESSING_LAYER, OUTPUT_LAYER)

# The mode that Keras' ResNet-50 weights were trained with (``preprocess_input``,
# "caffe"): RGB to BGR, then minus the ImageNet mean of each BGR channel.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# The file, address and MD5 that keras.applications.ResNet50(weights="imagenet",
# include_top=False) uses.
IMAGENET_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    + IMAGENET_FILE
)
IMAGENET_HASH = "4d473c1dd8becc155b73f8504c6f6626"

POOLING = {
    "avg": keras.layers.GlobalAveragePooling2D,
    "max": keras.layers.GlobalMaxPooling2D,
    "flatten": keras.layers.Flatten,
}


class ModelConfigError(ValueError):
    """A model parameter that cannot be used, with what to set instead.

    Rules that the parameters alone decide (pooling, dropout, a weights path that
    exists, ...) are checked before the run, by ``pipelines/model_construction/params.py``; this is for
    what only building the model finds out.
    """


def preprocessing_layer() -> keras.layers.Conv2D:
    """ResNet-50's ``preprocess_input`` as a frozen 1x1 convolution.

    Its kernel swaps the red and blue channels and its bias subtracts the ImageNet
    mean, which is exactly what ``keras.applications.resnet50.preprocess_input``
    computes, with a built-in layer that saves and loads without custom code.
    """
    layer = keras.layers.Conv2D(
        3, 1, name=PREPROCESSING_LAYER, trainable=False, dtype="float32"
    )
    layer.build((None, None, None, 3))
    rgb_to_bgr = np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)
    layer.set_weights([rgb_to_bgr, -np.array(CAFFE_MEAN_BGR, dtype="float32")])
    return layer


def classification_head(
    features: keras.KerasTensor, num_classes: int, params: Mapping[str, Any]
) -> keras.KerasTensor:
    """Pooling, optional dense blocks (Dense, BatchNorm, Dropout), dropout and softmax.

    ``params`` has every key of the ``head`` group (``pooling``, ``hidden_units``,
    ``activation``, ``batch_norm``, ``dropout``): their defaults live in ``conf/`` and
    the schema only."""
    pooling = params["pooling"]
    x = POOLING[pooling](name=f"head_{pooling}")(features)
    for index, units in enumerate(params["hidden_units"], start=1):
        x = keras.layers.Dense(
            int(units), activation=params["activation"], name=f"head_dense_{index}"
        )(x)
        if params["batch_norm"]:
            x = keras.layers.BatchNormalization(name=f"head_bn_{index}")(x)
        x = keras.layers.Dropout(params["dropout"], name=f"head_dropout_{index}")(x)
    if not params["hidden_units"]:
        x = keras.layers.Dropout(params["dropout"], name="head_dropout")(x)
    return keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name=OUTPUT_LAYER
    )(x)


def build_classifier(
    image_size: Iterable[int],
    num_classes: int,
    head: Mapping[str, Any],
    weights: str | None = None,
) -> keras.Model:
    """ResNet-50 on uint8-range RGB images of ``image_size``, softmax over the classes."""
    height, width = (int(side) for side in image_size)
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ModelConfigError(
            f"image_size {height}x{width} is too small: ResNet-50 needs at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}."
        )
    weights_file = resolve_weights(weights)
    inputs = keras.Input(shape=(height, width, 3), name="image")
    preprocessed = preprocessing_layer()(inputs)
    backbone = keras.applications.ResNet50(
        include_top=False, weights=None, input_tensor=preprocessed
    )
    outputs = classification_head(backbone.output, num_classes, head)
    model = keras.Model(inputs, outputs, name="resnet50_classifier")
    if weights_file is not None:
        load_backbone_weights(model, weights_file)
    return model


def keras_cache_dir() -> Path:
    """Keras' cache folder: ``$KERAS_HOME`` or ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def imagenet_weights_file() -> Path:
    """The ImageNet weights file, downloaded into Keras' cache if it is not there yet."""
    folder = keras_cache_dir() / "models"
    try:
        return Path(
            keras.utils.get_file(
                IMAGENET_FILE,
                IMAGENET_URL,
                cache_dir=str(keras_cache_dir()),
                cache_subdir="models",
                file_hash=IMAGENET_HASH,
            )
        )
    except Exception as error:
        raise ModelConfigError(
            f"Could not get the ImageNet weights of ResNet-50: {error}. Keras looks "
            f"for the file '{IMAGENET_FILE}' in '{folder}' ($KERAS_HOME/models, "
            f"~/.keras/models by default) and downloads it from {IMAGENET_URL} when "
            "it is missing. On a machine without internet, download that file "
            "elsewhere and put it there, or set model_construction.weights to its "
            "path, or set model_construction.weights to null to train from random "
            "initialisation."
        ) from error


def resolve_weights(weights: str | None) -> Path | None:
    """The weights file that ``weights`` (``imagenet``, ``null`` or a path) names.

    That a path names an existing file is checked with the other parameters, before
    the run (``pipelines.model_construction.params.ModelConstructionParams``).
    """
    if weights is None:
        return None
    if weights == "imagenet":
        return imagenet_weights_file()
    return Path(weights).expanduser()


def load_backbone_weights(model: keras.Model, path: Path) -> None:
    """Copy the ResNet-50 weights of a file into the model's backbone layers.

    Keras reads the file into a stand-alone ResNet-50 without top, so every format
    that ``keras.applications.ResNet50(weights=...)`` reads works (the Keras 2 ``.h5``
    of the ImageNet weights, Keras 3 ``.weights.h5``); the weights are then copied
    layer by layer, by name.
    """
    height, width = model.input_shape[1:3]
    try:
        source = keras.applications.ResNet50(
            include_top=False, weights=str(path), input_shape=(height, width, 3)
        )
    except (ValueError, OSError) as error:
        raise ModelConfigError(
            f"model_construction.weights: '{path}' is not a ResNet-50 weights file "
            f"without top that Keras can read ({error})."
        ) from error
    for layer in source.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())


def layer_stage(name: str) -> str | None:
    """The backbone stage (``conv1`` ... ``conv5``) of a layer, None outside the backbone."""
    prefix = name.split("_", 1)[0]
    if prefix == "pool1":
        return "conv1"
    return prefix if prefix in STAGES else None


def set_trainable_stages(
    model: keras.Model, stages: str | int, train_batch_norm: bool
) -> None:
    """Let the head and the top ``stages`` backbone stages (or ``all``) train.

    Frozen layers' BatchNorm runs in inference mode; ``train_batch_norm=False`` keeps
    the backbone's BatchNorm in inference mode in the open stages too, as Keras'
    fine-tuning guide advises for pretrained weights.
    """
    if stages == "all":
        count = len(STAGES)
    elif isinstance(stages, int) and 0 <= stages <= len(STAGES):
        count = stages
    else:
        raise ModelConfigError(
            f"Trainable stages must be 'all' or 0 to {len(STAGES)}; got '{stages}'."
        )
    open_stages = set(STAGES[len(STAGES) - count :])
    for layer in model.layers:
        if layer.name == PREPROCESSING_LAYER:
            continue
        stage = layer_stage(layer.name)
        is_batch_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = stage is None or (
            stage in open_stages and (train_batch_norm or not is_batch_norm)
        )


def with_precision(model: keras.Model, policy: str) -> keras.Model:
    """An uncompiled copy of the model whose layers compute under the dtype ``policy``.

    Variables stay float32 (``mixed_float16`` computes in float16); the preprocessing
    and the softmax output stay float32.
    """
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer" and layer["name"] not in FLOAT32_LAYERS:
            layer["config"]["dtype"] = policy
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy
