"""DICOM through the shared image loader: real files that pydicom ships, and DICOMs
written from the data set's real JPEGs (``tests/helpers/dicom_files.py``)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from brain_tumor_mri.core.dicom import (
    FALLBACK_PERCENTILES,
    MAX_INFLATED_BYTES,
    decode_dicom,
)
from brain_tumor_mri.core.images.batches import load_images
from brain_tumor_mri.core.images.decoding import decode_image, read_header
from brain_tumor_mri.core.images.limits import ImageReadError
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.pipelines.preprocessing.nodes import (
    index_raw_files,
    validate_images,
)
from tests.conftest import SHARED_DATA
from tests.helpers import dicom_files
from tests.helpers.raw_folders import CLASSES, IMAGE_INPUT, PREPROCESSING, SOURCE_GROUPS

GLIOMA = SHARED_DATA / "Testing/glioma_tumor/image(1).jpg"
# The model input sizes of the quick profile and of the base configuration.
SIZES = [(64, 64), (150, 150)]


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return GLIOMA.read_bytes()


@pytest.fixture(scope="module")
def gray(jpeg: bytes) -> np.ndarray:
    return dicom_files.decoded(jpeg, "L")


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=-1)


def test_a_dicom_is_recognised_by_its_content_not_its_name(jpeg: bytes):
    data = dicom_files.jpeg_wrapped(jpeg)
    assert read_header(data).format == "DICOM"
    assert read_header(dicom_files.bundled("MR_small.dcm")).format == "DICOM"
    # A file named .dcm that is not one is an unrecognised image, like any other.
    with pytest.raises(ImageReadError, match="not an image file"):
        read_header(b"name,value\nnot,dicom\n" * 20)


@pytest.mark.parametrize("size", SIZES)
def test_jpeg_wrapped_as_dicom_gives_the_pixels_of_the_jpeg(jpeg: bytes, size):
    """The same JPEG stream inside a DICOM is decoded (and shrunk) as the JPEG file."""
    data = dicom_files.jpeg_wrapped(jpeg)
    np.testing.assert_array_equal(load_rgb(data, size), load_rgb(jpeg, size))
    # At full size pydicom's plugin (libjpeg) decodes it: within one level of Pillow.
    full = load_rgb(data).astype(int) - load_rgb(jpeg)
    assert np.abs(full).max() <= 1


def test_uncompressed_rgb_dicom_gives_the_decoded_pixels(jpeg: bytes):
    rgb = dicom_files.decoded(jpeg, "RGB")
    np.testing.assert_array_equal(
        load_rgb(dicom_files.uncompressed(rgb, "RGB")), load_rgb(jpeg)
    )


@pytest.mark.parametrize(
    "write", ["monochrome1", "signed16_windowed", "voi_lut", "multiframe"], ids=str
)
def test_viewer_pipeline_shows_the_slice(gray: np.ndarray, write: str):
    """MONOCHROME1 inverted, a signed 16-bit rescale and window, a VOI LUT, the
    middle frame."""
    data = getattr(dicom_files, write)(gray)
    np.testing.assert_array_equal(load_rgb(data), _rgb(gray))
    header = read_header(data)
    assert (header.width, header.height, header.mode) == (
        gray.shape[1],
        gray.shape[0],
        "L",
    )


def test_without_a_window_the_percentile_window_is_used(gray: np.ndarray):
    """Stored values 16 g + 300 in 16 bits: the 1st-99th percentile of the pixels above
    the minimum stretched to 0-255, as a viewer's default."""
    stored = gray.astype(np.uint16) * 16 + 300
    shown = decode_dicom(dicom_files.uncompressed(stored, bits_stored=16))
    foreground = stored[stored > stored.min()].astype(float)
    low, high = np.percentile(foreground, FALLBACK_PERCENTILES)
    expected = np.clip((stored - low) * 255 / (high - low), 0, 255)
    assert np.abs(shown - np.rint(expected)).max() <= 1
    inverted = decode_dicom(
        dicom_files.uncompressed(stored.max() - stored + 300, "MONOCHROME1", 16)
    )
    assert np.abs(inverted.astype(int) - shown).max() <= 1


def test_every_transfer_syntax_of_pydicoms_mr_slice_decodes_the_same():
    """The real MR slice pydicom ships, uncompressed and compressed (RLE, JPEG 2000,
    JPEG-LS), little and big endian, explicit and implicit VR."""
    reference = load_rgb(dicom_files.bundled("MR_small.dcm"))
    assert reference.shape == (64, 64, 3) and reference.std() > 20
    for name in (
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
    ):
        np.testing.assert_array_equal(
            load_rgb(dicom_files.bundled(name)), reference, err_msg=name
        )


def test_real_colour_and_12_bit_dicoms_decode():
    """pydicom's shipped ultrasound (YBR JPEG, multi-frame), palette and MR overlay
    files: 8-bit RGB at the model's size."""
    for name in ("examples_ybr_color.dcm", "examples_palette.dcm", "JPGExtended.dcm"):
        image = load_rgb(dicom_files.bundled(name), (64, 64))
        assert (image.shape, image.dtype) == ((64, 64, 3), np.uint8), name
        assert image.max() > 0, name


BAD = {
    "a structured report": (
        lambda gray: dicom_files.bundled("reportsi.dcm"),
        "not an image: the DICOM has no pixel data (SOP class Basic Text SR Storage)",
    ),
    "truncated pixel data": (
        lambda gray: dicom_files.bundled("MR_truncated.dcm"),
        "corrupt or truncated DICOM pixel data",
    ),
    "truncated compressed pixel data": (
        lambda gray: dicom_files.jpeg_wrapped(GLIOMA.read_bytes())[:5000],
        "corrupt or truncated DICOM pixel data: the file ends inside its compressed",
    ),
    "truncated header": (
        lambda gray: dicom_files.monochrome1(gray)[:300],
        "truncated or incomplete DICOM",
    ),
    "an unsupported transfer syntax": (
        dicom_files.unsupported_syntax,
        "unsupported DICOM transfer syntax 'MPEG2 Main Profile / Main Level'",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_dicom_gets_a_one_line_reason_without_patient_data(
    case: str, gray: np.ndarray, caplog
):
    write, reason = BAD[case]
    with caplog.at_level(logging.DEBUG):
        decoded = load_images({"bad.dcm": write(gray)}, (64, 64))
    assert decoded.keys == []
    message = decoded.errors["bad.dcm"]
    assert reason in message and "\n" not in message
    for value in dicom_files.IDENTIFYING.values():
        assert value not in message and value not in caplog.text


def test_pixel_limit_is_checked_from_the_header_before_decoding(gray: np.ndarray):
    """A 6000 x 6000 DICOM whose pixel data is missing: refused for its size."""
    data = dicom_files.uncompressed(gray, Rows=6000, Columns=6000)
    with pytest.raises(ImageReadError, match="image is 6000 x 6000 pixels, over"):
        decode_image(data, max_pixels=25_000_000)
    with pytest.raises(ImageReadError, match="over the limit of 100"):
        read_header(dicom_files.bundled("MR_small.dcm"), max_pixels=100)


def test_preprocessing_indexes_and_validates_dicoms_beside_jpegs(tmp_path, jpeg):
    """A raw folder with a JPEG, DICOMs (one without extension) and a report."""
    folder = tmp_path / "raw" / "Training" / "glioma_tumor"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg)
    (folder / "a.dcm").write_bytes(dicom_files.jpeg_wrapped(jpeg))
    (folder / "b").write_bytes(dicom_files.bundled("MR_small.dcm"))
    (folder / "report.dcm").write_bytes(dicom_files.bundled("reportsi.dcm"))
    raw = {
        path.relative_to(tmp_path / "raw").as_posix(): path.read_bytes
        for path in (tmp_path / "raw").rglob("*")
        if path.is_file()
    }
    manifest = index_raw_files(
        raw, CLASSES, SOURCE_GROUPS, PREPROCESSING, IMAGE_INPUT
    ).set_index("path")
    assert manifest.loc["Training/glioma_tumor/a.dcm", "format"] == "DICOM"
    assert manifest.loc["Training/glioma_tumor/b", "format"] == "DICOM"
    assert manifest.loc["Training/glioma_tumor/report.dcm", "status"] == "unreadable"
    valid, bad = validate_images(
        raw, manifest.reset_index(), PREPROCESSING, IMAGE_INPUT
    )
    assert sorted(valid["path"]) == [
        "Training/glioma_tumor/a.dcm",
        "Training/glioma_tumor/a.jpg",
        "Training/glioma_tumor/b",
    ]
    phash = valid.set_index("path")["phash"]
    assert phash["Training/glioma_tumor/a.dcm"] == phash["Training/glioma_tumor/a.jpg"]
    assert (
        "no pixel data"
        in bad.set_index("path").loc["Training/glioma_tumor/report.dcm", "reason"]
    )


# Each header byte is set to these: a length's low byte at 0xFF swallows the next
# elements into one value, 'X' makes a tag, VR or length nonsense.
MUTATIONS = (0xFF, ord("X"))
# The patient data of the fuzzed file, whole and in parts.
PHI = [
    *dicom_files.IDENTIFYING.values(),
    "Doe",
    "Quincy",
    "8675309",
    "19610704",
    "Nowhere",
    "House",
    "4242",
]


def _header_mutants(data: bytes) -> dict[str, bytes]:
    """``data`` with each byte before its pixel data set to each of ``MUTATIONS``."""
    pixels = data.rindex(b"\xe0\x7f\x10\x00")
    mutants = {}
    for position in range(pixels):
        for value in MUTATIONS:
            if data[position] != value:
                mutant = bytearray(data)
                mutant[position] = value
                mutants[f"{position}:{value}"] = bytes(mutant)
    return mutants


def test_every_one_byte_mutant_of_the_header_gets_one_line_without_patient_data(
    caplog,
):
    """Every byte before the pixel data of a file with patient data, set to 0xFF and
    to 'X': each mutant is decoded or refused with one printable line that quotes
    nothing of the patient, and nothing of the patient reaches the log or a warning."""
    data = dicom_files.uncompressed(np.arange(64, dtype=np.uint8).reshape(8, 8))
    mutants = _header_mutants(data)
    assert len(mutants) > 1000
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        decoded = load_images(mutants, (8, 8))
        headers = [_header_reason(mutant) for mutant in mutants.values()]
    assert len(decoded.keys) + len(decoded.errors) == len(mutants)
    assert decoded.errors, "some mutants must be refused"
    reasons = [*decoded.errors.values(), *filter(None, headers)]
    shown = [*reasons, caplog.text, *(str(w.message) for w in seen)]
    for text in shown:
        assert not [value for value in PHI if value in text], text
    for reason in reasons:
        assert reason.isprintable() and "Traceback" not in reason, reason


def test_a_cut_sop_class_length_quotes_no_patient_data():
    """The SOP Class UID's length set to 0xFF swallows the elements after it: the
    reason names no value of the file."""
    data = bytearray(dicom_files.uncompressed(np.zeros((8, 8), np.uint8)))
    data[data.index(b"\x08\x00\x16\x00UI") + 6] = 0xFF
    with pytest.raises(ImageReadError) as raised:
        load_rgb(bytes(data))
    reason = str(raised.value)
    assert reason.isprintable() and "outside the DICOM standard" in reason
    assert not [value for value in PHI if value in reason]


def _header_reason(data: bytes) -> str | None:
    """``read_header``'s reason for refusing ``data`` (None: read); any error other
    than ``ImageReadError`` fails the test."""
    try:
        read_header(data)
    except ImageReadError as error:
        return str(error)
    return None


@pytest.mark.parametrize("value", MUTATIONS, ids=["0xFF", "X"])
def test_a_cut_first_group_length_is_a_one_line_reason(value: int):
    """The byte at the start of the first group's value length set to 0xFF or 'X':
    the header reader that serving, the review page and preprocessing call raises
    ``ImageReadError`` with one line, not pydicom's own error."""
    data = bytearray(dicom_files.uncompressed(np.zeros((8, 8), np.uint8)))
    data[132 + 6] = value
    reason = _header_reason(bytes(data))
    assert reason is None or (reason.isprintable() and "\n" not in reason)


def test_a_12_bit_jpeg_that_libjpeg_refuses_is_one_quiet_line(caplog):
    """pydicom's JPEG-lossy.dcm has an invalid scan end in its SOS marker (its fixed
    version JPGExtended.dcm decodes): one line naming the transfer syntax, and
    pydicom's logger prints no traceback."""
    with caplog.at_level(logging.DEBUG):
        decoded = load_images(
            {"a.dcm": dicom_files.bundled("JPEG-lossy.dcm")}, SIZES[0]
        )
    reason = decoded.errors["a.dcm"]
    assert reason == (
        "corrupt or truncated DICOM pixel data, or not conformant to its transfer "
        "syntax 'JPEG Extended (Process 2 and 4)' (1.2.840.10008.1.2.4.51): no "
        "installed decoder reads it (RuntimeError)"
    )
    assert "Traceback" not in caplog.text and "libjpeg" not in caplog.text


def test_a_deflated_data_set_is_refused_while_inflating_past_its_limit(gray):
    """A 300 KB deflated file whose private element inflates to 257 MiB is refused
    before pydicom inflates it; a small deflated file is read."""
    small = dicom_files.deflated_with_private_element(gray, 1000)
    np.testing.assert_array_equal(
        load_rgb(small), load_rgb(dicom_files.uncompressed(gray))
    )
    bomb = dicom_files.deflated_with_private_element(
        gray[:8, :8], MAX_INFLATED_BYTES + 2**20
    )
    assert len(bomb) < MAX_INFLATED_BYTES // 500
    with pytest.raises(ImageReadError, match="inflates to more than 256 MiB"):
        load_rgb(bomb, (64, 64))


@pytest.mark.parametrize("stream", ["J2K", "JPEG"])
def test_a_compressed_frame_larger_than_its_header_is_refused_before_decoding(
    stream: str, gray: np.ndarray
):
    """The size in the codestream (J2K SIZ, JPEG SOF) is checked, not the header's."""

    def bomb(width: int, height: int) -> bytes:
        if stream == "J2K":
            return dicom_files.j2k_bomb(width, height)
        return dicom_files.jpeg_frames_bomb(gray, width, height)

    with pytest.raises(ImageReadError, match="frame is 16000 x 16000 pixels, over the"):
        load_rgb(bomb(16000, 16000), (64, 64))
    with pytest.raises(ImageReadError, match="frame is 600 x 600 pixels of 1 comp"):
        load_rgb(bomb(600, 600), (64, 64))
