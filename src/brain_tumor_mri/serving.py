"""The servable MLflow model, and the Kedro datasets that log it and load models back.

``ImageClassifier`` is an MLflow pyfunc: its input is a DataFrame with one string column
``image`` (each a base64-encoded JPEG or PNG of any size and colour mode), its output the
``predicted_class``, one calibrated ``probability_<class>`` column per class and
``needs_review`` (the confidence is under the review threshold); the temperature and the
threshold are those fitted in the model's training run (``calibration.json``, carried
as an artifact of the servable model). It decodes and
resizes each image with ``brain_tumor_mri.images.load_rgb`` to the Keras model's own
input size, as preprocessing did for training, so serving never drifts from training.
A payload it cannot use raises an ``MlflowException`` with ``INVALID_PARAMETER_VALUE``,
which MLflow's scoring server answers with HTTP 400 and the message.

The model is logged as code (MLflow's models-from-code, no pickle) with the ``.keras``
file as an artifact, loaded with Keras' ``safe_mode``, and with this package as its
``code_paths``, so that the served model runs the code it was logged with.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import keras
import mlflow
import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model, infer_signature
from mlflow.pyfunc import PythonModel, PythonModelContext
from PIL import Image

import brain_tumor_mri
from brain_tumor_mri.calibration import apply_temperature, needs_review
from brain_tumor_mri.images import (
    DEFAULT_MAX_PIXELS,
    ImageHeader,
    ImageReadError,
    load_rgb,
    read_header,
)

logger = logging.getLogger(__name__)

INPUT_COLUMN = "image"
KERAS_ARTIFACT = "keras_model"
CALIBRATION_ARTIFACT = "calibration"
# The training run's artifact that holds the temperature and the review threshold.
CALIBRATION_FILE = "calibration.json"
REVIEW_COLUMN = "needs_review"
# Distributions that the served model imports, pinned to the running versions; mlflow
# is added by MLflow itself.
REQUIREMENTS = (
    "keras",
    "tensorflow",
    "numpy",
    "pandas",
    "pillow",
    "opencv-python-headless",
    "imagehash",
)
# The file that MLflow's models-from-code runs to build the model when it loads it.
MODEL_CODE = """\
from mlflow.models import set_model

from brain_tumor_mri.serving import ImageClassifier

set_model(ImageClassifier())
"""
MAX_REPORTED_ROWS = 10
BATCH_SIZE = 32


def image_size(model: keras.Model) -> tuple[int, int]:
    """The (height, width) of the model's input: the size every image is resized to."""
    height, width = model.input_shape[1:3]
    return int(height), int(width)


def probability_columns(classes: Sequence[str]) -> list[str]:
    """The name of each class's probability column, in class order."""
    return [f"probability_{name}" for name in classes]


def prediction_frame(
    probabilities: np.ndarray,
    classes: Sequence[str],
    calibration: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The predicted class, the calibrated probability of each class and
    ``needs_review``, one row per image.

    ``probabilities`` are the model's own; ``calibration`` (``calibration.json``)
    gives the temperature and the review threshold. Without it the probabilities stay
    as they are and every row needs review.
    """
    if probabilities.shape[-1] != len(classes):
        raise ValueError(
            f"The model has {probabilities.shape[-1]} outputs but {len(classes)} classes "
            f"are configured ({list(classes)})."
        )
    temperature = float((calibration or {}).get("temperature", 1.0))
    calibrated = apply_temperature(probabilities, temperature)
    frame = pd.DataFrame(calibrated, columns=probability_columns(classes))
    frame.insert(0, "predicted_class", np.asarray(classes)[calibrated.argmax(-1)])
    frame[REVIEW_COLUMN] = needs_review(calibrated, calibration)
    return frame


def decode_base64_image(value: Any) -> bytes:
    """The bytes of a base64 string (whitespace and a ``data:`` URL prefix allowed)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise ValueError("no image (missing value)")
    if not isinstance(value, str):
        raise ValueError(f"expected a base64 string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("no image (empty string)")
    text = "".join(value.split())
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"not valid base64 ({error})") from error


def _bad_request(message: str) -> MlflowException:
    return MlflowException.invalid_parameter_value(message)


def model_image_preprocessing(
    calibration: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """The ``image_preprocessing`` a model was trained with, from what travels with it
    (``calibration.json``); None (images used as decoded) for a model from before it
    was recorded, which the log says."""
    preprocessing = (calibration or {}).get("image_preprocessing")
    if preprocessing is None:
        logger.warning(
            "The model does not record its image_preprocessing: images are used as "
            "decoded, without crop or intensity normalisation."
        )
    return preprocessing


class RequestLimits(NamedTuple):
    """What one request may ask of the served model; more is answered with HTTP 400.

    The values are logged with the model (its ``model_config``, from the parameters
    ``serving`` and ``preprocessing.max_image_pixels``); MLflow's environment variable
    ``MLFLOW_PYFUNC_INFERENCE_CONFIG`` overrides them when the model is served.
    """

    max_images_per_request: int = 64
    max_request_pixels: int = 100_000_000
    max_image_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RequestLimits:
        """The limits found in a model config; the defaults for those it lacks."""
        return cls(**{key: int(config[key]) for key in cls._fields if key in config})


def _check_image_count(count: int, limits: RequestLimits) -> None:
    if count > limits.max_images_per_request:
        raise _bad_request(
            f"The request has {count} images, over the limit of "
            f"{limits.max_images_per_request} per request (max_images_per_request): "
            "send them in several requests."
        )


def _check_request_pixels(
    headers: Iterable[ImageHeader], limits: RequestLimits
) -> None:
    pixels = sum(header.width * header.height for header in headers)
    if pixels > limits.max_request_pixels:
        raise _bad_request(
            f"The images of the request have {pixels} pixels in all (width x height), "
            f"over the limit of {limits.max_request_pixels} per request "
            "(max_request_pixels): send fewer or smaller images per request."
        )


def images_from_request(
    model_input: Any,
    size: tuple[int, int],
    limits: RequestLimits | None = None,
    preprocessing: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Decode the ``image`` column to a uint8 batch, prepared as ``preprocessing``
    says; raise a 400 naming each bad row.

    The request's size is checked from the image headers before any pixel is
    decoded: the number of images, their pixels in all and each image's pixels.
    """
    limits = limits or RequestLimits()
    if not isinstance(model_input, pd.DataFrame) or INPUT_COLUMN not in model_input:
        raise _bad_request(
            f"Expected a table with a column '{INPUT_COLUMN}' of base64-encoded JPEG or "
            f"PNG images, got {type(model_input).__name__}."
        )
    values = model_input[INPUT_COLUMN].tolist()
    if not values:
        raise _bad_request(
            f"No images in the request: send at least one row in column '{INPUT_COLUMN}'."
        )
    _check_image_count(len(values), limits)
    files: dict[int, bytes] = {}
    headers: dict[int, ImageHeader] = {}
    problems: dict[int, str] = {}
    for row, value in enumerate(values):
        try:
            files[row] = decode_base64_image(value)
            headers[row] = read_header(files[row], limits.max_image_pixels)
        except (ImageReadError, ValueError) as error:
            problems[row] = str(error)
    _check_request_pixels(headers.values(), limits)
    images = []
    for row in headers:
        try:
            images.append(
                load_rgb(files.pop(row), size, preprocessing, limits.max_image_pixels)
            )
        except (ImageReadError, ValueError, Image.DecompressionBombError) as error:
            problems[row] = str(error)
    if problems:
        shown = "; ".join(
            f"row {row}: {problems[row]}"
            for row in sorted(problems)[:MAX_REPORTED_ROWS]
        )
        more = len(problems) - MAX_REPORTED_ROWS
        raise _bad_request(
            f"{len(problems)} of {len(values)} values in column '{INPUT_COLUMN}' are not "
            f"base64-encoded JPEG or PNG images: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )
    return np.stack(images)


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
        # Build the predict function before requests arrive, possibly several at once.
        self.model.predict(
            np.zeros((1, *image_size(self.model), 3), np.uint8), verbose=0
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
            model_input, image_size(self.model), self.limits, self.preprocessing
        )
        probabilities = self.model.predict(images, batch_size=BATCH_SIZE, verbose=0)
        return prediction_frame(probabilities, self.classes, self.calibration)


class ServableModel(NamedTuple):
    """What the servable model is made of: the Keras model, the classes, an example,
    the calibration (temperature, review threshold, image preprocessing) of its
    training run and the limits of a request."""

    model: keras.Model
    classes: list[str]
    example_image: bytes
    calibration: dict[str, Any] | None = None
    limits: RequestLimits = RequestLimits()


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 RGB array encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _pinned_requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in REQUIREMENTS]


class MlflowServableModelDataset(AbstractDataset[ServableModel, Any]):
    """Logs a ``ServableModel`` as an ``ImageClassifier`` pyfunc and registers it.

    Saving logs the model (signature, input example, pinned requirements) to the active
    run under ``name`` and registers it as a new version of ``registered_model_name``.
    Loading returns the latest registered version as a pyfunc. The class name starts
    with ``Mlflow`` so that kedro-mlflow switches it off for pipelines it does not track.

    Example:
        >>> dataset = MlflowServableModelDataset(
        ...     name="servable_model",
        ...     registered_model_name="brain_tumor_mri_classifier",
        ... )
        >>> with mlflow.start_run():
        ...     dataset.save(ServableModel(model, classes, png))
    """

    def __init__(
        self,
        registered_model_name: str,
        name: str = "servable_model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._registered_model_name = registered_model_name
        self._name = name
        self.metadata = metadata
        self._logging_activated = True
        self.model_info: mlflow.models.model.ModelInfo | None = None

    def load(self) -> mlflow.pyfunc.PyFuncModel:
        return mlflow.pyfunc.load_model(f"models:/{self._registered_model_name}/latest")

    def save(self, data: ServableModel) -> None:
        if not self._logging_activated:
            return
        example = pd.DataFrame(
            {INPUT_COLUMN: [base64.b64encode(data.example_image).decode("ascii")]}
        )
        output = ImageClassifier(
            data.model, data.classes, data.calibration, data.limits
        ).predict(None, example)
        with tempfile.TemporaryDirectory() as folder:
            keras_path = Path(folder, "model.keras")
            data.model.save(keras_path)
            code_path = Path(folder, "image_classifier.py")
            code_path.write_text(MODEL_CODE)
            artifacts = {KERAS_ARTIFACT: str(keras_path)}
            if data.calibration:
                calibration_path = Path(folder, CALIBRATION_FILE)
                calibration_path.write_text(json.dumps(data.calibration, indent=2))
                artifacts[CALIBRATION_ARTIFACT] = str(calibration_path)
            self.model_info = mlflow.pyfunc.log_model(
                name=self._name,
                python_model=str(code_path),
                artifacts=artifacts,
                code_paths=[str(Path(brain_tumor_mri.__file__).parent)],
                # MLflow also logs the model config as run parameters.
                model_config={
                    "class_names": list(data.classes),
                    **data.limits._asdict(),
                },
                signature=infer_signature(example, output),
                input_example=example,
                pip_requirements=_pinned_requirements(),
                registered_model_name=self._registered_model_name,
            )
        logger.info(
            "Registered the servable model as '%s' version %s (%s).",
            self._registered_model_name,
            self.model_info.registered_model_version,
            self.model_info.model_uri,
        )

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "registered_model_name": self._registered_model_name,
        }


def latest_model_uri(name: str = "model") -> str:
    """URI of the model ``name`` of the newest finished run of the active experiment."""
    client = MlflowClient()
    models = mlflow.search_logged_models(
        filter_string=f"name = '{name}'",
        order_by=[{"field_name": "creation_time", "ascending": False}],
        output_format="list",
    )
    for logged in models:
        run_id = logged.source_run_id
        if run_id and client.get_run(run_id).info.status == "FINISHED":
            return logged.model_uri
    raise DatasetError(
        f"No finished MLflow run with a model named '{name}' in the experiment at "
        f"{mlflow.get_tracking_uri()}: run `kedro run --pipelines training` first, or "
        "choose a model with `--params model_uri=URI`."
    )


def load_keras_model(model_uri: str) -> keras.Model:
    """The Keras model of an MLflow model: a Keras-flavour model or an ``ImageClassifier``."""
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=folder
        )
        flavors = Model.load(local).flavors
        if "keras" in flavors:
            return mlflow.keras.load_model(
                local, load_model_kwargs={"compile": False, "safe_mode": True}
            )
        artifacts = flavors.get("python_function", {}).get("artifacts", {})
        if KERAS_ARTIFACT not in artifacts:
            raise DatasetError(
                f"The MLflow model '{model_uri}' has no Keras model: expected a Keras "
                f"flavour or an ImageClassifier pyfunc (flavours: {sorted(flavors)})."
            )
        return keras.saving.load_model(
            Path(local, artifacts[KERAS_ARTIFACT]["path"]),
            compile=False,
            safe_mode=True,
        )


class MlflowKerasModelUriDataset(AbstractDataset[None, keras.Model]):
    """Loads the Keras model of any MLflow model URI, or of the latest training run.

    ``model_uri`` is any MLflow model URI (``runs:/<run id>/model``,
    ``models:/<name>/<version>``, ``models:/<model id>``, a local folder) of a
    Keras-flavour model or of the servable ``ImageClassifier``; None takes the model
    ``model_name`` of the newest finished run of the experiment that kedro-mlflow set
    from ``mlflow.yml``. Read-only.

    Example:
        >>> MlflowKerasModelUriDataset(
        ...     model_uri="models:/brain_tumor_mri_classifier/1"
        ... ).load()
    """

    def __init__(
        self,
        model_uri: str | None = None,
        model_name: str = "model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._model_uri = model_uri
        self._model_name = model_name
        self.metadata = metadata

    def load(self) -> keras.Model:
        uri = self._model_uri or latest_model_uri(self._model_name)
        logger.info("Loading the model '%s'.", uri)
        return load_keras_model(uri)

    def save(self, data: None) -> None:
        raise DatasetError("MlflowKerasModelUriDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri, "model_name": self._model_name}


def model_run_id(model_uri: str) -> str | None:
    """The id of the run that logged the MLflow model at ``model_uri`` (any URI;
    for ``models:/<name>/<version>`` the registry resolves it)."""
    return Model.load(model_uri).run_id


def load_run_calibration(run_id: str) -> dict[str, Any] | None:
    """The ``calibration.json`` of a training run; None if the run has none."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=CALIBRATION_FILE, dst_path=folder
            )
        except (MlflowException, OSError):
            return None
        return json.loads(Path(path).read_text())


class MlflowModelCalibrationDataset(AbstractDataset[None, dict[str, Any]]):
    """Loads the calibration (``calibration.json``) of the run that logged a model.

    ``model_uri`` is resolved as in ``MlflowKerasModelUriDataset`` (None: the model
    ``model_name`` of the newest finished training run); the calibration is that
    run's, so it is the one fitted for that model. A model whose run has none (a run
    from before calibration) loads ``{}``, and the log says that its predictions are
    uncalibrated and all need review. Read-only.

    Example:
        >>> MlflowModelCalibrationDataset(
        ...     model_uri="models:/brain_tumor_mri_classifier/1"
        ... ).load()["temperature"]
    """

    def __init__(
        self,
        model_uri: str | None = None,
        model_name: str = "model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._model_uri = model_uri
        self._model_name = model_name
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        uri = self._model_uri or latest_model_uri(self._model_name)
        run_id = model_run_id(uri)
        calibration = load_run_calibration(run_id) if run_id else None
        if not calibration:
            logger.warning(
                "The model '%s' (run %s) has no %s: its probabilities are "
                "uncalibrated and every prediction is flagged for review.",
                uri,
                run_id,
                CALIBRATION_FILE,
            )
            return {}
        logger.info(
            "Calibration of the model '%s' (run %s): temperature %.4g, review "
            "threshold %.4f (target accuracy %.3f on %s, %s).",
            uri,
            run_id,
            calibration["temperature"],
            calibration["confidence_threshold"],
            calibration["target_accuracy"],
            calibration.get("fitted_on", "val"),
            "reached" if calibration.get("target_reached") else "not reached",
        )
        return calibration

    def save(self, data: None) -> None:
        raise DatasetError("MlflowModelCalibrationDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri, "model_name": self._model_name}
