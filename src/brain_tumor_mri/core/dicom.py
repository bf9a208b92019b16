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

Only the pixel module's attributes (``PIXEL_TAGS``: sizes, bit depth, photometric
interpretation, LUTs, rescale, window, SOP class; and the transfer syntax) are read:
pydicom skips every other value. No reason quotes a value read from the file (a cut
length can make one value swallow the next elements): a reason names keywords, the
standard's UID names, sizes, and the class of an error, never its message. pydicom's
checks of values on reading are off, as their warnings would quote the values they
find invalid, and its logger is quiet.

Before pydicom inflates a deflated data set or a plugin decodes a compressed frame,
the inflated size (``MAX_INFLATED_BYTES``) and the frame's own size in its codestream
(``core.dicom_streams``) are checked.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from PIL import Image
from pydicom import config, dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames, get_frame
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    get_decoder,
    pixel_array,
)
from pydicom.uid import (
    UID,
    JPEG2000TransferSyntaxes,
    JPEGBaseline8Bit,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from brain_tumor_mri.core.dicom_streams import (
    FrameSize,
    inflated_size,
    j2k_frame_size,
    jpeg_frame_size,
)

config.settings.reading_validation_mode = config.IGNORE
# pydicom logs each decoder plugin's failure with its traceback; the file's reason says
# it on one line. Set here, where pydicom is used, so that the served model (which
# runs without Kedro and framework/warning_filters.py) is as quiet as the pipelines.
logging.getLogger("pydicom").setLevel(logging.CRITICAL)

# The format name that the image loader reports for a DICOM file (``ImageHeader``).
DICOM_FORMAT = "DICOM"
PREAMBLE = 128
MAGIC = b"DICM"
# The window of a file without VOI LUT or window: these percentiles of the pixels
# above the image's minimum (its background), as image_preprocessing's percentile.
FALLBACK_PERCENTILES = (1.0, 99.0)
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
# The other defined terms of PS3.3 C.7.6.3.1.2 (current and retired), which a reason
# may name; any other value is not quoted, as it may be another attribute's bytes.
OTHER_PHOTOMETRIC = ("YBR_PARTIAL_420", "YBR_PARTIAL_422", "ARGB", "CMYK", "HSV")
# Photometric interpretations of a JPEG Baseline frame that Pillow decodes as a viewer.
JPEG_AS_PILLOW_READS = ("MONOCHROME1", "MONOCHROME2", "YBR_FULL", "YBR_FULL_422")
PLUGINS = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle"
# The largest data set that a deflated file may inflate to (PS3.5 A.5): above any
# slice of 25 MP in 16-bit RGB (150 MB), far below the memory of a served worker.
MAX_INFLATED_BYTES = 256 * 2**20
# The only attributes read from a file (pydicom skips every other value, patient
# data and private elements alike): the image pixel module, the LUTs, the SOP class.
PIXEL_TAGS = (
    "SOPClassUID",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "NumberOfFrames",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
    "ModalityLUTSequence",
    "RescaleIntercept",
    "RescaleSlope",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "VOILUTSequence",
    "ExtendedOffsetTable",
    "ExtendedOffsetTableLengths",
    "FloatPixelData",
    "DoubleFloatPixelData",
    "PixelData",
)
# Integer slices whose range of values is at most this many values go through the
# grey-scale pipeline as a table of their values, looked up pixel by pixel.
MAX_TABLE_ENTRIES = 1 << 20
# Pixels per step of the per-pixel work, which bounds its temporary arrays.
STRIP = 1 << 20


class DicomReadError(ValueError):
    """A DICOM file that cannot be read as an image, with a one-line reason."""


class DicomHeader(NamedTuple):
    """What the loader needs before decoding: the slice's size and colour mode."""

    width: int
    height: int
    mode: str
    frames: int


@contextmanager
def _reason(what: str) -> Iterator[None]:
    """Any error inside becomes ``DicomReadError(what)`` naming the error's class only:
    the messages of pydicom and its plugins may quote bytes of the file."""
    try:
        yield
    except DicomReadError:
        raise
    except Exception as error:  # noqa: BLE001 (every error of one file is its reason)
        raise DicomReadError(f"{what} ({type(error).__name__})") from None


def is_dicom(data: bytes) -> bool:
    """True when the bytes carry the DICOM marker ``DICM`` after the 128-byte preamble."""
    return data[PREAMBLE : PREAMBLE + len(MAGIC)] == MAGIC


def _standard_name(uid: object) -> str | None:
    """The name of a UID of the DICOM standard; None for any other value."""
    try:
        text = str(uid or "")
        name = UID(text).name
    except Exception:  # noqa: BLE001 (an unreadable value names nothing)
        return None
    return name if text and name != text else None


def _sop_class(dataset: Dataset) -> str:
    uid = dataset.get("SOPClassUID")
    name = _standard_name(uid)
    if name:
        return f"SOP class {name}"
    return "a SOP class outside the DICOM standard" if uid else "no SOP class"


def _is_image_class(dataset: Dataset) -> bool:
    """True unless the SOP class is a standard one that holds no image (a report, a
    plan, a waveform...); a missing, private or cut SOP class may be an image's."""
    name = _standard_name(dataset.get("SOPClassUID"))
    return name is None or "Image" in name


def _not_an_image(dataset: Dataset, missing: str) -> DicomReadError:
    with _reason(f"truncated or incomplete DICOM: {missing}"):
        image_class, sop_class = _is_image_class(dataset), _sop_class(dataset)
    if image_class:
        return DicomReadError(f"truncated or incomplete DICOM: {missing} ({sop_class})")
    return DicomReadError(
        f"not an image: the DICOM has no pixel data ({sop_class}), "
        "e.g. a report; export the images of the series instead"
    )


class _BoundedInflation(io.BytesIO):
    """The file for pydicom, which reads a deflated data set whole (``read()``) and
    inflates it in one call: that read first counts the inflated size in bounded
    steps and refuses one over ``MAX_INFLATED_BYTES``."""

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return super().read(size)
        rest = super().read()
        try:
            inflated = inflated_size(rest, MAX_INFLATED_BYTES)
        except zlib.error:
            return rest  # not deflated: pydicom says what it is
        if inflated > MAX_INFLATED_BYTES:
            raise DicomReadError(
                "deflated DICOM data set inflates to more than "
                f"{MAX_INFLATED_BYTES // 2**20} MiB, over the limit"
            )
        return rest


def _open(data: bytes, with_pixels: bool) -> Dataset:
    """The file's pixel module (``PIXEL_TAGS``); every other value is skipped."""
    with _reason("corrupt or truncated DICOM header"):
        dataset = dcmread(
            _BoundedInflation(data),
            stop_before_pixels=not with_pixels,
            specific_tags=list(PIXEL_TAGS),
        )
    dataset.buffer = None  # pydicom keeps the (inflated) file for deferred reads
    return dataset


def _photometric_reason(photometric: str) -> str:
    named = f" '{photometric}'" if photometric in OTHER_PHOTOMETRIC else ""
    return f"unsupported DICOM photometric interpretation{named}"


def _header(dataset: Dataset) -> DicomHeader:
    """The slice's size and mode; a file that is not an image raises ``DicomReadError``."""
    if "Rows" not in dataset or "Columns" not in dataset:
        raise _not_an_image(dataset, "no image attributes (Rows, Columns)")
    with _reason("invalid DICOM image attributes (Rows, Columns, SamplesPerPixel...)"):
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        samples = int(dataset.get("SamplesPerPixel", 1))
        photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
        frames = int(dataset.get("NumberOfFrames") or 1)
    if photometric not in COLOUR + MONOCHROME:
        raise DicomReadError(_photometric_reason(photometric))
    colour = samples == 3 or photometric == "PALETTE COLOR"
    return DicomHeader(columns, rows, "RGB" if colour else "L", max(frames, 1))


def read_dicom_header(data: bytes) -> DicomHeader:
    """The slice's size and mode from the DICOM header, without reading pixel data."""
    return _header(_open(data, with_pixels=False))


def _syntax_name(syntax: UID) -> str:
    name = _standard_name(syntax)
    return f"'{name}' ({syntax})" if name else "(a UID outside the DICOM standard)"


def _check_decoder(dataset: Dataset) -> UID:
    """The transfer syntax; ``DicomReadError`` naming what to install when no plugin
    decodes it."""
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise DicomReadError("DICOM without a transfer syntax in its file meta header")
    syntax = UID(syntax)
    try:
        decoder = get_decoder(syntax)
    except Exception:  # noqa: BLE001 (NotImplementedError, or an odd UID)
        raise DicomReadError(
            f"unsupported DICOM transfer syntax {_syntax_name(syntax)}: no decoder "
            "exists for it; convert the file to an uncompressed or JPEG transfer syntax"
        ) from None
    if not decoder.is_available:
        raise DicomReadError(
            f"DICOM transfer syntax {_syntax_name(syntax)} needs a decoder plugin "
            f"that is not installed: {PLUGINS} (or: pip install python-gdcm)"
        )
    return syntax


def _scale_to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` from ``low``-``high`` onto 0-255, ``STRIP`` pixels at a time."""
    scale = 255.0 / max(high - low, np.finfo(np.float64).eps)
    flat = values.reshape(-1)
    scaled = np.empty(flat.shape, np.uint8)
    for start in range(0, flat.size, STRIP):
        part = np.asarray(flat[start : start + STRIP], np.float64)
        scaled[start : start + STRIP] = np.rint(np.clip((part - low) * scale, 0, 255))
    return scaled.reshape(values.shape)


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


def _weighted_percentiles(
    values: np.ndarray, counts: np.ndarray
) -> tuple[float, float]:
    """``np.percentile(FALLBACK_PERCENTILES)`` (linear) of the pixels whose distinct
    values are ``values``, each ``counts`` times."""
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(counts[order])
    last = int(cumulative[-1]) - 1
    found = []
    for percentile in FALLBACK_PERCENTILES:
        position = percentile / 100 * last
        below = int(np.floor(position))
        low, high = values[
            np.searchsorted(cumulative, [below, min(below + 1, last)], "right")
        ]
        found.append(float(low + (position - below) * (high - low)))
    return found[0], found[1]


def _percentile_window(
    values: np.ndarray, counts: np.ndarray | None = None
) -> tuple[float, float]:
    """The fallback window of the pixels' values, or of distinct values and counts."""
    if counts is not None:
        values, counts = values[counts > 0], counts[counts > 0]
    foreground = values > values.min()
    if not foreground.any():
        return float(values.min()), float(values.min()) + 1.0
    if counts is None:
        low, high = np.percentile(values[foreground], FALLBACK_PERCENTILES)
    else:
        low, high = _weighted_percentiles(values[foreground], counts[foreground])
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


def _grey(
    stored: np.ndarray, dataset: Dataset, counts: np.ndarray | None = None
) -> np.ndarray:
    """The viewer's pipeline on stored values (pixels, or distinct values and their
    ``counts``)."""
    values = apply_modality_lut(stored, dataset)
    inverted = dataset.get("PhotometricInterpretation") == "MONOCHROME1"
    windowed = _voi_window(values, dataset)
    if windowed is not None:
        return 255 - windowed if inverted else windowed
    # MONOCHROME1 stores its background (air) as its maximum: negated, the minimum.
    values = np.asarray(values, dtype=np.float64) * (-1.0 if inverted else 1.0)
    return _scale_to_uint8(values, *_percentile_window(values, counts))


def _value_counts(stored: np.ndarray, low: int, entries: int) -> np.ndarray:
    flat, counts = stored.reshape(-1), np.zeros(entries, np.int64)
    for start in range(0, flat.size, STRIP):
        part = flat[start : start + STRIP].astype(np.int64) - low
        counts += np.bincount(part, minlength=entries)
    return counts


def _look_up(table: np.ndarray, stored: np.ndarray, low: int) -> np.ndarray:
    flat, shown = stored.reshape(-1), np.empty(stored.size, np.uint8)
    for start in range(0, flat.size, STRIP):
        shown[start : start + STRIP] = table[
            flat[start : start + STRIP].astype(np.int64) - low
        ]
    return shown.reshape(stored.shape)


def grey_to_uint8(stored: np.ndarray, dataset: Dataset) -> np.ndarray:
    """A monochrome frame's stored values as a viewer's 8-bit slice (see module doc).

    Integer values go through the pipeline once per distinct value (a table of at
    most ``MAX_TABLE_ENTRIES``), then are looked up: the same slice as per pixel, with
    no float copy of the frame.
    """
    if stored.dtype.kind not in "iu" or not stored.size:
        return _grey(stored, dataset)
    low, high = int(stored.min()), int(stored.max())
    if high - low >= MAX_TABLE_ENTRIES:
        return _grey(stored, dataset)
    entries = np.arange(low, high + 1).astype(stored.dtype)
    counts = _value_counts(stored, low, high - low + 1)
    return _look_up(_grey(entries, dataset, counts), stored, low)


def colour_to_uint8(stored: np.ndarray, dataset: Dataset) -> np.ndarray:
    """A colour frame (RGB after pydicom's YBR conversion, or palette) as 8-bit RGB."""
    if dataset.get("PhotometricInterpretation") == "PALETTE COLOR":
        stored = apply_color_lut(stored, dataset)
    if stored.dtype == np.uint8:
        return stored
    peak = max(float(stored.max()), 1.0)
    return _scale_to_uint8(stored, 0.0, max(peak, 255.0))


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


def _codestream_size(syntax: UID, stream: bytes) -> FrameSize | None:
    if syntax in JPEG2000TransferSyntaxes:
        return j2k_frame_size(stream)
    return jpeg_frame_size(stream)


def _check_frame_size(
    dataset: Dataset, header: DicomHeader, syntax: UID, max_pixels: int | None
) -> None:
    """Refuse a compressed frame whose own codestream is larger than ``max_pixels``
    or than the header says, before any decoder allocates it."""
    if syntax not in JPEGTransferSyntaxes + JPEGLSTransferSyntaxes + (
        JPEG2000TransferSyntaxes
    ):
        return
    with _reason("corrupt DICOM pixel data: its compressed frames cannot be found"):
        stream = get_frame(
            dataset.PixelData, header.frames // 2, number_of_frames=header.frames
        )
        size = _codestream_size(syntax, stream)
    if size is None:
        raise DicomReadError(
            "corrupt DICOM pixel data: its compressed frame does not say its size"
        )
    pixels = size.width * size.height
    if max_pixels is not None and pixels > max_pixels:
        raise DicomReadError(
            f"compressed frame is {size.width} x {size.height} pixels, over the "
            f"limit of {max_pixels}"
        )
    if pixels > header.width * header.height or size.components > 4:
        raise DicomReadError(
            f"compressed frame is {size.width} x {size.height} pixels of "
            f"{size.components} components, more than its header's "
            f"{header.width} x {header.height}"
        )


def _check_pixel_data(dataset: Dataset, header_length: int) -> None:
    if len(dataset) < header_length:  # pydicom gives up on a cut pixel data item
        raise DicomReadError(
            "corrupt or truncated DICOM pixel data: the file ends inside its "
            "compressed pixel data"
        )
    if "PixelData" not in dataset:
        raise _not_an_image(dataset, "no pixel data")


def _decode_frame(
    dataset: Dataset, header: DicomHeader, draft_size: tuple[int, int] | None
) -> np.ndarray | None:
    """The middle frame's stored values; None for a JPEG Baseline frame that
    ``_decode_baseline_jpeg`` decodes."""
    if draft_size and _baseline_jpeg(dataset, header) is not None:
        return None
    return pixel_array(dataset, index=header.frames // 2 if header.frames > 1 else None)


def decode_dicom(
    data: bytes,
    draft_size: tuple[int, int] | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """The 8-bit slice (H, W) or RGB slice (H, W, 3) of a DICOM's middle frame.

    Callers check ``read_dicom_header``'s size against their limits first: this
    decodes the pixel data, after checking a compressed frame's own size against
    ``max_pixels`` and the header. With ``draft_size`` (width, height), a JPEG
    Baseline frame is decoded by Pillow at no less than that size, as a JPEG file is.
    Every failure raises ``DicomReadError`` with a one-line reason.
    """
    header_only = _open(data, with_pixels=False)
    header = _header(header_only)
    dataset = _open(data, with_pixels=True)
    with _reason("corrupt or truncated DICOM pixel data"):
        _check_pixel_data(dataset, len(header_only))
        syntax = _check_decoder(dataset)
        _check_frame_size(dataset, header, syntax, max_pixels)
    with _reason(
        f"corrupt or truncated DICOM pixel data, or not conformant to its transfer "
        f"syntax {_syntax_name(syntax)}: no installed decoder reads it"
    ):
        frame = _decode_frame(dataset, header, draft_size)
        if frame is None:
            jpeg = _baseline_jpeg(dataset, header)
            return _decode_baseline_jpeg(jpeg, dataset, draft_size)
    with _reason("invalid DICOM rescale, window or lookup-table attributes"):
        if header.mode == "RGB":
            return colour_to_uint8(frame, dataset)
        return grey_to_uint8(frame, dataset)
