"""What a DICOM's bytes hold before pydicom decodes them: the size of a compressed
frame as its own codestream says (the SOF marker of JPEG and JPEG-LS, the SIZ marker of
JPEG 2000 and HTJ2K), and the inflated size of a deflated data set, counted while
inflating in bounded steps.

The header's ``Rows`` and ``Columns`` say nothing binding about the codestream inside:
a 64 x 64 header can hold a 16000 x 16000 JPEG 2000 codestream, which its decoder
would allocate in full. These functions read the codestream's own header, so that
``core.dicom`` refuses such a frame before any decoder sees it.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

# JPEG start-of-frame markers (ITU T.81 B.1.1.3: C0-CF except DHT C4, JPG C8, DAC CC)
# and JPEG-LS's SOF55 (ITU T.87 C.2.2).
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
# Markers without a length: TEM and the restart markers RST0-RST7.
JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
JPEG_SOS = 0xDA
# JPEG 2000: SOC then SIZ (ISO 15444-1 A.5.1), after a JP2 header where one precedes it.
J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
J2K_SEARCH = 4096
# Bytes inflated per step when a deflated data set is measured.
INFLATE_STEP = 1 << 20


class FrameSize(NamedTuple):
    """A codestream's own size: columns, rows and components."""

    width: int
    height: int
    components: int


def _jpeg_sof(stream: bytes, position: int) -> FrameSize | None:
    if position + 10 > len(stream):
        return None
    height, width = struct.unpack_from(">HH", stream, position + 5)
    return FrameSize(width, height, stream[position + 9]) if height else None


def jpeg_frame_size(stream: bytes) -> FrameSize | None:
    """The size in the first SOF marker of a JPEG or JPEG-LS stream; None when the
    stream has no SOF before its first scan, or a height of 0 (set later by DNL)."""
    if stream[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(stream):
        if stream[position] != 0xFF:
            return None
        marker = stream[position + 1]
        if marker == 0xFF:  # a fill byte
            position += 1
        elif marker in JPEG_STANDALONE:
            position += 2
        elif marker in JPEG_SOF:
            return _jpeg_sof(stream, position)
        elif marker == JPEG_SOS:
            return None
        else:
            position += 2 + int.from_bytes(stream[position + 2 : position + 4], "big")
    return None


def j2k_frame_size(stream: bytes) -> FrameSize | None:
    """The image size in the SIZ marker of a JPEG 2000 (or HTJ2K) codestream; None
    without one in the stream's first bytes."""
    start = stream.find(J2K_SOC_SIZ, 0, J2K_SEARCH)
    if start < 0 or start + 42 > len(stream):
        return None
    xsiz, ysiz, x_offset, y_offset = struct.unpack_from(">IIII", stream, start + 8)
    (components,) = struct.unpack_from(">H", stream, start + 40)
    if xsiz <= x_offset or ysiz <= y_offset:
        return None
    return FrameSize(xsiz - x_offset, ysiz - y_offset, components)


def inflated_size(deflated: bytes, limit: int) -> int:
    """The size of raw-deflated bytes once inflated, counted ``INFLATE_STEP`` bytes
    at a time (nothing larger is held); ``limit + 1`` as soon as it passes ``limit``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total, pending = 0, deflated
    while pending and total <= limit:
        total += len(inflater.decompress(pending, INFLATE_STEP))
        pending = inflater.unconsumed_tail
    total += len(inflater.flush(INFLATE_STEP)) if total <= limit else 0
    return min(total, limit + 1)
