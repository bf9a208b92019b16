"""A compressed frame's own size and a deflated data set's inflated size, read from
real streams: a JPEG that Pillow writes, pydicom's JPEG 2000 MR slice."""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import generate_frames

from brain_tumor_mri.core.dicom_streams import (
    FrameSize,
    inflated_size,
    j2k_frame_size,
    jpeg_frame_size,
)
from tests.helpers import dicom_files


def test_jpeg_size_is_read_from_its_sof_marker():
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((30, 70), np.uint8)).save(buffer, "JPEG")
    assert jpeg_frame_size(buffer.getvalue()) == FrameSize(70, 30, 1)
    assert jpeg_frame_size(b"\xff\xd8\xff\xda" + bytes(20)) is None  # scan, no SOF
    assert jpeg_frame_size(b"not a jpeg") is None


def test_j2k_size_is_read_from_its_siz_marker():
    for data, size in (
        (dicom_files.bundled("MR_small_jp2klossless.dcm"), FrameSize(64, 64, 1)),
        (dicom_files.j2k_bomb(16000, 9000), FrameSize(16000, 9000, 1)),
    ):
        dataset = dcmread(io.BytesIO(data))
        stream = next(generate_frames(dataset.PixelData, number_of_frames=1))
        assert j2k_frame_size(stream) == size
    assert j2k_frame_size(b"\xff\x4f\xff\x51" + bytes(10)) is None  # cut SIZ


def test_inflated_size_stops_counting_past_its_limit():
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = deflater.compress(bytes(50 << 20)) + deflater.flush()
    assert inflated_size(deflated, 100 << 20) == 50 << 20
    assert inflated_size(deflated, 10 << 20) == (10 << 20) + 1
