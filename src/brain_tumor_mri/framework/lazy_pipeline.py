"""A Kedro ``Pipeline`` made on first use, and a pipeline package whose
``create_pipeline`` is imported on first use: listing the registered pipelines, or
reading their parameter schemas, imports none of their nodes (and so no TensorFlow)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from kedro.pipeline import Pipeline


class LazyPipeline(Pipeline):
    """The ``Pipeline`` that ``build`` makes, made when it is first used.

    Kedro copies the whole mapping that ``register_pipelines`` returns (``dict(...)``)
    for every command that reads it, ``kedro registry list`` too, which needs only the
    names. A ``LazyPipeline`` in that mapping costs nothing until an attribute of it is
    read (``nodes``, ``inputs()``, ``+``, ...): it then calls ``build`` and becomes the
    pipeline built, a plain ``Pipeline``.
    """

    def __init__(self, build: Callable[[], Pipeline]) -> None:
        # No Pipeline.__init__: every attribute of a Pipeline is missing until the build.
        self._build = build

    def __getattr__(self, name: str) -> Any:
        """Called for a missing attribute only: builds, then reads ``name`` again."""
        build = self.__dict__.get("_build")
        if build is None:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{name}'"
            )
        built = build()
        if not isinstance(built, Pipeline):
            raise TypeError(f"{build!r} made a {type(built).__name__}, not a Pipeline.")
        self.__dict__.clear()
        self.__dict__.update(vars(built))
        self.__class__ = Pipeline
        return getattr(self, name)


def lazy_create_pipeline(package: str) -> Callable[[str], Any]:
    """The module ``__getattr__`` (PEP 562) of the pipeline package ``package``: its
    ``create_pipeline`` is imported from its ``pipeline.py`` on first use, so that
    importing the package, or its ``params.py``, imports none of its nodes."""

    def __getattr__(name: str) -> Any:
        if name != "create_pipeline":
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return importlib.import_module(f"{package}.pipeline").create_pipeline

    return __getattr__
