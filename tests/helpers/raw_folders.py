"""Small raw data folders, made by the tests, with every kind of bad file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = [
    {"name": "glioma_tumor", "aliases": ["glioma"]},
    {"name": "meningioma_tumor", "aliases": ["meningioma"]},
    {"name": "no_tumor", "aliases": ["notumor", "no"]},
    {"name": "pituitary_tumor", "aliases": ["pituitary"]},
]
PREPROCESSING = {
    "split_folders": {"train": "Training", "test": "Testing"},
    "max_images_per_class": None,
    "validation_fraction": 0.25,
    "near_duplicate_max_distance": 6,
    "workers": 2,
    "shortcut_audit": {"warn_above_majority": 0.2},
}
# The image_input group of conf/base/parameters.yml.
IMAGE_INPUT = {
    "max_image_pixels": 25_000_000,
    "image_formats": ["JPEG", "PNG", "DICOM"],
}
# The source_groups group of conf/base/parameters.yml.
SOURCE_GROUPS = {
    "rules": [{"name": "512px_source", "match": {"width": 512, "height": 512}}],
    "default": "other_source",
    "min_images": 20,
}
# The image_preprocessing group of conf/base/parameters.yml.
IMAGE_PREPROCESSING = {
    "crop_to_brain": {"enabled": True, "threshold": 0.1, "margin": 0.02},
    "intensity": None,
}


def synthetic_slice(seed: int, size: int = 64) -> np.ndarray:
    """A gray 'slice' with a few random bright blobs; different seeds look different."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size), dtype=np.float64)
    for _ in range(4):
        cy, cx = rng.uniform(0.15, 0.85, 2) * size
        radius = rng.uniform(0.05, 0.25) * size
        image += rng.uniform(80, 255) * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2
        )
    return np.clip(image, 0, 255).astype(np.uint8)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def make_raw_folder(root: Path, per_class: int = 4) -> Path:
    """Training/ and Testing/ with ``per_class`` good JPEGs per class, odd modes and bad files.

    Folder names use the aliases for two classes, so alias matching is exercised.
    """
    folders = ["glioma_tumor", "meningioma", "no_tumor", "pituitary"]
    seed = 0
    for split in ("Training", "Testing"):
        for folder in folders:
            directory = root / split / folder
            directory.mkdir(parents=True)
            for index in range(per_class):
                seed += 1
                pixels = synthetic_slice(seed)
                rgb = Image.fromarray(np.stack([pixels] * 3, axis=-1))
                (directory / f"image ({index}).jpg").write_bytes(
                    encode(rgb, "JPEG", quality=95)
                )
    train = root / "Training"
    gray = synthetic_slice(1000)
    odd = {
        "glioma_tumor/gray.png": encode(Image.fromarray(gray, "L"), "PNG"),
        "glioma_tumor/rgba.png": encode(
            Image.fromarray(np.dstack([gray] * 3 + [gray]), "RGBA"), "PNG"
        ),
        "meningioma/palette.png": encode(
            Image.fromarray(synthetic_slice(1001)).convert("P"), "PNG"
        ),
        "no_tumor/cmyk.jpg": encode(
            Image.fromarray(np.dstack([synthetic_slice(1002)] * 3)).convert("CMYK"),
            "JPEG",
        ),
        "pituitary/sixteen.png": encode(
            Image.fromarray(synthetic_slice(1003).astype(np.uint16) * 200), "PNG"
        ),
    }
    for name, data in odd.items():
        (train / name).write_bytes(data)
    good = (train / "glioma_tumor" / "image (0).jpg").read_bytes()
    (train / "glioma_tumor" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (train / "glioma_tumor" / "empty.jpg").write_bytes(b"")
    (train / "meningioma" / "notes.txt").write_text("scanner notes\n")
    (train / "meningioma" / ".DS_Store").write_bytes(
        b"\x00\x00\x00\x01Bud1" + bytes(64)
    )
    (train / "no_tumor" / "Thumbs.db").write_bytes(bytes(range(256)))
    (root / "Training" / "unknown_class").mkdir()
    (root / "Training" / "unknown_class" / "x.jpg").write_bytes(good)
    (root / "README.txt").write_text("not an image\n")
    add_duplicates(root)
    return root


def add_duplicates(root: Path) -> None:
    """An exact copy, a re-encoded near copy and a mislabelled near copy across the splits."""
    train, test = root / "Training", root / "Testing"
    source = train / "glioma_tumor" / "image (1).jpg"
    (test / "glioma_tumor" / "exact copy.jpg").write_bytes(source.read_bytes())
    near = Image.open(train / "meningioma" / "image (1).jpg").resize((60, 60))
    (test / "meningioma" / "near copy.jpg").write_bytes(
        encode(near, "JPEG", quality=70)
    )
    conflict = Image.open(train / "pituitary" / "image (2).jpg").resize((56, 56))
    (test / "no_tumor" / "mislabelled copy.jpg").write_bytes(
        encode(conflict, "JPEG", quality=80)
    )


# The symbolic links that ``add_links`` makes in a raw folder: {path: (target, the
# reason the preprocessing reports it with)}; none is followed.
LINKS = {
    "Training/glioma_tumor/loop": (
        "..",
        "cannot read the file: symbolic link loop (a link to a folder that "
        "contains it), not followed",
    ),
    "Training/glioma_tumor/self.jpg": (
        "self.jpg",
        "cannot read the file: Too many levels of symbolic links",
    ),
    "Training/glioma_tumor/sibling": (
        "../meningioma",
        "cannot read the file: symbolic link to the folder 'Training/meningioma', "
        "listed there, not followed",
    ),
    "Training/glioma_tumor/dangling.jpg": (
        "nowhere.jpg",
        "cannot read the file: No such file or directory",
    ),
}


def add_links(root: Path) -> None:
    """A link loop, a link to itself, a link to a sibling class folder and a broken
    link to a file (``LINKS``), in ``Training/glioma_tumor`` of a raw folder."""
    for path, (target, _) in LINKS.items():
        (root / path).symlink_to(target)


def hostile_formats(image: Image.Image) -> dict[str, bytes]:
    """``image`` as files of formats that Pillow reads but the project must refuse,
    keyed by file name: PostScript (EPS), GIF, TIFF, WebP and an animated PNG."""
    gray = image.convert("L")
    return {
        "scan.eps": encode(gray, "EPS"),
        "scan.gif": encode(gray, "GIF"),
        "scan.tif": encode(gray, "TIFF"),
        "scan.webp": encode(gray, "WEBP"),
        "animated.png": encode(gray, "PNG", save_all=True, append_images=[gray]),
    }


# The reason that each of ``hostile_formats`` is refused with.
HOSTILE_REASONS = {
    "scan.eps": "EPS image, not an accepted format (JPEG, PNG, DICOM;",
    "scan.gif": "GIF image, not an accepted format (JPEG, PNG, DICOM;",
    "scan.tif": "TIFF image, not an accepted format (JPEG, PNG, DICOM;",
    "scan.webp": "WEBP image, not an accepted format (JPEG, PNG, DICOM;",
    "animated.png": "PNG image of 2 frames (animated or multi-page)",
}
