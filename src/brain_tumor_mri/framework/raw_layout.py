"""Checks that the raw data folder has the layout the pipelines expect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from brain_tumor_mri.core.classes import class_names, folder_to_class

README_SECTION = "README.md, section 'Get the data'"


class RawDataLayoutError(click.ClickException):
    """The raw data folder is missing or laid out wrongly.

    A ``ClickException`` so that ``kedro run`` prints the message alone, without a
    stack trace.
    """


def _expected_layout(
    raw_dir: Path, split_folders: Mapping[str, str], names: list[str]
) -> str:
    splits = "|".join(split_folders.values())
    return (
        f"Expected layout: {raw_dir}/{{{splits}}}/<class>/<image files>, with one "
        f"folder per class: {', '.join(names)} (or an alias listed under `classes` "
        f"in conf/base/parameters.yml). See {README_SECTION}, or point the run at "
        "another folder with `kedro run --params raw_data_dir=PATH`."
    )


def check_raw_layout(
    raw_dir: str | Path,
    split_folders: Mapping[str, str],
    classes: Sequence[Mapping[str, Any]],
) -> None:
    """Raise ``RawDataLayoutError`` unless every split has a non-empty folder per class."""
    raw_dir = Path(raw_dir)
    names = class_names(classes)
    layout = _expected_layout(raw_dir, split_folders, names)
    if raw_dir.is_file():
        raise RawDataLayoutError(
            f"The raw data folder '{raw_dir}' is a file, not a folder. {layout}"
        )
    if not raw_dir.is_dir():
        raise RawDataLayoutError(f"Raw data folder not found: '{raw_dir}'. {layout}")
    problems = []
    for split in split_folders.values():
        split_dir = raw_dir / split
        if not split_dir.is_dir():
            problems.append(f"missing split folder '{split_dir}'")
            continue
        found: dict[str, list[Path]] = {}
        for folder in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            name = folder_to_class(folder.name, classes)
            if name is not None:
                found.setdefault(name, []).append(folder)
        for name in names:
            folders = found.get(name, [])
            if not folders:
                problems.append(f"no folder for class '{name}' in '{split_dir}'")
            elif not any(f.is_file() for folder in folders for f in folder.rglob("*")):
                problems.append(f"empty class folder '{folders[0]}'")
    if problems:
        raise RawDataLayoutError(
            f"The raw data in '{raw_dir}' is incomplete: {'; '.join(problems)}. {layout}"
        )
