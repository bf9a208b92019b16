"""Pins the private attribute that ``compat/kedro_requested_pipelines.py`` reads: the
names that ``pipelines.set_requested`` stores, which ``find_pipelines`` reads first."""

from __future__ import annotations

from kedro.framework.project import configure_project, find_pipelines, pipelines

from brain_tumor_mri.compat.kedro_requested_pipelines import (
    requested_pipelines,
    requesting,
)


def test_the_names_asked_for_are_read_and_narrowed_for_find_pipelines():
    configure_project("brain_tumor_mri")
    pipelines.set_requested(["training"])
    try:
        assert requested_pipelines() == ["training"]
        with requesting(["inference"]):
            assert set(find_pipelines(raise_errors=True)) == {"inference"}
        assert requested_pipelines() == ["training"]
    finally:
        pipelines.set_requested(None)
    assert requested_pipelines() is None
