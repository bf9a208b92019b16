"""DICOM files for the tests: written with pydicom from the data set's real JPEGs, and
the real files that pydicom ships (``pydicom.data``, bundled in its wheel).

Every file written here carries identifying tags (``IDENTIFYING``) that must never
reach an output: the tests look for these values in predictions, logs, MLflow and
the report.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    generate_uid,
)

# Identifying attributes and their (made-up) values, written into every test DICOM.
IDENTIFYING = {
    "PatientName": "Doe^Jane^Quincy",
    "PatientID": "PID-8675309",
    "PatientBirthDate": "19610704",
    "StudyDate": "20240229",
    "SeriesDate": "20240229",
    "AcquisitionDateTime": "20240229093112",
    "InstitutionName": "Saint Nowhere Infirmary",
    "ReferringPhysicianName": "House^Gregory",
    "AccessionNumber": "ACC-4242-XYZ",
    "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.424242424242",
}
# The linear window (PS3.3 C.11.2.1.2.1) that maps 8-bit values 0-255 onto themselves.
IDENTITY_WINDOW = {"WindowCenter": 128, "WindowWidth": 256}
# MPEG-2 video, for which pydicom has no pixel decoder at all.
MPEG2 = "1.2.840.10008.1.2.4.100"


def bundled(name: str) -> bytes:
    """A test file that pydicom ships in its wheel, e.g. ``MR_small.dcm``."""
    return Path(get_testdata_file(name)).read_bytes()


def _dataset(syntax: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = MRImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "MR"
    for keyword, value in IDENTIFYING.items():
        setattr(dataset, keyword, value)
    return dataset


def _file(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def uncompressed(
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    **attributes,
) -> bytes:
    """An uncompressed DICOM of ``pixels``: (rows, columns), (rows, columns, 3), or
    (frames, rows, columns) with ``NumberOfFrames``; ``attributes`` are added."""
    dataset = _dataset(ExplicitVRLittleEndian)
    bits = bits_stored or 8 * pixels.dtype.itemsize
    dataset.set_pixel_data(pixels, photometric, bits, generate_instance_uid=False)
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return _file(dataset)


def jpeg_wrapped(jpeg: bytes) -> bytes:
    """A JPEG Baseline DICOM whose pixel data is ``jpeg``, byte for byte."""
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height, colour = image.width, image.height, image.mode != "L"
    dataset = _dataset(JPEGBaseline8Bit)
    dataset.Rows, dataset.Columns = height, width
    dataset.SamplesPerPixel = 3 if colour else 1
    dataset.PhotometricInterpretation = "YBR_FULL_422" if colour else "MONOCHROME2"
    if colour:
        dataset.PlanarConfiguration = 0
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelRepresentation = 0
    dataset.PixelData = encapsulate([jpeg])
    dataset["PixelData"].VR = "OB"
    return _file(dataset)


def unsupported_syntax(gray: np.ndarray) -> bytes:
    """A DICOM that declares MPEG-2 video (no decoder exists) for its pixel data."""
    dataset = _dataset(MPEG2)
    dataset.Rows, dataset.Columns = gray.shape
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelRepresentation = 0
    dataset.PixelData = encapsulate([b"\xff\x0a" + bytes(64)])
    dataset["PixelData"].VR = "OB"
    return _file(dataset)


def decoded(jpeg: bytes, mode: str) -> np.ndarray:
    """The JPEG's pixels in ``mode`` (``L`` or ``RGB``), as Pillow decodes them."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert(mode))


def monochrome1(gray: np.ndarray) -> bytes:
    """``gray`` stored inverted, as MONOCHROME1 (0 is white), with the window that maps
    0-255 onto itself (centre 128, width 256): a viewer shows ``gray``."""
    return uncompressed(255 - gray, "MONOCHROME1", **IDENTITY_WINDOW)


def signed16_windowed(gray: np.ndarray) -> bytes:
    """``gray`` as signed 16-bit values with a rescale and a window that map them back
    to ``gray`` exactly: stored ``8 g - 1000``, rescaled by 0.25 and +250 to ``2 g``,
    then the linear window of centre 255.5 and width 511 (PS3.3 C.11.2.1.2.1) maps
    ``2 g`` to ``g`` on 0-255."""
    stored = gray.astype(np.int16) * 8 - 1000
    return uncompressed(
        stored,
        bits_stored=16,
        RescaleSlope=0.25,
        RescaleIntercept=250,
        WindowCenter=255.5,
        WindowWidth=511,
    )


def voi_lut(gray: np.ndarray) -> bytes:
    """``gray`` with a 16-bit VOI LUT Sequence of 256 entries ``100 g + 500``, which a
    viewer stretches from its first to its last entry: it shows ``gray``."""
    table = Dataset()
    table.add_new("LUTDescriptor", "US", [256, 0, 16])
    table.add_new("LUTData", "US", [100 * value + 500 for value in range(256)])
    return uncompressed(gray, VOILUTSequence=[table])


def multiframe(middle: np.ndarray) -> bytes:
    """Three frames, ``middle`` the second, the first and last black and white; with
    the window that maps 0-255 onto itself."""
    frames = np.stack([np.zeros_like(middle), middle, np.full_like(middle, 255)])
    return uncompressed(frames, **IDENTITY_WINDOW)


def _dataset_bytes(data: bytes) -> tuple[bytes, bytes]:
    """A file's file meta group (with the preamble) and its data set, split."""
    (group_length,) = struct.unpack_from("<I", data, 140)
    end = 144 + group_length
    return data[:end], data[end:]


def deflated_with_private_element(pixels: np.ndarray, private_bytes: int) -> bytes:
    """A deflated DICOM of ``pixels`` followed by a private element of
    ``private_bytes`` zeros (group 7FE1, after the pixel data), deflated in steps: a
    small file that inflates to more than ``private_bytes``."""
    meta, _ = _dataset_bytes(_file(_dataset(DeflatedExplicitVRLittleEndian)))
    _, body = _dataset_bytes(uncompressed(pixels))
    creator = struct.pack("<HH2sH", 0x7FE1, 0x0010, b"LO", 4) + b"BOMB"
    element = struct.pack("<HH2sHI", 0x7FE1, 0x1010, b"OB", 0, private_bytes)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [meta, deflater.compress(body + creator + element)]
    step = bytes(1 << 24)
    for start in range(0, private_bytes, len(step)):
        parts.append(deflater.compress(step[: private_bytes - start]))
    parts.append(deflater.flush())
    return b"".join(parts)


def with_frame_size(data: bytes, marker: bytes, offset: int, size: bytes) -> bytes:
    """``data`` with ``size`` written ``offset`` bytes after the first ``marker``:
    a codestream whose own header says another size than the DICOM's."""
    start = data.index(marker) + offset
    return data[:start] + size + data[start + len(size) :]


def j2k_bomb(width: int, height: int) -> bytes:
    """pydicom's 64 x 64 JPEG 2000 MR slice whose SIZ marker says ``width`` x
    ``height`` (Xsiz, Ysiz; the offsets are 0)."""
    data = bundled("MR_small_jp2klossless.dcm")
    return with_frame_size(
        data, b"\xff\x4f\xff\x51", 8, struct.pack(">II", width, height)
    )


def jpeg_frames_bomb(gray: np.ndarray, width: int, height: int) -> bytes:
    """A two-frame JPEG Baseline DICOM of ``gray`` (decoded by pydicom's plugin, not
    Pillow) whose frames' SOF marker says ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    rows, columns = gray.shape
    sof = jpeg.index(b"\xff\xc0")
    frame = jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]
    dataset = _dataset(JPEGBaseline8Bit)
    dataset.Rows, dataset.Columns, dataset.NumberOfFrames = rows, columns, 2
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelRepresentation = 0
    dataset.PixelData = encapsulate([frame, frame])
    dataset["PixelData"].VR = "OB"
    return _file(dataset)
