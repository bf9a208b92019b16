"""Hostile and large images: refused from the header, or shrunk as early as possible."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from brain_tumor_mri.core.images.decoding import read_header
from brain_tumor_mri.core.images.limits import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    check_formats,
)
from brain_tumor_mri.core.images.loading import load_rgb, resize_rgb
from tests.conftest import PROJECT_ROOT
from tests.helpers.raw_folders import (
    hostile_formats,
)


def slice_png(width: int, height: int, sixteen_bit: bool) -> bytes:
    """A mostly black slice with a bright disc: a few hundred KiB, large once decoded."""
    image = Image.new("L", (width, height))
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=200
    )
    if sixteen_bit:
        image = Image.fromarray(np.asarray(image, dtype=np.uint16) * 250)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def peak_growth_bytes(function) -> tuple[object, int]:
    """``function()``'s result and how much the resident memory grew at its peak (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS restarts from now
    before = _status_kib("VmRSS")
    result = function()
    return result, (_status_kib("VmHWM") - before) * 1024


def test_image_over_the_limit_is_refused_from_its_header():
    data = slice_png(6000, 6000, sixteen_bit=True)  # 36 MP, 300 KiB on the wire
    start = time.perf_counter()
    with pytest.raises(ImageReadError) as error:
        peak_growth_bytes(lambda: load_rgb(data, (150, 150)))
    assert str(error.value) == (
        f"image is 6000 x 6000 pixels, over the limit of {DEFAULT_MAX_PIXELS}"
    )
    assert time.perf_counter() - start < 1.0  # no pixel was decoded
    with pytest.raises(ImageReadError, match="image is 6000 x 6000 pixels"):
        read_header(data, max_pixels=DEFAULT_MAX_PIXELS)
    assert read_header(data).width == 6000  # without a limit, the header alone


def test_the_limit_is_a_parameter():
    data = slice_png(300, 200, sixteen_bit=False)
    with pytest.raises(
        ImageReadError, match="300 x 200 pixels, over the limit of 5999"
    ):
        load_rgb(data, (150, 150), max_pixels=5999)
    assert load_rgb(data, (150, 150), max_pixels=60_000).shape == (150, 150, 3)
    assert (
        "max_image_pixels: 25000000"
        in (PROJECT_ROOT / "conf/base/parameters.yml").read_text()
    )


@pytest.mark.parametrize("sixteen_bit", [True, False], ids=["16-bit", "8-bit"])
def test_decoding_below_the_limit_takes_a_small_multiple_of_the_8_bit_size(
    sixteen_bit: bool,
):
    width, height = 5000, 4000  # 20 MP, under the limit
    data = slice_png(width, height, sixteen_bit)
    rgb, growth = peak_growth_bytes(lambda: load_rgb(data, (150, 150)))
    assert rgb.shape == (150, 150, 3)
    eight_bit_rgb = width * height * 3
    assert growth < 2 * eight_bit_rgb, f"{growth / 2**20:.0f} MiB"


def test_early_shrinking_keeps_the_result_and_the_16_bit_rescale():
    gray = np.zeros((1800, 2400), dtype=np.uint16)
    gray[300:1500, 400:2000] = np.linspace(0, 3000, 1600, dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    data = buffer.getvalue()
    shrunk = load_rgb(data, (150, 200))
    full = load_rgb(data)
    assert full.max() == 255  # rescaled by the maximum, not clipped
    reference = resize_rgb(full, (150, 200))
    assert np.abs(shrunk.astype(int) - reference.astype(int)).mean() < 1.0
    assert shrunk.max() >= 250


def test_a_format_is_read_only_when_the_allow_list_names_it(shared_data_dir: Path):
    real = shared_data_dir / "Testing" / "glioma_tumor" / "image(1).jpg"
    tiff = hostile_formats(Image.open(real))["scan.tif"]
    with pytest.raises(ImageReadError, match="TIFF image, not an accepted format"):
        load_rgb(tiff, (32, 32))
    assert load_rgb(tiff, (32, 32), formats=["JPEG", "PNG", "TIFF"]).shape == (
        32,
        32,
        3,
    )
    with pytest.raises(ValueError, match="EPS can never be allowed"):
        check_formats(["JPEG", "EPS"])
    with pytest.raises(ImageReadError, match="not an image file"):
        read_header(b"plain text, no format at all")
