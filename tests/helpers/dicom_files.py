"""DICOM files for the tests: written with pydicom from the data set's real JPEGs, and
the real files that pydicom ships (``pydicom.data``, bundled in its wheel).

Every file written here carries identifying tags (``IDENTIFYING``) that must never
reach an output: the tests look for these values in predictions, logs, MLflow and
the report.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
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
