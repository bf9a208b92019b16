"""A pipeline package whose ``create_pipeline`` is imported on first use: reading the
package (for its ``params.py``, or to list the pipelines) imports none of its nodes,
and so no TensorFlow."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_create_pipeline(package: str) -> Callable[[str], Any]:
    """The module ``__getattr__`` (PEP 562) of the pipeline package ``package``: its
    ``create_pipeline`` is imported from its ``pipeline.py`` on first use, which is
    when Kedro's ``find_pipelines`` asks for it, so that importing the package, or its
    ``params.py``, imports none of its nodes."""

    def __getattr__(name: str) -> Any:
        if name != "create_pipeline":
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return importlib.import_module(f"{package}.pipeline").create_pipeline

    return __getattr__
