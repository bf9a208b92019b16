"""The pipelines that a Kedro command asked for, read and narrowed for ``find_pipelines``.

Kedro 1.7 loads only the pipelines that a command names (``kedro run --pipelines
inference``, ``kedro registry describe inference``): the command stores them with
``pipelines.set_requested`` before it reads the registry, and ``find_pipelines`` reads
them back from the private ``pipelines._requested_pipelines``, before its own
``pipelines_to_find`` argument (kedro-org/kedro#5207, #5549, PR #5583). Only a folder
of ``pipelines/`` can be asked for that way: a name that ``register_pipelines``
composes (this project's ``training``, the chain of the stages) makes
``find_pipelines`` fail, and there is no public way to read the names asked for.
kedro-org/kedro#5550 (an explicit registry whose entries are made on demand) is where
upstream is going; until then the registry reads and narrows the filter here.
tests/compat/test_kedro_requested_pipelines.py fails when the private attribute
changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kedro.framework.project import pipelines


def requested_pipelines() -> list[str] | None:
    """The names that the running command asked for, ``None`` for every pipeline."""
    requested = pipelines._requested_pipelines  # noqa: SLF001 (no public reader)
    return None if requested is None else list(requested)


@contextmanager
def requesting(names: list[str] | None) -> Iterator[None]:
    """``find_pipelines`` finds ``names`` (``None``: every folder) inside the block,
    then the command's own request is back.

    Not ``set_requested``: that empties the registry that Kedro is filling."""
    asked = pipelines._requested_pipelines  # noqa: SLF001
    pipelines._requested_pipelines = names  # noqa: SLF001
    try:
        yield
    finally:
        pipelines._requested_pipelines = asked  # noqa: SLF001
