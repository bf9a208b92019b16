"""What the index and the validation learn about each raw file: where it sits in the
``<split>/<class>/`` layout, its size, hash and header, and what its pixels look like."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from brain_tumor_mri.core.classes import folder_to_class
from brain_tumor_mri.core.images.batches import one_line_reason
from brain_tumor_mri.core.images.colour import to_rgb8
from brain_tumor_mri.core.images.decoding import decode_image, read_header
from brain_tumor_mri.core.images.hashing import perceptual_hash
from brain_tumor_mri.core.images.limits import ImageReadError
from brain_tumor_mri.pipelines.preprocessing.shortcut_audit import (
    frame_width,
    jpeg_quality,
)

# The status of a file that is used; any other status says why a file is not.
OK = "ok"
# pHash works on a 32x32 reduction, so validation decodes JPEGs at 1/8 scale (64x64
# for a 512x512 slice): that still decodes every byte of the file, so corrupt and
# truncated files fail as they would at full size, at a fraction of the cost.
VALIDATION_DECODE_SIZE = (64, 64)


def locate(
    relative_path: str,
    split_folders: Mapping[str, str],
    classes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Split, class folder and class of a file from its path relative to the raw folder."""
    parts = PurePosixPath(relative_path).parts
    split_by_folder = {folder: split for split, folder in split_folders.items()}
    if len(parts) < 3 or parts[0] not in split_by_folder:
        return {
            "split": None,
            "class_folder": None,
            "label": None,
            "status": "ignored",
            "reason": "outside the <split>/<class>/ layout",
        }
    label = folder_to_class(parts[1], classes)
    if label is None:
        return {
            "split": split_by_folder[parts[0]],
            "class_folder": parts[1],
            "label": None,
            "status": "ignored",
            "reason": f"folder '{parts[1]}' matches no class",
        }
    return {
        "split": split_by_folder[parts[0]],
        "class_folder": parts[1],
        "label": label,
        "status": OK,
        "reason": "",
    }


def limit_per_class(located: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """At most ``limit`` usable files per split and class (None: all), and every other row."""
    if limit is None:
        return located
    usable = located["status"] == OK
    kept = located[usable].groupby(["split", "label"], group_keys=False).head(limit)
    return pd.concat([kept, located[~usable]]).sort_values("path", ignore_index=True)


def describe_file(
    data: bytes, max_pixels: int, formats: Sequence[str]
) -> dict[str, Any]:
    """Size, sha256, image header (or why it cannot be read) and JPEG quality estimate."""
    row: dict[str, Any] = {
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    try:
        row.update(read_header(data, max_pixels, formats)._asdict())
    except ImageReadError as error:
        row.update(
            width=None, height=None, mode=None, format=None, header_error=str(error)
        )
    row["jpeg_quality"] = jpeg_quality(data) if row["format"] == "JPEG" else None
    return row


def describe_entry(
    read: Callable[[], bytes], max_pixels: int, formats: Sequence[str]
) -> dict[str, Any]:
    """``describe_file`` of the bytes that ``read`` returns; for a file that cannot be
    read (a broken symbolic link, a link to itself, a link to a folder that is not
    followed: a loop or a folder listed already, ...), no size and, as its header
    error, the reason on one line."""
    try:
        data = read()
    except OSError as error:
        return {
            "size_bytes": None,
            "sha256": None,
            "width": None,
            "height": None,
            "mode": None,
            "format": None,
            "header_error": one_line_reason(error),
            "jpeg_quality": None,
        }
    return describe_file(data, max_pixels, formats)


def mark_unreadable(manifest: pd.DataFrame) -> pd.DataFrame:
    """Files that could not be read, or whose header could not be, get the status
    ``unreadable`` and the header error as their reason; typed width, height, size and
    JPEG quality columns."""
    if "header_error" not in manifest:
        manifest["header_error"] = None
    unreadable = manifest["header_error"].notna() & (manifest["status"] == OK)
    manifest.loc[unreadable, "status"] = "unreadable"
    manifest.loc[unreadable, "reason"] = manifest.loc[unreadable, "header_error"]
    manifest = manifest.drop(columns="header_error")
    integers = ["width", "height", "size_bytes"]
    manifest[integers] = manifest[integers].astype("Int64")
    manifest["jpeg_quality"] = manifest["jpeg_quality"].astype(float)
    return manifest


def inspect_pixels(
    data: bytes, max_pixels: int, formats: Sequence[str]
) -> tuple[str, float, str]:
    """``(pHash, frame width, "")`` of a file that decodes, ``("", nan, reason)`` of
    one that does not."""
    try:
        image = decode_image(
            data,
            draft_size=VALIDATION_DECODE_SIZE,
            max_pixels=max_pixels,
            formats=formats,
        )
    except ImageReadError as error:
        return "", math.nan, str(error)
    rgb = to_rgb8(image)
    return perceptual_hash(rgb), frame_width(rgb.max(axis=-1)), ""
