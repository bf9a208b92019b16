"""DICOM files as a viewer shows them: one 8-bit slice per file, no patient data out.

A file is a DICOM when its bytes carry the ``DICM`` marker after the 128-byte
preamble (PS3.10), whatever its name. Its stored values become an 8-bit slice the
way a viewer's grey-scale pipeline does (PS3.4 N.2): the modality LUT (rescale slope
and intercept, or a Modality LUT Sequence), then the first VOI LUT of the file or
else its first window (centre and width), else the 1st-99th percentile window of the
pixels above the image's minimum (as ``image_preprocessing.intensity: percentile``
does for 8-bit images); ``MONOCHROME1`` is inverted so that bright is dense. Colour
files (RGB, YBR, palette) are converted to 8-bit RGB. A multi-frame file is read as
its middle frame only: every other input of the project is one slice per file, one
label per file and one answer per row of the served model.

A one-frame JPEG Baseline file is decoded by Pillow, shrunk while decoding as the
loader does for JPEG files, so that it gives the very pixels of the same JPEG outside
a DICOM. Other compressed transfer syntaxes are decoded by pydicom's plugins: pylibjpeg with
pylibjpeg-libjpeg (JPEG baseline, extended, lossless and JPEG-LS), pylibjpeg-openjpeg
(JPEG 2000, HTJ2K) and pylibjpeg-rle (RLE), or GDCM where it is installed.

Only the pixel module's attributes (sizes, bit depth, photometric interpretation,
rescale, window, transfer syntax and SOP class) are read; no message of this module
quotes another attribute, and pydicom's checks of values on reading are off, as their
warnings would quote the values (names, identifiers, dates) they find invalid.
"""

from __future__ import annotations

import io
import struct
from typing import NamedTuple

import numpy as np
from PIL import Image
from pydicom import config, dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    get_decoder,
    pixel_array,
)
from pydicom.uid import UID, JPEGBaseline8Bit

config.settings.reading_validation_mode = config.IGNORE

# The format name that the image loader reports for a DICOM file (``ImageHeader``).
DICOM_FORMAT = "DICOM"
PREAMBLE = 128
MAGIC = b"DICM"
# The window of a file without VOI LUT or window: these percentiles of the pixels
# above the image's minimum (its background), as image_preprocessing's percentile.
FALLBACK_PERCENTILES = (1.0, 99.0)
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
# Photometric interpretations of a JPEG Baseline frame that Pillow decodes as a viewer.
JPEG_AS_PILLOW_READS = ("MONOCHROME1", "MONOCHROME2", "YBR_FULL", "YBR_FULL_422")
PLUGINS = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"


class DicomReadError(ValueError):
    """A DICOM file that cannot be read as an image, with a one-line reason."""


class DicomHeader(NamedTuple):
    """What the loader needs before decoding: the slice's size and colour mode."""

    width: int
    height: int
    mode: str
    frames: int


def is_dicom(data: bytes) -> bool:
    """True when the bytes carry the DICOM marker ``DICM`` after the 128-byte preamble."""
    return data[PREAMBLE : PREAMBLE + len(MAGIC)] == MAGIC


def _sop_class(dataset: Dataset) -> str:
    uid = dataset.get("SOPClassUID")
    return f"SOP class {UID(uid).name}" if uid else "no SOP class"


def _is_image_class(dataset: Dataset) -> bool:
    """True unless the SOP class is a known one that holds no image (a report, a
    plan, a waveform...); a missing or cut SOP class may be an image's."""
    uid = dataset.get("SOPClassUID")
    return (
        not uid
        or not UID(uid).is_valid
        or "Image" in UID(uid).name
        or (UID(uid).name == str(uid))
    )


def _open(data: bytes, with_pixels: bool) -> Dataset:
    try:
        return dcmread(io.BytesIO(data), stop_before_pixels=not with_pixels)
    except (
        InvalidDicomError,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        struct.error,
    ) as error:
        raise DicomReadError(f"corrupt or truncated DICOM header: {error}") from error


def _header(dataset: Dataset) -> DicomHeader:
    """The slice's size and mode; a file that is not an image raises ``DicomReadError``."""
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        samples = int(dataset.get("SamplesPerPixel", 1))
        photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
        frames = int(dataset.get("NumberOfFrames") or 1)
    except AttributeError as error:
        if _is_image_class(dataset):
            raise DicomReadError(
                "truncated or incomplete DICOM: no image attributes (Rows, Columns) "
                f"({_sop_class(dataset)})"
            ) from error
        raise DicomReadError(
            f"not an image: the DICOM has no pixel data ({_sop_class(dataset)}), "
            "e.g. a report; export the images of the series instead"
        ) from error
    except (TypeError, ValueError) as error:
        raise DicomReadError(f"invalid DICOM image attributes: {error}") from error
    if photometric not in COLOUR + MONOCHROME:
        raise DicomReadError(
            f"unsupported DICOM photometric interpretation '{photometric}'"
        )
    colour = samples == 3 or photometric == "PALETTE COLOR"
    return DicomHeader(columns, rows, "RGB" if colour else "L", max(frames, 1))


def read_dicom_header(data: bytes) -> DicomHeader:
    """The slice's size and mode from the DICOM header, without reading pixel data."""
    return _header(_open(data, with_pixels=False))


def _check_decoder(dataset: Dataset) -> None:
    """Raise ``DicomReadError`` naming what to install when no plugin decodes the file."""
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise DicomReadError("DICOM without a transfer syntax in its file meta header")
    syntax = UID(syntax)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as error:
        raise DicomReadError(
            f"unsupported DICOM transfer syntax '{syntax.name}' ({syntax}): no "
            "decoder exists for it; convert the file to an uncompressed or JPEG "
            "transfer syntax"
        ) from error
    if not decoder.is_available:
        raise DicomReadError(
            f"DICOM transfer syntax '{syntax.name}' needs a decoder plugin that is "
            f"not installed: {PLUGINS} (or: pip install python-gdcm)"
        )


def _scale_to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scale = 255.0 / max(high - low, np.finfo(np.float64).eps)
    return np.rint(np.clip((values - low) * scale, 0, 255)).astype(np.uint8)


def _voi_range(dataset: Dataset) -> tuple[float, float] | None:
    """The output range of the VOI step that ``apply_voi_lut`` applies, None without one.

    A window maps onto the range of the modality LUT's output (pydicom's
    ``apply_windowing``); a VOI LUT onto its own entries' range.
    """
    items = dataset.get("VOILUTSequence")
    if items and "LUTDescriptor" in items[0] and "LUTData" in items[0]:
        entries, first, _ = items[0].LUTDescriptor
        inputs = np.arange(first, first + (entries or 1 << 16))
        table = apply_voi_lut(inputs, dataset)
        return float(table.min()), float(table.max())
    if dataset.get("WindowCenter") is None or dataset.get("WindowWidth") is None:
        return None
    bits = int(dataset.BitsStored)
    if dataset.get("ModalityLUTSequence"):
        low, high = 0.0, float(2 ** dataset.ModalityLUTSequence[0].LUTDescriptor[2] - 1)
    elif int(dataset.get("PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = dataset.get("RescaleSlope"), dataset.get("RescaleIntercept")
    if (
        slope is not None
        and intercept is not None
        and not dataset.get("ModalityLUTSequence")
    ):
        low, high = sorted(
            (
                low * float(slope) + float(intercept),
                high * float(slope) + float(intercept),
            )
        )
    return low, high


def _percentile_window(values: np.ndarray) -> tuple[float, float]:
    foreground = values[values > values.min()]
    if not foreground.size:
        return float(values.min()), float(values.min()) + 1.0
    low, high = np.percentile(foreground, FALLBACK_PERCENTILES)
    return float(low), float(max(high, low + 1.0))


def _voi_window(values: np.ndarray, dataset: Dataset) -> np.ndarray | None:
    """The file's VOI LUT or window applied, on 0-255; None without a usable one."""
    voi_range = _voi_range(dataset)
    if voi_range is None:
        return None
    try:
        windowed = apply_voi_lut(values, dataset)
    except (ValueError, NotImplementedError):
        return None  # e.g. a window narrower than 1: the percentile window instead
    return _scale_to_uint8(np.asarray(windowed, np.float64), *voi_range)


def grey_to_uint8(stored: np.ndarray, dataset: Dataset) -> np.ndarray:
    """A monochrome frame's stored values as a viewer's 8-bit slice (see module doc)."""
    values = apply_modality_lut(stored, dataset)
    inverted = dataset.get("PhotometricInterpretation") == "MONOCHROME1"
    windowed = _voi_window(values, dataset)
    if windowed is not None:
        return 255 - windowed if inverted else windowed
    # MONOCHROME1 stores its background (air) as its maximum: negated, the minimum.
    values = np.asarray(values, dtype=np.float64) * (-1.0 if inverted else 1.0)
    return _scale_to_uint8(values, *_percentile_window(values))


def colour_to_uint8(stored: np.ndarray, dataset: Dataset) -> np.ndarray:
    """A colour frame (RGB after pydicom's YBR conversion, or palette) as 8-bit RGB."""
    if dataset.get("PhotometricInterpretation") == "PALETTE COLOR":
        stored = apply_color_lut(stored, dataset)
    if stored.dtype == np.uint8:
        return stored
    peak = max(float(stored.max()), 1.0)
    return _scale_to_uint8(stored.astype(np.float64), 0.0, max(peak, 255.0))


def _baseline_jpeg(dataset: Dataset, header: DicomHeader) -> bytes | None:
    """The JPEG stream of a one-frame JPEG Baseline file whose colours Pillow reads as
    the file says (grey, or YCbCr); None for any other file."""
    if (
        dataset.file_meta.get("TransferSyntaxUID") != JPEGBaseline8Bit
        or header.frames != 1
        or dataset.get("PhotometricInterpretation") not in JPEG_AS_PILLOW_READS
    ):
        return None
    return next(generate_frames(dataset.PixelData, number_of_frames=1))


def _decode_baseline_jpeg(
    jpeg: bytes, dataset: Dataset, draft_size: tuple[int, int]
) -> np.ndarray:
    """A JPEG Baseline frame decoded by Pillow, shrunk while decoding as JPEG files are
    (``images.decode_image``): the same pixels as the same JPEG outside a DICOM."""
    with Image.open(io.BytesIO(jpeg)) as image:
        grey = image.mode == "L"
        image.draft("L" if grey else "RGB", draft_size)
        pixels = np.asarray(image.convert("L" if grey else "RGB"))
    return grey_to_uint8(pixels, dataset) if grey else pixels


def decode_dicom(data: bytes, draft_size: tuple[int, int] | None = None) -> np.ndarray:
    """The 8-bit slice (H, W) or RGB slice (H, W, 3) of a DICOM's middle frame.

    Callers check ``read_dicom_header``'s size against their limits first: this
    decodes the pixel data. With ``draft_size`` (width, height), a JPEG Baseline
    frame is decoded by Pillow at no less than that size, as a JPEG file is. Every
    failure raises ``DicomReadError`` with its reason.
    """
    header_only = _open(data, with_pixels=False)
    header = _header(header_only)
    dataset = _open(data, with_pixels=True)
    if len(dataset) < len(header_only):  # pydicom gives up on a cut pixel data item
        raise DicomReadError(
            "corrupt or truncated DICOM pixel data: the file ends inside its "
            "compressed pixel data"
        )
    if "PixelData" not in dataset:
        raise DicomReadError(
            f"truncated or incomplete DICOM: no pixel data ({_sop_class(dataset)})"
            if _is_image_class(dataset)
            else f"not an image: the DICOM has no pixel data ({_sop_class(dataset)})"
        )
    _check_decoder(dataset)
    try:
        jpeg = _baseline_jpeg(dataset, header) if draft_size else None
        if jpeg is not None:
            return _decode_baseline_jpeg(jpeg, dataset, draft_size)
        frame = pixel_array(
            dataset, index=header.frames // 2 if header.frames > 1 else None
        )
    except Exception as error:  # each plugin raises its own errors
        raise DicomReadError(
            f"corrupt or truncated DICOM pixel data: {error}"
        ) from error
    if header.mode == "RGB":
        return colour_to_uint8(frame, dataset)
    return grey_to_uint8(frame, dataset)
