"""The ``ImageClassifier`` pyfunc: calibrated class probabilities of base64 images.

It is logged as code (MLflow's models-from-code, no pickle, ``MODEL_CODE``) with the
``.keras`` file as an artifact, loaded with Keras' ``safe_mode``, and with this package
as its ``code_paths``, so that the served model runs the code it was logged with.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from brain_tumor_mri.core.prediction import (
    model_image_preprocessing,
    model_input_size,
    predict_in_batches,
    prediction_frame,
)
from brain_tumor_mri.serving.artifacts import KERAS_ARTIFACT
from brain_tumor_mri.serving.request import RequestLimits, images_from_request

logger = logging.getLogger(__name__)

CALIBRATION_ARTIFACT = "calibration"
# Images per forward pass of the Keras model.
BATCH_SIZE = 32
# The distributions of the served model's import closure (this module, ``core`` and
# ``serving``), pinned to the running versions when the model is logged; mlflow is added
# by MLflow itself. tests/serving/test_import_closure.py checks that importing this
# module in a fresh interpreter loads nothing else and every one of them.
IMPORTED_REQUIREMENTS = (
    "keras",
    "tensorflow",
    "numpy",
    "pandas",
    "pillow",
    "opencv-python-headless",
    "pydicom",
)
# pydicom's decoders of compressed DICOM pixel data (JPEG, JPEG-LS, JPEG 2000, RLE),
# which it imports only when it decodes such a file.
DICOM_DECODER_PLUGINS = (
    "pylibjpeg",
    "pylibjpeg-libjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-rle",
)
REQUIREMENTS = IMPORTED_REQUIREMENTS + DICOM_DECODER_PLUGINS
# The file that MLflow's models-from-code runs to build the model when it loads it.
MODEL_CODE = """\
from mlflow.models import set_model

from brain_tumor_mri.serving.image_classifier import ImageClassifier

set_model(ImageClassifier())
"""


def pinned_requirements() -> list[str]:
    """``REQUIREMENTS`` pinned to the versions installed here."""
    return [f"{name}=={version(name)}" for name in REQUIREMENTS]


class ImageClassifier(PythonModel):
    """Classifies base64-encoded images with the trained Keras model.

    Example:
        >>> classifier = ImageClassifier(keras_model, ["glioma_tumor", ...])
        >>> classifier.predict(None, pd.DataFrame({"image": [b64_jpeg]}))
    """

    def __init__(
        self,
        model: keras.Model | None = None,
        classes: Sequence[str] = (),
        calibration: Mapping[str, Any] | None = None,
        limits: RequestLimits | None = None,
    ) -> None:
        self.model = model
        self.classes = list(classes)
        self.calibration = dict(calibration) if calibration else None
        self.preprocessing = (self.calibration or {}).get("image_preprocessing")
        self.limits = limits or RequestLimits()

    def load_context(self, context: PythonModelContext) -> None:
        """Load the Keras model (built-in layers only), the class names and the
        calibration of the training run."""
        self.model = keras.saving.load_model(
            context.artifacts[KERAS_ARTIFACT], compile=False, safe_mode=True
        )
        self.classes = list(context.model_config["class_names"])
        calibration_file = context.artifacts.get(CALIBRATION_ARTIFACT)
        if calibration_file:
            self.calibration = json.loads(Path(calibration_file).read_text())
            self.preprocessing = model_image_preprocessing(self.calibration)
        else:
            logger.warning(
                "The servable model has no calibration: its probabilities are "
                "uncalibrated and every prediction needs review."
            )
        self.limits = RequestLimits.from_config(context.model_config)
        # Trace the predict function before requests arrive, possibly several at once:
        # with two batch sizes, TensorFlow relaxes it to any batch size.
        for count in (1, 2):
            self.model.predict_on_batch(
                np.zeros((count, *model_input_size(self.model), 3), np.uint8)
            )

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """The predicted class, the calibrated class probabilities and
        ``needs_review`` of each image."""
        images = images_from_request(
            model_input, model_input_size(self.model), self.limits, self.preprocessing
        )
        return self.predict_images(images)

    def predict_images(self, images: np.ndarray) -> pd.DataFrame:
        """``predict``'s answer for a batch of images already decoded and prepared."""
        probabilities = predict_in_batches(self.model, images, BATCH_SIZE)
        return prediction_frame(probabilities, self.classes, self.calibration)


class ServableModel(NamedTuple):
    """What the servable model is made of: the Keras model, the classes, an example,
    the calibration (temperature, review threshold, image preprocessing) of its
    training run, the limits of a request, and the tags of its registered version
    (e.g. where an adapted model came from)."""

    model: keras.Model
    classes: list[str]
    example_image: bytes
    calibration: dict[str, Any] | None = None
    limits: RequestLimits = RequestLimits()
    version_tags: dict[str, str] | None = None
