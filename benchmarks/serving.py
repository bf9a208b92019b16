"""Serving latency benchmark: the servable model under ``mlflow models serve`` against
the bare Keras model's forward pass on the same images, measured in the same run.

For each image size it builds the project's ResNet-50 classifier (random weights: the
quick profile's model at 64 px, a default-size one at 150 px; the weights change no
timing), registers it with the project's ``MlflowServableModelDataset`` in a throw-away
SQLite store (with a calibration that carries the base ``image_preprocessing``), starts
the real ``mlflow models serve`` on 127.0.0.1 at a free port, and sends ``--requests``
single-image and ``--requests`` batched requests of real test JPEGs, one after the
other. Then, in this process and on the same images, it times the bare model
(``predict_on_batch``, and ``model.predict`` for reference) and each layer of the
served path: request decoding, the pyfunc's ``predict`` and MLflow's pyfunc wrapper
(schema enforcement), so that the rest of the served latency is HTTP and JSON.

    python benchmarks/serving.py [--sizes 64 150] [--requests 30] [--batch 32]
        [--data ../shared/data/brain_tumor_mri]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import requests
import yaml

from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.datasets.logged_models import load_keras_model
from brain_tumor_mri.serving.request import images_from_request

from support import DATA, ROOT, SMALL_HEAD

REGISTERED_NAME = "serving_benchmark"
SERVER_START_TIMEOUT_S = 300


def show(line: str) -> None:
    print(line, flush=True)  # noqa: T201 (the benchmark's report)


def base_parameters() -> dict:
    return yaml.safe_load((ROOT / "conf/base/parameters.yml").read_text())


def test_images(data: Path, count: int) -> list[Path]:
    """``count`` official test JPEGs, taken in turn from each class folder."""
    folders = sorted(p for p in (data / "Testing").iterdir() if p.is_dir())
    files = [sorted(folder.glob("*.jpg")) for folder in folders]
    return [f for group in zip(*files, strict=False) for f in group][:count]


# Registers the classifier with the project's servable-model dataset, in a process of
# its own (the served model carries the code it was logged with). Arguments: size,
# store, example JPEG, calibration, head, registered name, classes.
REGISTER = """
import io, json, sys
import keras, mlflow
from PIL import Image
from brain_tumor_mri.datasets import MlflowServableModelDataset
from brain_tumor_mri.serving.image_classifier import ServableModel
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.core.model import build_classifier

size, store, example = int(sys.argv[1]), sys.argv[2], sys.argv[3]
calibration, head = json.loads(sys.argv[4]), json.loads(sys.argv[5])
name, classes = sys.argv[6], sys.argv[7:]
keras.utils.set_random_seed(0)
model = build_classifier([size, size], len(classes), head, None)
image = load_rgb(open(example, "rb").read(), (size, size), calibration["image_preprocessing"])
png = io.BytesIO()
Image.fromarray(image).save(png, format="PNG")
mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
mlflow.set_experiment("serving_benchmark")
with mlflow.start_run():
    dataset = MlflowServableModelDataset(registered_model_name=name)
    dataset.save(ServableModel(model, classes, png.getvalue(), calibration))
print(dataset.model_info.registered_model_version)
"""


def register(size: int, store: Path, example: Path) -> str:
    """The classifier at ``size`` px, registered in the store at ``store``; its URI."""
    params = base_parameters()
    calibration = {
        "image_preprocessing": params["image_preprocessing"],
        "temperature": 1.3,
        "confidence_threshold": 0.9,
        "target_accuracy": 0.95,
        "target_reached": True,
        "fitted_on": "val",
    }
    done = subprocess.run(
        [sys.executable, "-c", REGISTER, str(size), str(store), str(example)]
        + [json.dumps(calibration), json.dumps(SMALL_HEAD), REGISTERED_NAME]
        + [entry["name"] for entry in params["classes"]],
        cwd=store,  # MLflow's default artifact root, ./mlruns, lands in the store
        capture_output=True,
        text=True,
        check=True,
    )
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    return f"models:/{REGISTERED_NAME}/{done.stdout.split()[-1]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_uri: str, store: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow models serve`` on 127.0.0.1 at a free port, once it answers /ping."""
    port = free_port()
    log = (store / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri]
        + ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", "1"],
        cwd=store,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri()},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited: see {store / 'server.log'}")
        try:
            if requests.get(f"{url}/ping", timeout=2).ok:
                return process, f"{url}/invocations"
        except requests.ConnectionError:
            pass
        time.sleep(1)
    os.killpg(process.pid, signal.SIGTERM)
    raise RuntimeError(f"The server did not start: see {store / 'server.log'}")


def timings(call: Callable[[], object], repeats: int, warmup: int = 3) -> np.ndarray:
    """Wall seconds of ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return np.asarray(seconds)


def alternate(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[np.ndarray, np.ndarray]:
    """Wall seconds of ``repeats`` calls of each, taken in turn, after 3 of each."""
    for _ in range(3):
        first()
        second()
    firsts, seconds = [], []
    for _ in range(repeats):
        firsts.append(timings(first, 1, warmup=0)[0])
        seconds.append(timings(second, 1, warmup=0)[0])
    return np.asarray(firsts), np.asarray(seconds)


def payload(files: list[bytes]) -> str:
    encoded = [[base64.b64encode(data).decode("ascii")] for data in files]
    return json.dumps({"dataframe_split": {"columns": ["image"], "data": encoded}})


def post(url: str, body: str) -> None:
    answer = requests.post(
        url, data=body, headers={"Content-Type": "application/json"}, timeout=120
    )
    answer.raise_for_status()


def ms(seconds: np.ndarray, q: float = 50) -> float:
    return 1000 * float(np.percentile(seconds, q))


def measure(size: int, paths: list[Path], repeats: int, batch: int) -> dict:
    """Served and bare timings at ``size`` px."""
    files = [path.read_bytes() for path in paths]
    with tempfile.TemporaryDirectory(prefix="bench_serving_") as folder:
        store = Path(folder)
        uri = register(size, store, paths[0])
        model = load_keras_model(uri)
        preprocessing = base_parameters()["image_preprocessing"]
        images = np.stack([load_rgb(f, (size, size), preprocessing) for f in files])
        x1, xb = images[:1], images[:batch]
        one, many = payload(files[:1]), payload(files[:batch])
        process, url = start_server(uri, store)
        try:
            # Each served request is followed by the bare forward pass of its images,
            # so that both see the same load on the shared cores.
            served_one, bare_one = alternate(
                lambda: post(url, one), lambda: model.predict_on_batch(x1), repeats
            )
            served_many, bare_many = alternate(
                lambda: post(url, many), lambda: model.predict_on_batch(xb), repeats
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
        retraces = (store / "server.log").read_text().count("retracing")
        pyfunc = mlflow.pyfunc.load_model(uri)
        frame_many = pd.DataFrame(
            {"image": [base64.b64encode(f).decode("ascii") for f in files[:batch]]}
        )
        frame_one = frame_many.iloc[:1]
        classifier = pyfunc.unwrap_python_model()
        result = {
            "size": size,
            "batch": batch,
            "requests": repeats,
            "served_1": served_one,
            "served_b": served_many,
            "bare_1": bare_one,
            "bare_b": bare_many,
            "server_retraces": retraces,
            "keras_predict_1": timings(lambda: model.predict(x1, verbose=0), repeats),
            "decode_1": timings(
                lambda: images_from_request(
                    frame_one, (size, size), None, preprocessing
                ),
                repeats,
            ),
            "decode_b": timings(
                lambda: images_from_request(
                    frame_many, (size, size), None, preprocessing
                ),
                repeats,
            ),
            "classifier_1": timings(
                lambda: classifier.predict(None, frame_one), repeats
            ),
            "pyfunc_1": timings(lambda: pyfunc.predict(frame_one), repeats),
            "pyfunc_b": timings(lambda: pyfunc.predict(frame_many), repeats),
        }
        mlflow.set_tracking_uri("")
        return result


def report(results: list[dict]) -> None:
    show(
        "| model | bare forward, 1 image, p50 ms | served, 1 image, p50 / p95 ms "
        "| overhead ms (target <= 30) | bare, batch, images/s | served, batch, "
        "images/s (p50) | served / bare (target >= 0.8) |"
    )
    show("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        bare_rate = r["batch"] / np.median(r["bare_b"])
        served_rate = r["batch"] / np.median(r["served_b"])
        show(
            f"| {r['size']} px | {ms(r['bare_1']):.1f} "
            f"| {ms(r['served_1']):.1f} / {ms(r['served_1'], 95):.1f} "
            f"| {ms(r['served_1']) - ms(r['bare_1']):.1f} "
            f"| {bare_rate:.1f} | {served_rate:.1f} | {served_rate / bare_rate:.2f} |"
        )
        if r["server_retraces"]:
            show(f"(the server's log warns of retracing {r['server_retraces']} times)")
    show("")
    show(
        "Where one image's served time goes (p50 ms, in this process): the model's "
        "forward pass, request decoding (base64, header checks, JPEG decode, crop, "
        "resize), the pyfunc's predict (decoding + forward + answer table), MLflow's "
        "pyfunc wrapper (+ schema enforcement), and the server (+ HTTP, JSON):"
    )
    show(
        "| model | keras `predict` | `predict_on_batch` | decode | pyfunc predict "
        "| MLflow pyfunc | served | decode, batch | MLflow pyfunc, batch |"
    )
    show("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        show(
            f"| {r['size']} px | {ms(r['keras_predict_1']):.1f} | {ms(r['bare_1']):.1f} "
            f"| {ms(r['decode_1']):.1f} | {ms(r['classifier_1']):.1f} "
            f"| {ms(r['pyfunc_1']):.1f} | {ms(r['served_1']):.1f} "
            f"| {ms(r['decode_b']):.1f} | {ms(r['pyfunc_b']):.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 150])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    paths = test_images(args.data, args.batch)
    results = [measure(size, paths, args.requests, args.batch) for size in args.sizes]
    report(results)


if __name__ == "__main__":
    main()
