"""A ``LazyPipeline`` is made on first use, then is the pipeline made; a pipeline
package gives its ``create_pipeline`` on first use."""

from __future__ import annotations

import pytest
from kedro.pipeline import Pipeline, node

from brain_tumor_mri.framework.lazy_pipeline import LazyPipeline, lazy_create_pipeline
from brain_tumor_mri.pipelines import inference
from brain_tumor_mri.pipelines.inference.pipeline import create_pipeline


def double(value: int) -> int:
    return 2 * value


def small_pipeline() -> Pipeline:
    return Pipeline([node(double, "x", "y", name="double_x")])


class CountedBuild:
    """``small_pipeline``, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Pipeline:
        self.calls += 1
        return small_pipeline()


def test_nothing_is_built_until_the_pipeline_is_used():
    build = CountedBuild()
    lazy = LazyPipeline(build)
    registry = dict({"small": lazy})  # Kedro copies the registry's mapping
    assert isinstance(registry["small"], Pipeline)
    assert build.calls == 0
    assert [n.name for n in lazy.nodes] == ["double_x"]
    assert lazy.inputs() == {"x"} and lazy.outputs() == {"y"}
    assert build.calls == 1
    assert type(lazy) is Pipeline


def test_a_lazy_pipeline_adds_as_the_pipeline_it_makes():
    first = LazyPipeline(small_pipeline)
    second = LazyPipeline(lambda: Pipeline([node(double, "y", "z", name="double_y")]))
    chained = sum([first, second], start=Pipeline([]))
    assert {n.name for n in chained.nodes} == {"double_x", "double_y"}
    assert chained.inputs() == {"x"}


def test_a_build_that_makes_no_pipeline_is_refused():
    lazy = LazyPipeline(lambda: [node(double, "x", "y")])
    with pytest.raises(TypeError, match="not a Pipeline"):
        _ = lazy.nodes


def test_a_missing_attribute_is_still_an_attribute_error():
    lazy = LazyPipeline(small_pipeline)
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = lazy.no_such_thing
    assert type(lazy) is Pipeline
    assert [n.name for n in lazy.nodes] == ["double_x"]


def test_a_pipeline_package_gives_its_create_pipeline_and_nothing_else():
    assert inference.create_pipeline is create_pipeline
    assert "create_pipeline" in inference.__all__
    with pytest.raises(AttributeError, match="no attribute 'not_a_pipeline'"):
        _ = inference.not_a_pipeline
    getattr_of = lazy_create_pipeline("brain_tumor_mri.pipelines.inference")
    assert getattr_of("create_pipeline") is create_pipeline
