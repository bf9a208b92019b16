"""Class names, their fixed order, and the folder names (aliases) that map to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def class_names(classes: Sequence[Mapping[str, Any]]) -> list[str]:
    """The class names in their configured order (the order of the label indices)."""
    return [entry["name"] for entry in classes]


def folder_to_class(folder: str, classes: Sequence[Mapping[str, Any]]) -> str | None:
    """The class that a folder name means (its name or an alias, ignoring case), or None."""
    key = folder.strip().lower()
    for entry in classes:
        names = [entry["name"], *entry.get("aliases", [])]
        if key in (name.lower() for name in names):
            return entry["name"]
    return None
