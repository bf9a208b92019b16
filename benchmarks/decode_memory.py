"""Decoding memory benchmark: peak RSS of decoding one hostile or large image.

Each case decodes one image with ``brain_tumor_mri.core.images.loading.load_rgb`` in a fresh Python
process, as serving, batch inference and caching do (resized to 150x150), or at full
size (the Grad-CAM overlay of batch inference). It prints, per case, the growth of the
resident memory while decoding (peak RSS during the decode minus RSS before it; Linux
only) and the outcome.

    python benchmarks/decode_memory.py                    # the code of this checkout
    python benchmarks/decode_memory.py --src /tmp/before/src   # another checkout's code
    python benchmarks/decode_memory.py --max-pixels 200000000  # a higher pixel limit
    python benchmarks/decode_memory.py --only DICOM            # the DICOM cases only

``--src`` imports the package from another source tree, for example the code before a
change: ``mkdir /tmp/before && git archive <commit> src | tar -x -C /tmp/before``.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name: (width, height, mode, target size or None for full size)
CASES = {
    "13000x13000 16-bit gray PNG (issue 10)": (13000, 13000, "I;16", (150, 150)),
    "13000x13000 8-bit RGB PNG": (13000, 13000, "RGB", (150, 150)),
    "5000x5000 16-bit gray PNG (25 MP)": (5000, 5000, "I;16", (150, 150)),
    "5000x5000 8-bit RGB PNG (25 MP)": (5000, 5000, "RGB", (150, 150)),
    "5000x5000 8-bit RGB JPEG (25 MP)": (5000, 5000, "JPEG", (150, 150)),
    "5000x5000 16-bit gray PNG, full size": (5000, 5000, "I;16", None),
    "5000x5000 16-bit DICOM, no window (25 MP)": (5000, 5000, "DICOM16", (150, 150)),
    "5000x5000 16-bit DICOM, full size": (5000, 5000, "DICOM16", None),
    "deflated DICOM, 1 GiB private element (issue 24)": (
        16,
        16,
        "DEFLATED",
        (150, 150),
    ),
    "deflated DICOM, 250 MiB private element (under the limit)": (
        16,
        16,
        "DEFLATED250",
        (150, 150),
    ),
    "64x64 DICOM, 16000x16000 J2K stream (issue 24)": (16000, 16000, "J2K", (150, 150)),
    "2-frame JPEG DICOM, 16000x16000 SOF (issue 24)": (
        16000,
        16000,
        "JPEGS",
        (150, 150),
    ),
}


def make_dicom(width: int, height: int, mode: str) -> bytes:
    """The DICOM cases, written with the tests' helpers (``tests/helpers``)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tests.helpers import dicom_files

    gray = np.zeros((64, 64), np.uint8)
    gray[16:48, 16:48] = 200
    if mode.startswith("DEFLATED"):
        private = 250 * 2**20 if mode == "DEFLATED250" else 2**30
        return dicom_files.deflated_with_private_element(gray[:height, :width], private)
    if mode == "J2K":
        return dicom_files.j2k_bomb(width, height)
    return dicom_files.jpeg_frames_bomb(gray, width, height)


def make_image(width: int, height: int, mode: str) -> bytes:
    """A mostly black slice with a bright disc: small on the wire, large decoded."""
    import numpy as np
    from PIL import Image, ImageDraw

    if mode in ("DEFLATED", "DEFLATED250", "J2K", "JPEGS"):
        return make_dicom(width, height, mode)
    image = Image.new("L", (width, height))
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=200
    )
    buffer = io.BytesIO()
    if mode == "DICOM16":
        sys.path.insert(0, str(ROOT))
        from tests.helpers import dicom_files

        stored = np.asarray(image, dtype=np.uint16) * 16 + 300
        return dicom_files.uncompressed(stored, bits_stored=16)
    if mode == "I;16":
        Image.fromarray(np.asarray(image, dtype=np.uint16) * 250).save(buffer, "PNG")
    elif mode == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    else:
        image.convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def decode_once(path: str, size: list[int] | None, max_pixels: int | None) -> dict:
    """In this process: read the file, reset the peak RSS, decode, report the growth."""
    import time

    from brain_tumor_mri.core.images.loading import load_rgb

    data = Path(path).read_bytes()
    limit = {} if max_pixels is None else {"max_pixels": max_pixels}
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    try:
        shape = list(
            load_rgb(data, None if size is None else tuple(size), **limit).shape
        )
        outcome = f"decoded to {shape}"
    except Exception as error:
        outcome = f"refused: {type(error).__name__}: {error}"
    return {
        "peak_growth_mib": (_status_kib("VmHWM") - before) / 1024,
        "wall_s": time.perf_counter() - start,
        "outcome": outcome,
        "file_kib": len(data) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument(
        "--max-pixels",
        type=int,
        help="pixel limit to decode with (default: the code's)",
    )
    parser.add_argument(
        "--only", default="", help="run only the cases whose name holds this text"
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # the child process
        sys.path.insert(0, str(args.src))
        size = CASES[args.case][3]
        print(json.dumps(decode_once(args.file, size, args.max_pixels)))
        return
    print(f"package from {args.src}, pixel limit {args.max_pixels or 'default'}")
    print("| case | file KiB | peak RSS growth MiB | wall s | outcome |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, (width, height, mode, _) in CASES.items():
            if args.only not in name:
                continue
            path = Path(folder, "image")
            path.write_bytes(make_image(width, height, mode))
            result = subprocess.run(
                [sys.executable, __file__, "--src", str(args.src)]
                + ["--case", name, "--file", str(path)]
                + (
                    []
                    if args.max_pixels is None
                    else ["--max-pixels", str(args.max_pixels)]
                ),
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"| {name} | {row['file_kib']:.0f} | {row['peak_growth_mib']:.0f} | "
                f"{row['wall_s']:.2f} | {row['outcome'][:90]} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
