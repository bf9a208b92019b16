"""Preprocessing benchmark: the project's pipeline vs the original notebook's loop.

Each variant runs in a fresh Python process on the full data set; the script prints
wall seconds and peak resident memory (RSS) of each, and their ratios.

    python benchmarks/preprocessing.py [--data ../shared/data/brain_tumor_mri] [--size 150]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from support import ROOT, project_copy


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_notebook_loop(data: Path, size: int) -> dict:
    """The original notebook: cv2.imread + cv2.resize into a list, np.array, / 255."""
    import cv2
    import numpy as np

    start = time.perf_counter()
    images, labels = [], []
    for split in ("Training", "Testing"):
        for label, folder in enumerate(
            sorted(p for p in (data / split).iterdir() if p.is_dir())
        ):
            for file in sorted(folder.iterdir()):
                image = cv2.imread(str(file))
                images.append(cv2.resize(image, (size, size)))
                labels.append(label)
    array = np.array(images) / 255.0
    return {
        "wall_s": time.perf_counter() - start,
        "images": len(array),
        "dtype": str(array.dtype),
    }


def node_profile_hook(profile: dict[str, dict]):
    """A Kedro hook that records each node's wall seconds and the peak RSS after it."""
    from kedro.framework.hooks import hook_impl

    class NodeProfile:
        @hook_impl
        def before_node_run(self, node) -> None:
            profile[node.name] = {"start": time.perf_counter()}

        @hook_impl
        def after_node_run(self, node) -> None:
            entry = profile[node.name]
            entry["wall_s"] = round(time.perf_counter() - entry.pop("start"), 2)
            entry["peak_rss_mib"] = round(peak_rss_mib())

    return NodeProfile()


def run_project_pipeline(data: Path, size: int) -> dict:
    """``kedro run --pipelines preprocessing`` in a throw-away copy of the project."""
    import os
    import shutil

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    profile: dict[str, dict] = {}

    project = project_copy("bench_preprocessing_")
    os.chdir(project)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    start = time.perf_counter()
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project,
        runtime_params={"raw_data_dir": str(data), "image_size": [size, size]},
    ) as session:
        session._hook_manager.register(node_profile_hook(profile))
        session.load_context()
        started = time.perf_counter()
        session.run(pipeline_names=["preprocessing"])
    wall = time.perf_counter() - start
    import numpy as np

    cached = sum(
        len(np.load(project / "data/05_model_input" / split / "labels.npy"))
        for split in ("train", "val", "test")
    )
    shutil.rmtree(project)
    return {
        "wall_s": wall,
        "pipeline_s": time.perf_counter() - started,
        "startup_s": started - start,
        "images": cached,
        "dtype": "uint8",
        "nodes": profile,
    }


VARIANTS = {"notebook": run_notebook_loop, "project": run_project_pipeline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared/data/brain_tumor_mri"
    )
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data.resolve()
    if args.variant:
        result = VARIANTS[args.variant](data, args.size)
        print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}))
        return
    results = {}
    for variant in VARIANTS:
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--variant",
                variant,
                "--data",
                str(data),
                "--size",
                str(args.size),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[variant] = json.loads(output.strip().splitlines()[-1])
    base, project = results["notebook"], results["project"]
    print(f"image size {args.size}x{args.size}, data {data}")
    print(f"{'variant':<10}{'images':>8}{'dtype':>9}{'wall s':>9}{'peak RSS MiB':>14}")
    for name, row in results.items():
        print(
            f"{name:<10}{row['images']:>8}{row['dtype']:>9}{row['wall_s']:>9.1f}{row['peak_rss_mib']:>14.0f}"
        )
    print(
        f"project/notebook: wall {project['wall_s'] / base['wall_s']:.2f}x, "
        f"peak RSS {project['peak_rss_mib'] / base['peak_rss_mib']:.2f}x"
    )


if __name__ == "__main__":
    main()
