"""A model URI that does not resolve, or not to the model asked for, and an input folder
that is a file: one line before any work, as a user runs the commands, never a
traceback.

The models are small real MLflow model folders (a Keras model, a pyfunc with no Keras
model) and a real MLflow store (SQLite) in a project copy; nothing is trained.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import mlflow
import pytest
from mlflow.pyfunc import PythonModel

from brain_tumor_mri.config.parameters import ParameterError
from brain_tumor_mri.framework.raw_layout import RawDataLayoutError
from brain_tumor_mri.model_store.model_uris import (
    ModelUriError,
    check_servable_model_uri,
)
from brain_tumor_mri.serving.artifacts import KERAS_ARTIFACT
from brain_tumor_mri.serving.image_classifier import MODEL_CODE
from tests.conftest import copy_project
from tests.framework.test_refused_runs import run_in_session, runs_in_store

# Each test starts Kedro in a project copy.
pytestmark = pytest.mark.slow

MISSING = "models:/nonexistent_model/7"
CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")


class Constant(PythonModel):
    """A pyfunc model with no Keras model in it."""

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201, ARG002
        return model_input


@pytest.fixture(scope="module")
def keras_model_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A local MLflow Keras model folder: the Keras model, not the servable one."""
    inputs = keras.Input((32, 32, 3), name="image")
    features = keras.layers.Conv2D(4, 3, name="conv5_block3_out")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(pooled)
    path = tmp_path_factory.mktemp("keras_model") / "model"
    mlflow.keras.save_model(keras.Model(inputs, outputs), str(path))
    return str(path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def kedro(project: Path, *arguments: str) -> tuple[int, str]:
    """``kedro ARGUMENTS`` in ``project`` with its own MLflow store: exit code, output."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", *arguments],
        cwd=project,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def error_line(output: str) -> str:
    """The one error line of a refused command, and no traceback around it."""
    assert "Traceback" not in output, output[-3000:]
    assert "╭" not in output, output[-3000:]
    (line,) = [line for line in output.splitlines() if line.startswith("Error: ")]
    return line


def images_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "scan.jpg").write_bytes(b"not looked at")
    return folder


def test_an_inference_run_with_a_missing_model_stops_with_one_line(
    project: Path, tmp_path: Path
):
    params = f"input_dir={images_folder(tmp_path)},model_uri={MISSING}"
    code, output = kedro(project, "run", "--pipelines", "inference", "--params", params)
    assert code != 0
    line = error_line(output)
    assert line.startswith(
        f"Error: The model URI '{MISSING}' does not resolve in the MLflow store at "
        f"sqlite:///{project / 'mlflow.db'}: Registered Model with name="
        "nonexistent_model not found. List the models with `kedro mlflow ui`"
    ), line
    assert runs_in_store(project) == []


def test_an_inference_run_with_a_model_without_keras_stops_before_any_work(
    project: Path, tmp_path: Path
):
    model = tmp_path / "constant"
    mlflow.pyfunc.save_model(str(model), python_model=Constant())
    with pytest.raises(ParameterError, match="has no Keras model") as error:
        run_in_session(
            project,
            "inference",
            input_dir=str(images_folder(tmp_path)),
            model_uri=str(model),
        )
    assert str(model) in error.value.message
    assert "kedro mlflow ui" in error.value.message
    assert runs_in_store(project) == []


def test_review_with_a_missing_model_says_so_in_one_line(project: Path):
    code, output = kedro(
        project, "review", "--model-uri", "models:/nonexistent_model/1"
    )
    assert code != 0
    line = error_line(output)
    assert "The model URI 'models:/nonexistent_model/1' does not resolve" in line
    assert "List the models with `kedro mlflow ui`" in line


def test_review_with_the_keras_model_says_it_is_not_the_servable_one(
    project: Path, keras_model_uri: str
):
    code, output = kedro(project, "review", "--model-uri", keras_model_uri)
    assert code != 0
    assert error_line(output) == (
        f"Error: The MLflow model '{keras_model_uri}' is not this project's servable "
        "model (an ImageClassifier), but a Keras model: give the URI of a registered "
        "version (models:/<name>/<version or @alias>) or of a training run's "
        "servable_model (runs:/<run id>/servable_model)."
    )


def test_the_servable_model_passes_the_review_check(
    tmp_path: Path, keras_model_uri: str
):
    """The servable model as the training run logs it: models from code, with the
    ``.keras`` file as its artifact; the Keras model alone does not pass."""
    code = tmp_path / "image_classifier.py"
    code.write_text(MODEL_CODE)
    keras_file = tmp_path / "model.keras"
    mlflow.keras.load_model(keras_model_uri).save(keras_file)
    servable = tmp_path / "servable"
    mlflow.pyfunc.save_model(
        str(servable),
        python_model=str(code),
        artifacts={KERAS_ARTIFACT: str(keras_file)},
        model_config={"class_names": list(CLASSES)},
    )
    check_servable_model_uri(str(servable))
    with pytest.raises(ModelUriError, match="but a Keras model"):
        check_servable_model_uri(keras_model_uri)


def test_a_raw_data_dir_that_is_a_file_is_named_a_file(project: Path, tmp_path: Path):
    raw = tmp_path / "raw.zip"
    raw.write_bytes(b"PK")
    with pytest.raises(RawDataLayoutError, match="is a file, not a folder"):
        run_in_session(project, "preprocessing", raw_data_dir=str(raw))
    assert runs_in_store(project) == []


def test_an_input_dir_that_is_a_file_is_named_a_file(
    project: Path, tmp_path: Path, keras_model_uri: str
):
    image = tmp_path / "scan.jpg"
    image.write_bytes(b"not looked at")
    with pytest.raises(ParameterError, match="is a file, not a folder"):
        run_in_session(
            project, "inference", input_dir=str(image), model_uri=keras_model_uri
        )
